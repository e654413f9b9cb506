// What one row of the ERP's list says against the invoice it names (docs/architecture.md, "Reconciliation").
// Amounts are compared as integer cents, exactly: one cent off is a mismatch. Totals count rows per outcome; a row
// that differs in several ways counts once as `mismatch` and once under each way it differs.

export const OUTCOMES = ['matched', 'mismatch', 'missing-ours', 'missing-theirs', 'duplicate', 'malformed'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The filters of results: an outcome, or one way of differing. */
export const RESULT_FILTERS = [...OUTCOMES, 'amount-mismatch', 'tax-mismatch', 'date-mismatch', 'buyer-mismatch'] as const;
export type ResultFilter = (typeof RESULT_FILTERS)[number];

export interface OurInvoice {
  date: string;
  amountCents: number;
  taxCents: number;
  /** Whether the ERP's buyer tax ID is the invoice's (undefined when the row gives none). */
  buyerMatches?: boolean;
}

export interface Differences {
  amount: boolean;
  tax: boolean;
  date: boolean;
  buyer: boolean;
}

export function compare(theirs: { date: string; amountCents: number; taxCents: number }, ours: OurInvoice): { outcome: 'matched' | 'mismatch'; differs: Differences } {
  const differs: Differences = {
    amount: theirs.amountCents !== ours.amountCents,
    tax: theirs.taxCents !== ours.taxCents,
    date: theirs.date !== ours.date,
    buyer: ours.buyerMatches === false,
  };
  return { outcome: differs.amount || differs.tax || differs.date || differs.buyer ? 'mismatch' : 'matched', differs };
}

export interface ReconciliationTotals {
  rows: number;
  matched: number;
  mismatch: number;
  amountMismatch: number;
  taxMismatch: number;
  dateMismatch: number;
  buyerMismatch: number;
  missingOurs: number;
  missingTheirs: number;
  duplicate: number;
  malformed: number;
}

export function emptyTotals(): ReconciliationTotals {
  return { rows: 0, matched: 0, mismatch: 0, amountMismatch: 0, taxMismatch: 0, dateMismatch: 0, buyerMismatch: 0, missingOurs: 0, missingTheirs: 0, duplicate: 0, malformed: 0 };
}
