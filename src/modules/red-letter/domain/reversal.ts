// What a confirmation form reverses of its blue invoice (docs/invoice-rules.md, "Red-letter invoices"): the whole
// rest, or named lines (by the blue line number, in the blue invoice's order) with a quantity and/or an amount. Never
// more than what remains unreversed per line, where every form that is not void counts (its red invoice issued or
// not). Exact decimals throughout (shared/money.ts). Pure.
import { AppError, type FieldError } from '../../../shared/errors.ts';
import type { InvoiceLine, InvoiceStatus } from '../../../shared/invoice.ts';
import { Decimal, ZERO, formatDecimal, formatMoney, isDecimalString, fractionDigits, roundHalfUp, type Decimal as D } from '../../../shared/money.ts';

/** Reason codes (*unconfirmed* on the platform, so a deployment may replace the list). */
export const DEFAULT_REASONS: Readonly<Record<string, string>> = {
  '01': '开票有误',
  '02': '销货退回',
  '03': '服务中止',
  '04': '销售折让',
};

/** Quantities carry at most this many decimals, like the blue lines (modules/invoicing/domain/tax-line.ts). */
export const QUANTITY_DECIMALS = 13;
/** Most lines a partial request may name (a blue invoice has at most as many). */
export const MAX_REQUEST_LINES = 2000;

/** One line of a partial request as the caller sends it. */
export interface ReversalLineInput {
  /** The blue line's number (1-based, as `lineNo` of the blue invoice). */
  line: number;
  quantity?: string;
  amount?: string;
}

/**
 * The part of one blue line a form reverses, with the blue line's sign (a discount line's claim is negative):
 * amount and tax in money, the quantity when one is reversed.
 */
export interface LineClaim {
  lineNo: number;
  amount: string;
  tax: string;
  quantity?: string;
}

/** What remains unreversed of one blue line. */
export interface LineRemainder {
  lineNo: number;
  amount: string;
  tax: string;
  quantity?: string;
}

type BlueLine = Pick<InvoiceLine, 'lineNo' | 'kind' | 'quantity' | 'unitPrice' | 'amount' | 'tax' | 'taxRate' | 'taxExemption'>;

export function reasonIsValid(reason: unknown, reasons: Readonly<Record<string, string>> = DEFAULT_REASONS): reason is string {
  return typeof reason === 'string' && Object.prototype.hasOwnProperty.call(reasons, reason);
}

/** Per blue line, the line minus every claim on it. */
export function remainders(blue: readonly BlueLine[], claims: readonly (readonly LineClaim[])[]): LineRemainder[] {
  const byLine = new Map<number, { amount: D; tax: D; quantity: D }>();
  for (const form of claims) {
    for (const c of form) {
      const acc = byLine.get(c.lineNo) ?? { amount: ZERO, tax: ZERO, quantity: ZERO };
      byLine.set(c.lineNo, {
        amount: acc.amount.plus(c.amount),
        tax: acc.tax.plus(c.tax),
        quantity: c.quantity === undefined ? acc.quantity : acc.quantity.plus(c.quantity),
      });
    }
  }
  return blue.map((l) => {
    const used = byLine.get(l.lineNo) ?? { amount: ZERO, tax: ZERO, quantity: ZERO };
    const r: LineRemainder = {
      lineNo: l.lineNo,
      amount: formatMoney(new Decimal(l.amount).minus(used.amount)),
      tax: formatMoney(new Decimal(l.tax).minus(used.tax)),
    };
    if (l.quantity !== undefined) r.quantity = formatDecimal(new Decimal(l.quantity).minus(used.quantity), QUANTITY_DECIMALS);
    return r;
  });
}

function isSpent(r: LineRemainder): boolean {
  return new Decimal(r.amount).isZero() && new Decimal(r.tax).isZero();
}

function describeRemainder(r: LineRemainder): string {
  return `line ${r.lineNo}: ${r.amount} (tax ${r.tax}${r.quantity === undefined ? '' : `, quantity ${r.quantity}`}) remains unreversed`;
}

/** The whole of what remains, as one claim per line that still holds something. */
function claimRest(rest: readonly LineRemainder[]): LineClaim[] {
  return rest.filter((r) => !isSpent(r)).map((r) => ({ ...r }));
}

/**
 * The claims of a new form: `lines` absent = the full rest of the invoice; else the named lines. Throws one AppError
 * listing every line at fault: RED_LETTER_LINE_INVALID (out of range, twice, a discount line, a partial reversal of
 * a discounted line, a quantity on a line without one, bad decimals) or RED_LETTER_OVER_REVERSAL (more than remains,
 * each error saying what remains).
 */
