// Lines and totals of an invoice (docs/invoice-rules.md, "Lines and tax math"; docs/design.md §4, invariant 4): every line is
// computed by tax-line.ts; totals are sums of the lines, total = amount + tax exactly, and the total is also written
// in capitals. Errors of all lines are collected and thrown as one AppError.
import { AppError } from '../../../shared/errors.ts';
import type { InvoiceLine, InvoiceTotals, IssueInvoiceInput } from '../../../shared/invoice.ts';
import { amountInCapitals } from './amount-in-capitals.ts';
import { FieldErrors } from '../../../shared/field-errors.ts';
import { MONEY_MAX, ZERO, formatDecimal, formatMoney, negateMoney, sumMoney, type Decimal } from '../../../shared/money.ts';
import { QUANTITY_DECIMALS, computeLine, normaliseRate, type ComputedLine, type LineContext } from './tax-line.ts';

export { RATES_IN_USE, normaliseRate, type TaxRate } from './tax-line.ts';

/** Tolerance on Σ (amount × rate − supplied tax) over the invoice, as issuing platforms enforce. */
export const TOTAL_TAX_TOLERANCE = '1.27';

export interface ComputeOptions {
  /** Rates this tenant may use (any spelling, e.g. "0.130"); absent = every rate in use. */
  allowedRates?: readonly string[];
}

export interface ComputedInvoice {
  lines: InvoiceLine[];
  totals: InvoiceTotals;
}

/** Totals of computed lines: Σ amount, Σ tax, their sum, and the sum in capitals. */
export function computeTotals(lines: readonly Pick<InvoiceLine, 'amount' | 'tax'>[]): InvoiceTotals {
  const amount = sumMoney(lines.map((l) => l.amount));
  const tax = sumMoney(lines.map((l) => l.tax));
  const total = formatMoney(amount.plus(tax));
  return { amount: formatMoney(amount), tax: formatMoney(tax), total, totalInCapitals: amountInCapitals(total) };
}

function allowedSet(rates: readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (rates === undefined) return undefined;
  return new Set(
    rates.map((r) => {
      const n = normaliseRate(r);
      // A tenant's rate list is configuration, checked when it is loaded: a bad entry here is a programming error.
      if (n === undefined) throw new RangeError(`allowedRates: ${r} is not a rate in use`);
      return n;
    }),
  );
}

/**
 * Validates the lines of a blue invoice and computes them: amounts excl. tax, tax, discount lines, printed names,
 * and the totals. Throws one AppError listing every field at fault.
 */
export function computeInvoice(input: IssueInvoiceInput, opts: ComputeOptions = {}): ComputedInvoice {
  if (!Array.isArray(input.lines) || input.lines.length === 0) {
    throw new AppError('LINES_EMPTY', { field: '/lines', detail: 'An invoice needs at least one line' });
  }
  if (input.priceIncludesTax !== undefined && typeof input.priceIncludesTax !== 'boolean') {
    throw new AppError('VALIDATION_FAILED', { field: '/priceIncludesTax', detail: 'priceIncludesTax is a boolean' });
  }
  const allowed = allowedSet(opts.allowedRates);
  const ctx: LineContext = { priceIncludesTax: input.priceIncludesTax === true, ...(allowed ? { allowedRates: allowed } : {}) };
  const errs = new FieldErrors();
  const computed: ComputedLine[] = [];
  let taxDifference: Decimal = ZERO;
  input.lines.forEach((line, i) => {
    const r = computeLine(line, i, ctx, errs);
    if (!r) return;
    computed.push(...r.lines);
    if (r.taxDifference) taxDifference = taxDifference.plus(r.taxDifference);
  });
  errs.throwIfAny();
  if (taxDifference.abs().gt(TOTAL_TAX_TOLERANCE)) {
    throw new AppError('TAX_TOTAL_MISMATCH', {
      field: '/lines',
      detail: `The supplied taxes differ from Σ amount × rate by ${formatDecimal(taxDifference.abs(), 30)}, more than ${TOTAL_TAX_TOLERANCE}`,
    });
  }
  const lines: InvoiceLine[] = computed.map((l, i) => ({ lineNo: i + 1, ...l }));
  const amount = sumMoney(lines.map((l) => l.amount));
  const total = amount.plus(sumMoney(lines.map((l) => l.tax)));
  if (total.gt(MONEY_MAX)) {
    throw new AppError('AMOUNT_TOO_LARGE', { field: '/lines', detail: `The total ${formatMoney(total)} exceeds ${formatMoney(MONEY_MAX)}` });
  }
  if (!total.gt(0)) {
    throw new AppError('TOTAL_NOT_POSITIVE', { field: '/lines', detail: 'A blue invoice total must be greater than zero' });
  }
  return { lines, totals: computeTotals(lines) };
}

/**
 * The lines and totals of a red invoice reversing a whole blue one: amounts, taxes, totals and quantities negated
 * (a discount line turns positive); unit prices, rates and names unchanged; capitals with the （负数） prefix.
 */
export function negateForRed(lines: readonly InvoiceLine[], totals: InvoiceTotals): ComputedInvoice {
  const red = lines.map(
    (l): InvoiceLine => ({
      ...l,
      ...(l.quantity === undefined ? {} : { quantity: negateQuantity(l.quantity) }),
      amount: negateMoney(l.amount),
      tax: negateMoney(l.tax),
      total: negateMoney(l.total),
    }),
  );
  const total = negateMoney(totals.total);
  return {
    lines: red,
    totals: { amount: negateMoney(totals.amount), tax: negateMoney(totals.tax), total, totalInCapitals: amountInCapitals(total) },
  };
}

function negateQuantity(q: string): string {
  return formatDecimal(q.startsWith('-') ? q.slice(1) : `-${q}`, QUANTITY_DECIMALS);
}
