// Decimal-string helpers shared by the renderers. Amounts stay strings end to end: the few sums the formats need
// (UBL tax breakdown) are done in integer cents with BigInt, never through a binary float.
import type { InvoiceLine } from '../../../shared/invoice.ts';

const AMOUNT = /^(-?)(\d+)(?:\.(\d{1,2}))?$/;

/**
 * A stored invoice field a renderer cannot use. The message names the field (its JSON Pointer in the invoice), never
 * the value: errors reach the log, and an invoice carries the buyer's personal data.
 */
export class InvoiceFieldError extends Error {
  override readonly name = 'InvoiceFieldError';
  constructor(readonly field: string, problem: string) {
    super(`invoice field ${field} ${problem}`);
  }
}

/** "113.5" → 11350n; throws InvoiceFieldError naming `field` on anything but a decimal with at most 2 places. */
export function toCents(amount: string, field = 'amount'): bigint {
  const m = AMOUNT.exec(amount.trim());
  if (!m) throw new InvoiceFieldError(field, 'is not an amount with at most 2 decimals');
  const cents = BigInt(m[2]!) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -cents : cents;
}

/** 11350n → "113.50". */
export function fromCents(cents: bigint): string {
  const neg = cents < 0n;
  const abs = neg ? -cents : cents;
  const s = `${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
  return neg ? `-${s}` : s;
}

/** Flips the sign of a decimal string without touching its digits ("0.00" stays "0.00"). */
export function negate(value: string): string {
  if (value.startsWith('-')) return value.slice(1);
  if (/^[0.]*$/.test(value)) return value;
  return `-${value}`;
}

/** Absolute value of a decimal string. */
export function abs(value: string): string {
  return value.startsWith('-') ? value.slice(1) : value;
}

/** Moves the decimal point two places right: "0.13" → "13", "0.015" → "1.5", "0" → "0". */
export function ratePercent(rate: string, field = 'taxRate'): string {
  const m = /^(\d+)(?:\.(\d*))?$/.exec(rate.trim());
  if (!m) throw new InvoiceFieldError(field, 'is not a tax rate');
  const frac = (m[2] ?? '').padEnd(2, '0');
  const int = (m[1]! + frac.slice(0, 2)).replace(/^0+(?=\d)/, '');
  const rest = frac.slice(2).replace(/0+$/, '');
  return rest ? `${int}.${rest}` : int;
}

export const EXEMPTION_LABEL = { exempt: '免税', 'non-taxable': '不征税' } as const;

/** What the 税率/征收率 column shows: "13%", "0%", 免税, 不征税. */
export function rateLabel(line: Pick<InvoiceLine, 'taxRate' | 'taxExemption' | 'lineNo'>): string {
  return line.taxExemption ? EXEMPTION_LABEL[line.taxExemption] : `${ratePercent(line.taxRate, `/lines/${line.lineNo - 1}/taxRate`)}%`;
}

/** What the 税额 column shows: `***` for exempt and not-taxable lines. */
export function taxLabel(line: Pick<InvoiceLine, 'tax' | 'taxExemption'>): string {
  return line.taxExemption ? '***' : line.tax;
}

/** "2026-11-24" → "2026年11月24日". */
export function zhDate(isoDate: string): string {
  const [y, m, d] = isoDate.split('-');
  return `${y}年${m}月${d}日`;
}

/** Invoice title as printed, per type. */
export function invoiceTitle(type: 'special' | 'normal'): string {
  return type === 'special' ? '电子发票（增值税专用发票）' : '电子发票（普通发票）';
}
