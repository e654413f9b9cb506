// Masking of personal data when shown (docs/invoice-rules.md, "Parties"; docs/design.md §4, invariant 8): phone `138****5678`,
// ID number `110101********1234`, bank account `6222 **** **** 1234`. Masks count characters as code points so a
// Chinese character is one character. Short values are masked entirely rather than shown nearly whole.
import type { Invoice, Party } from '../../../shared/invoice.ts';
import { isValidIdCardNumber, isValidUscc } from './tax-id.ts';

/**
 * True when a buyer tax ID is (or may be) a natural person's: anything but a valid USCC that is not also a valid
 * ID-card number. Such a tax ID is encrypted at rest (modules/invoicing/storage/invoice-protection.ts) and masked
 * when shown; only what is stored in plaintext is shown in full.
 */
export function isPersonalTaxId(taxId: string): boolean {
  return isValidIdCardNumber(taxId) || !isValidUscc(taxId);
}

const chars = (s: string): string[] => [...s];

/** Mobile `13812345678` → `138****5678`; any phone of 8+ characters keeps its first 3 and last 4. */
export function maskPhone(phone: string): string {
  const c = chars(phone.trim());
  if (c.length < 8) return '****';
  return `${c.slice(0, 3).join('')}****${c.slice(-4).join('')}`;
}

/** `110101199003071234` → `110101********1234`: region (6) and last 4 kept; the birth date is always hidden. */
export function maskIdNumber(id: string): string {
  const c = chars(id.trim());
  if (c.length < 15) return '*'.repeat(Math.max(c.length, 4));
  return `${c.slice(0, 6).join('')}${'*'.repeat(c.length - 10)}${c.slice(-4).join('')}`;
}

/** `6222021234567891234` → `6222 **** **** 1234`: the same fixed form whatever the length, so it is not revealed. */
export function maskBankAccount(account: string): string {
  const c = chars(account.replace(/[\s-]/g, ''));
  if (c.length < 12) return `**** ${c.length > 4 ? c.slice(-4).join('') : '****'}`;
  return `${c.slice(0, 4).join('')} **** **** ${c.slice(-4).join('')}`;
}

/**
 * `zhang.san@example.com` → `z*******@example.com`: the first character of the local part and a fixed run of seven
 * stars (the local part's length is not revealed); the domain stays visible, it says where mail goes, not who.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '*******';
  const first = chars(email)[0] ?? '';
  return `${first}*******${email.slice(at)}`;
}

/** Keeps the first 6 characters (province, city, district) and hides the rest; short addresses keep half. */
export function maskAddress(address: string): string {
  const c = chars(address.trim());
  const keep = Math.min(6, Math.floor(c.length / 2));
  return `${c.slice(0, keep).join('')}****`;
}

/** A natural person's name: the first character kept (张三 → 张*, 欧阳娜娜 → 欧***). */
export function maskName(name: string): string {
  const c = chars(name.trim());
  if (c.length <= 1) return '*';
  return `${c[0] ?? ''}${'*'.repeat(c.length - 1)}`;
}

export interface MaskPartyOptions {
  /** The party is a natural person: its name is masked too. Implied by an ID-card tax ID. */
  isIndividual?: boolean;
}

/**
 * A copy of the party for display: address, phone, e-mail and bank account always masked; the bank name, a company's
 * name and a USCC stay visible. A tax ID that is a valid ID-card number is masked even when it might also be read as
 * a USCC (fail-safe: hiding a company code by mistake costs nothing, showing an ID number leaks personal data), and
 * it marks the party as a natural person. A natural person with a USCC (a 个体工商户) keeps the USCC visible. Any
 * other tax ID that is not a valid USCC (a pilot-region code accepted as an exception, an invoice stored before the
 * checks) is masked like an ID number: it is personal by isPersonalTaxId, so encrypted at rest, and the masked form
 * stored beside the envelope must not carry it whole.
 */
export function maskParty(party: Party, opts: MaskPartyOptions = {}): Party {
  const idCard = party.taxId !== undefined && isValidIdCardNumber(party.taxId);
  const individual = opts.isIndividual === true || idCard;
  const out: Party = { name: individual ? maskName(party.name) : party.name };
  if (party.taxId !== undefined) out.taxId = isPersonalTaxId(party.taxId) ? maskIdNumber(party.taxId) : party.taxId;
  if (party.address !== undefined) out.address = maskAddress(party.address);
  if (party.phone !== undefined) out.phone = maskPhone(party.phone);
  if (party.bankName !== undefined) out.bankName = party.bankName;
  if (party.bankAccount !== undefined) out.bankAccount = maskBankAccount(party.bankAccount);
  if (party.email !== undefined) out.email = maskEmail(party.email);
  return out;
}

declare const MASKED: unique symbol;

/**
 * An invoice as shown to a caller without `pii:read`: the buyer masked by maskParty, every other key in place. The
 * brand is a type only (nothing is added to the object): such an invoice is answered as it is, never masked again
 * and never given to a signature check.
 */
export type MaskedInvoice = Invoice & { readonly [MASKED]: true };

/** The invoice with its buyer masked (maskParty), every key in place. */
export function maskInvoice(invoice: Invoice): MaskedInvoice {
  return { ...invoice, buyer: maskParty(invoice.buyer) } as MaskedInvoice;
}