export function planReversal(
  blue: readonly BlueLine[],
  prior: readonly (readonly LineClaim[])[],
  lines: readonly ReversalLineInput[] | undefined,
): LineClaim[] {
  const rest = remainders(blue, prior);
  if (lines === undefined) {
    const all = claimRest(rest);
    if (all.length === 0) {
      throw new AppError('RED_LETTER_OVER_REVERSAL', { field: '/invoiceNumber', detail: 'Nothing of the invoice remains unreversed' });
    }
    return all;
  }
  const errors: FieldError[] = [];
  const fail = (code: 'RED_LETTER_LINE_INVALID' | 'RED_LETTER_OVER_REVERSAL', path: string, message: string): void => {
    errors.push({ code, path, message });
  };
  if (lines.length === 0) fail('RED_LETTER_LINE_INVALID', '/lines', 'Name at least one line, or leave lines out for a full reversal');
  if (lines.length > MAX_REQUEST_LINES) fail('RED_LETTER_LINE_INVALID', '/lines', `At most ${MAX_REQUEST_LINES} lines`);
  const claims: LineClaim[] = [];
  const seen = new Set<number>();
  lines.forEach((req, i) => {
    const at = `/lines/${i}`;
    const idx = Number.isSafeInteger(req.line) ? blue.findIndex((l) => l.lineNo === req.line) : -1;
    if (idx < 0) return fail('RED_LETTER_LINE_INVALID', `${at}/line`, `The invoice has no line ${String(req.line)} (lines 1 to ${blue.length})`);
    if (seen.has(req.line)) return fail('RED_LETTER_LINE_INVALID', `${at}/line`, `Line ${req.line} is named twice`);
    seen.add(req.line);
    const b = blue[idx]!;
    const r = rest[idx]!;
    if (b.kind === 'discount') {
      return fail('RED_LETTER_LINE_INVALID', `${at}/line`, `Line ${req.line} is a discount line: name the line it discounts`);
    }
    const discount = blue[idx + 1]?.kind === 'discount' ? { b: blue[idx + 1]!, r: rest[idx + 1]! } : undefined;

    let quantity: D | undefined;
    if (req.quantity !== undefined) {
      if (b.quantity === undefined) return fail('RED_LETTER_LINE_INVALID', `${at}/quantity`, `Line ${req.line} has no quantity`);
      if (!isDecimalString(req.quantity) || req.quantity.startsWith('-') || fractionDigits(req.quantity) > QUANTITY_DECIMALS || req.quantity.length > 40) {
        return fail('RED_LETTER_LINE_INVALID', `${at}/quantity`, `A quantity is a positive decimal with at most ${QUANTITY_DECIMALS} decimals`);
      }
      quantity = new Decimal(req.quantity);
      if (!quantity.gt(0)) return fail('RED_LETTER_LINE_INVALID', `${at}/quantity`, 'A quantity must be greater than zero');
    }
    let amount: D | undefined;
    if (req.amount !== undefined) {
      if (!isDecimalString(req.amount) || req.amount.startsWith('-') || fractionDigits(req.amount) > 2 || req.amount.length > 20) {
        return fail('RED_LETTER_LINE_INVALID', `${at}/amount`, 'An amount is a positive decimal with at most 2 decimals');
      }
      amount = new Decimal(req.amount);
      if (!amount.gt(0)) return fail('RED_LETTER_LINE_INVALID', `${at}/amount`, 'An amount must be greater than zero');
    }
    const remA = new Decimal(r.amount);
    const remQ = r.quantity === undefined ? undefined : new Decimal(r.quantity);
    if (isSpent(r)) return fail('RED_LETTER_OVER_REVERSAL', `${at}/line`, `Line ${req.line} is reversed in full already`);
    if (quantity !== undefined && remQ !== undefined && quantity.gt(remQ)) {
      return fail('RED_LETTER_OVER_REVERSAL', `${at}/quantity`, describeRemainder(r));
    }
    if (amount !== undefined && amount.gt(remA)) return fail('RED_LETTER_OVER_REVERSAL', `${at}/amount`, describeRemainder(r));

    // Neither given: the whole rest of the line. A quantity alone: its amount at the unit price, or the rest when it
    // takes the rest of the quantity.
    if (amount === undefined && quantity === undefined) amount = remA;
    else if (amount === undefined && quantity !== undefined) {
      if (remQ !== undefined && quantity.eq(remQ)) amount = remA;
      else if (b.unitPrice !== undefined) amount = roundHalfUp(quantity.times(b.unitPrice), 2);
      else return fail('RED_LETTER_LINE_INVALID', `${at}/amount`, `Line ${req.line} has no unit price: give the amount`);
      if (amount.gt(remA) || (amount.eq(remA) && remQ !== undefined && quantity.lt(remQ))) {
        return fail('RED_LETTER_OVER_REVERSAL', `${at}/quantity`, describeRemainder(r));
      }
      if (!amount.gt(0)) return fail('RED_LETTER_LINE_INVALID', `${at}/quantity`, 'The quantity reverses less than 0.01');
    }
    const full = amount!.eq(remA);
    if (discount && !(full && (quantity === undefined || remQ === undefined || quantity.eq(remQ)))) {
      return fail('RED_LETTER_LINE_INVALID', `${at}/line`, `Line ${req.line} carries a discount (line ${discount.b.lineNo}): it can only be reversed in full`);
    }
    const remT = new Decimal(r.tax);
    let tax: D;
    if (full) tax = remT;
    else {
      tax = b.taxExemption !== undefined ? ZERO : roundHalfUp(amount!.times(b.taxRate), 2);
      // A blue tax supplied within the tolerance may be below amount × rate: never take more tax than remains.
      if (tax.gt(remT)) tax = remT;
      if (tax.lt(0)) tax = ZERO;
    }
    const claim: LineClaim = { lineNo: b.lineNo, amount: formatMoney(amount!), tax: formatMoney(tax) };
    const q = quantity ?? (full && remQ !== undefined ? remQ : undefined);
    if (q !== undefined && !q.isZero()) claim.quantity = formatDecimal(q, QUANTITY_DECIMALS);
    claims.push(claim);
    if (discount && !isSpent(discount.r)) claims.push({ ...discount.r });
  });
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new AppError(first.code, { detail: first.message, errors });
  }
  return claims.sort((a, b) => a.lineNo - b.lineNo);
}

