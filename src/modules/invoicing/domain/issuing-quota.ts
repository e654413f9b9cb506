// The issuing quota (授信额度, docs/invoice-rules.md "Issuing quota"): the tax authority grants each taxpayer an upper
// limit on the total amount excluding VAT (`totals.amount`) it may invoice in one natural month. Months are those of
// China Standard Time, like the issue date printed on the invoice, so an invoice issued at 2026-11-30T16:00:00Z
// (00:00 on 1 December in Shanghai) counts against December.
//
// Amounts here are integer cents as bigint: exact, and what the storage's guard compares in SQL.
import { chinaDate } from '../../../shared/china-time.ts';
import { Decimal, formatMoney, toCents } from '../../../shared/money.ts';

/** `YYYY-MM` of the instant in UTC+8: the quota period an invoice issued then counts against. */
export function quotaPeriod(at: Date): string {
  return chinaDate(at).slice(0, 7);
}

/** The quota period of a stored invoice, from its issue date (`YYYY-MM-DD`, already UTC+8). */
export function periodOfIssueDate(issueDate: string): string {
  return issueDate.slice(0, 7);
}

/**
 * What an invoice uses of its tenant's quota: its amount excluding VAT, in cents. A red-letter invoice carries a
 * negative amount and so gives quota back (the storage guard lets non-positive charges through unconditionally).
 */
export function quotaCharge(amountExcludingTax: string): bigint {
  return toCents(amountExcludingTax);
}

/** Integer cents → `"1000.00"`. */
export function centsToMoney(cents: bigint): string {
  return formatMoney(new Decimal(cents.toString()).div(100));
}

export interface QuotaState {
  /** The monthly quota in cents; null = unlimited. */
  quotaCents: bigint | null;
  /** Used in the period so far, in cents (committed invoices only). */
  usedCents: bigint;
}

/** What is left of the quota, never below zero (a quota lowered below usage leaves nothing); null = unlimited. */
export function remainingCents(state: QuotaState): bigint | null {
  if (state.quotaCents === null) return null;
  const left = state.quotaCents - state.usedCents;
  return left > 0n ? left : 0n;
}

/** Whether a charge fits: unlimited, non-positive (gives back), or within what is left after `pending`. */
export function fitsQuota(state: QuotaState, pendingCents: bigint, chargeCents: bigint): boolean {
  if (state.quotaCents === null || chargeCents <= 0n) return true;
  return state.usedCents + pendingCents + chargeCents <= state.quotaCents;
}
