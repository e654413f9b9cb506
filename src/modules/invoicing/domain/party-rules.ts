// Rules on the parties and free texts of an invoice (docs/invoice-rules.md, "Types" and "Parties"):
// - a special invoice (专票) needs the buyer's name and a unified social credit code (GB 32100-2015);
// - an ordinary invoice (普票) needs the buyer's name; a tax ID is optional (a natural person may give none) but when
//   present must be a USCC or an 18-character ID-card number (GB 11643);
// - texts have length limits (below) and follow the text rules (text-rules.ts: no controls, lone surrogates or
//   noncharacters, which could not be stored, signed or rendered; remarks may hold line breaks);
// - the buyer is not the seller itself (same tax ID), unless the deployment allows it (issuing.allowBuyerIsSeller).
// Errors of every field are collected into one AppError (field-errors.ts).
import type { IssueInvoiceInput, Party } from '../../../shared/invoice.ts';
import { FieldErrors, textLength } from '../../../shared/field-errors.ts';
import { validateTaxId, type TaxIdKind } from './tax-id.ts';
import { isAllowedText, TEXT_RULE_MESSAGE } from '../../../shared/text-rules.ts';

/**
 * Our limits, in characters (a Chinese character counts as one). The platform does not publish all of them; these are
 * generous for real names and addresses. Remarks: 230 characters, the platform's 备注 limit as vendor APIs state it.
 */
export const TEXT_LIMITS = {
  name: 100,
  address: 200,
  phone: 40,
  bankName: 100,
  bankAccount: 50,
  email: 254, // RFC 5321's limit on a path
  remarks: 230,
  issuer: 50,
} as const;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface PartyRulesOptions {
  /** Legal USCCs that fail the checksum, accepted as written (test/vectors/uscc.json, legalButFailsChecksum). */
  taxIdExceptions?: readonly string[];
  /** The seller's tax ID: a buyer with the same one is refused (BUYER_IS_SELLER) unless allowBuyerIsSeller. */
  sellerTaxId?: string;
  allowBuyerIsSeller?: boolean;
}

export interface PartyRulesResult {
  /** What the buyer's tax ID is, when it has one: an 'id-card' buyer is a natural person (mask its data). */
  buyerTaxIdKind?: TaxIdKind;
}

function text(errs: FieldErrors, path: string, v: unknown, max: number, opts: { required?: boolean; newlines?: boolean } = {}): void {
  if (v === undefined || v === null) {
    if (opts.required) errs.add('VALIDATION_FAILED', path, 'This field is required');
    return;
  }
  if (typeof v !== 'string') errs.add('VALIDATION_FAILED', path, 'Must be a string');
  else if (opts.required && v.trim() === '') errs.add('VALIDATION_FAILED', path, 'This field is required');
  else if (textLength(v) > max) errs.add('VALIDATION_FAILED', path, `At most ${max} characters`);
  else if (!isAllowedText(v, { multiline: opts.newlines === true })) errs.add('TEXT_INVALID', path, TEXT_RULE_MESSAGE[opts.newlines ? 'multi' : 'single']);
}

/** Checks a party's texts (not its tax ID); `base` is its JSON Pointer, e.g. `/buyer`. */
function partyTexts(errs: FieldErrors, base: string, p: Party): void {
  text(errs, `${base}/name`, p.name, TEXT_LIMITS.name, { required: true });
  text(errs, `${base}/address`, p.address, TEXT_LIMITS.address);
  text(errs, `${base}/phone`, p.phone, TEXT_LIMITS.phone);
  text(errs, `${base}/bankName`, p.bankName, TEXT_LIMITS.bankName);
  text(errs, `${base}/bankAccount`, p.bankAccount, TEXT_LIMITS.bankAccount);
  const before = errs.count;
  text(errs, `${base}/email`, p.email, TEXT_LIMITS.email);
  if (errs.count === before && typeof p.email === 'string' && !EMAIL.test(p.email)) {
    errs.add('VALIDATION_FAILED', `${base}/email`, 'Not an e-mail address');
  }
}

/** Checks the buyer, remarks and issuer of an invoice to issue; throws one AppError listing every field at fault. */
export function checkParties(input: IssueInvoiceInput, opts: PartyRulesOptions = {}): PartyRulesResult {
  const errs = new FieldErrors();
  const result: PartyRulesResult = {};
  const buyer = input.buyer as Party | undefined;
  if (typeof buyer !== 'object' || buyer === null) {
    errs.add('VALIDATION_FAILED', '/buyer', 'The buyer is required');
  } else {
    partyTexts(errs, '/buyer', buyer);
    // An empty string is what many ERPs send for "no tax ID": treated as absent.
    const taxId = buyer.taxId === '' ? undefined : buyer.taxId;
    if (taxId === undefined || taxId === null) {
      if (input.type === 'special') errs.add('BUYER_TAX_ID_REQUIRED', '/buyer/taxId', 'A special VAT invoice requires the buyer tax ID');
    } else {
      const kinds: TaxIdKind[] = input.type === 'special' ? ['uscc'] : ['uscc', 'id-card'];
      const kind = errs.capture('/buyer/taxId', () => validateTaxId(taxId, { kinds, field: '/buyer/taxId', exceptions: opts.taxIdExceptions ?? [] }));
      if (kind !== undefined) result.buyerTaxIdKind = kind;
      // An invoice to oneself records no sale: it is almost always the wrong party picked from an address book, so it
      // is refused unless the deployment says it issues such invoices on purpose.
      if (kind !== undefined && opts.sellerTaxId !== undefined && taxId === opts.sellerTaxId && opts.allowBuyerIsSeller !== true) {
        errs.add('BUYER_IS_SELLER', '/buyer/taxId', "The buyer's tax ID is the seller's own");
      }
    }
  }
  text(errs, '/remarks', input.remarks, TEXT_LIMITS.remarks, { newlines: true });
  text(errs, '/issuer', input.issuer, TEXT_LIMITS.issuer, { required: true });
  errs.throwIfAny();
  return result;
}

/** Checks a seller (a tenant's registered party): name and a valid USCC required. */
export function checkSeller(seller: Party, opts: PartyRulesOptions = {}): void {
  const errs = new FieldErrors();
  partyTexts(errs, '/seller', seller);
  if (seller.taxId === undefined || seller.taxId === '') errs.add('VALIDATION_FAILED', '/seller/taxId', 'The seller tax ID is required');
  else errs.capture('/seller/taxId', () => validateTaxId(seller.taxId ?? '', { kinds: ['uscc'], field: '/seller/taxId', exceptions: opts.taxIdExceptions ?? [] }));
  errs.throwIfAny();
}