/**
 * The lines of the red invoice of `claims`: each blue line's name, code, rate and unit price with the claim negated
 * (a discount line's claim turns positive), numbered from 1. A line reversed without a quantity (an amount only, as
 * for 销售折让) carries neither quantity nor unit price. Totals are the invoicing module's (computeTotals).
 */
export function redLines(blue: readonly InvoiceLine[], claims: readonly LineClaim[]): InvoiceLine[] {
  return claims.map((c, i): InvoiceLine => {
    const b = blue.find((l) => l.lineNo === c.lineNo);
    if (!b) throw new RangeError(`no blue line ${c.lineNo}`);
    const { quantity: _q, unitPrice: _p, ...rest } = b;
    const amount = new Decimal(c.amount).neg();
    const tax = new Decimal(c.tax).neg();
    return {
      ...rest,
      lineNo: i + 1,
      ...(c.quantity === undefined ? {} : { quantity: formatDecimal(new Decimal(c.quantity).neg(), QUANTITY_DECIMALS) }),
      ...(c.quantity === undefined || b.unitPrice === undefined ? {} : { unitPrice: b.unitPrice }),
      amount: formatMoney(amount),
      tax: formatMoney(tax),
      total: formatMoney(amount.plus(tax)),
    };
  });
}

/** The blue invoice's status once the red invoices of `issued` exist. */
export function blueStatus(blue: readonly BlueLine[], issued: readonly (readonly LineClaim[])[]): InvoiceStatus {
  if (issued.length === 0) return 'normal';
  return remainders(blue, issued).every(isSpent) ? 'red-flushed' : 'red-flushed-partial';
}

/** The claims summed: amount and tax, as money (positive for a reversal of positive lines). */
export function claimTotals(claims: readonly LineClaim[]): { amount: string; tax: string; total: string } {
  let amount = ZERO;
  let tax = ZERO;
  for (const c of claims) {
    amount = amount.plus(c.amount);
    tax = tax.plus(c.tax);
  }
  return { amount: formatMoney(amount), tax: formatMoney(tax), total: formatMoney(amount.plus(tax)) };
}

/** A request's lines in one spelling (sorted by line, decimals normalised), to recognise the same form filed again. */
export function normaliseRequestLines(lines: readonly ReversalLineInput[] | undefined): string {
  if (lines === undefined) return 'full';
  const norm = lines
    .map((l) => ({
      line: l.line,
      ...(l.quantity !== undefined && isDecimalString(l.quantity) ? { quantity: formatDecimal(l.quantity, 40) } : {}),
      ...(l.amount !== undefined && isDecimalString(l.amount) ? { amount: formatMoney(l.amount) } : {}),
    }))
    .sort((a, b) => a.line - b.line);
  return JSON.stringify(norm);
}
