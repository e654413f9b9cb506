// Money and other exact decimals. Amounts, quantities, prices and rates are decimal strings that never pass through a
// binary float (docs/invoice-rules.md, "Lines and tax math"); every computation goes through the local Decimal clone below.
import { Decimal as DecimalJs } from 'decimal.js';
import { AppError, type ErrorCode } from './errors.ts';

/**
 * A private clone so that no other module's Decimal configuration can change ours. 64 significant digits hold the
 * widest exact product we form (a 12-digit quantity with 13 decimals × a 12-digit unit price with 13 decimals = 50
 * digits) without rounding; ROUND_HALF_UP is the rule for tax and for the 含税 split (docs/invoice-rules.md). The exponent
 * thresholds keep toString() in plain notation for every value we can hold.
 */
export const Decimal = DecimalJs.clone({
  precision: 64,
  rounding: DecimalJs.ROUND_HALF_UP,
  toExpNeg: -64,
  toExpPos: 64,
});
export type Decimal = DecimalJs;
/** Decimal inputs: a decimal string or a Decimal; never a JS number. */
export type Decimalish = string | Decimal;

/** The largest |amount| we accept or produce: 12 integer digits (999 999 999 999.99), far above any invoice. */
export const MONEY_MAX = new Decimal('999999999999.99');
/** Strict decimal syntax: optional '-', digits, optional '.' and digits. No exponent, '+', spaces or bare '.5'. */
export const DECIMAL_PATTERN = /^-?\d+(?:\.\d+)?$/;

export const ZERO = new Decimal(0);

export function isDecimalString(s: unknown): s is string {
  return typeof s === 'string' && DECIMAL_PATTERN.test(s);
}

/** Number of digits after the point as written ("1.50" → 2, "3" → 0). */
export function fractionDigits(s: string): number {
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

export interface ParseDecimalOptions {
  /** JSON Pointer of the field, for the error. */
  field?: string;
  /** Most digits allowed after the point (as written). Default: no limit. */
  maxDecimals?: number;
  /** Error code for bad syntax or too many decimals. Default AMOUNT_INVALID. */
  code?: ErrorCode;
  /** Default false: a '-' sign is refused. */
  allowNegative?: boolean;
  /** Largest |value| allowed; beyond it AMOUNT_TOO_LARGE. Default MONEY_MAX. */
  max?: Decimal;
}

/** Parses a decimal string strictly, or throws AppError with `field` set. */
export function parseDecimal(s: unknown, opts: ParseDecimalOptions = {}): Decimal {
  const code = opts.code ?? 'AMOUNT_INVALID';
  const fail = (detail: string): never => {
    throw new AppError(code, { detail, ...(opts.field === undefined ? {} : { field: opts.field }) });
  };
  if (!isDecimalString(s)) return fail(`${describe(s)} is not a plain decimal string such as "113.00"`);
  if (opts.maxDecimals !== undefined && fractionDigits(s) > opts.maxDecimals) {
    return fail(`"${s}" has more than ${opts.maxDecimals} decimal places`);
  }
  if (!opts.allowNegative && s.startsWith('-')) return fail(`"${s}" must not be negative`);
  const d = new Decimal(s);
  if (d.abs().gt(opts.max ?? MONEY_MAX)) {
    throw new AppError('AMOUNT_TOO_LARGE', {
      detail: `"${s}" exceeds ${(opts.max ?? MONEY_MAX).toString()}`,
      ...(opts.field === undefined ? {} : { field: opts.field }),
    });
  }
  return d;
}

/** An amount of money: at most 2 decimals (cents), |x| ≤ MONEY_MAX. */
export function parseMoney(s: unknown, field?: string, allowNegative = false): Decimal {
  return parseDecimal(s, { maxDecimals: 2, allowNegative, ...(field === undefined ? {} : { field }) });
}

function describe(s: unknown): string {
  return typeof s === 'string' ? JSON.stringify(s) : `a ${s === null ? 'null' : typeof s}`;
}

function toDecimal(v: Decimalish): Decimal {
  return typeof v === 'string' ? new Decimal(v) : v;
}

/** Rounds half away from zero (0.125 → 0.13, −0.125 → −0.13), the platform's rounding for tax. */
export function roundHalfUp(v: Decimalish, dp = 2): Decimal {
  return toDecimal(v).toDecimalPlaces(dp, Decimal.ROUND_HALF_UP);
}

/** Exactly two decimals, plain notation, no negative zero: "113.00", "-0.50", "0.00". */
export function formatMoney(v: Decimalish): string {
  const d = roundHalfUp(v, 2);
  return d.isZero() ? '0.00' : d.toFixed(2);
}

/**
 * A quantity or unit price: rounded half-up to at most `maxDecimals` places, trailing zeros trimmed, plain notation
 * ("2.50" → "2.5", "100.000" → "100").
 */
export function formatDecimal(v: Decimalish, maxDecimals = 13): string {
  const d = roundHalfUp(v, maxDecimals);
  return d.isZero() ? '0' : d.toFixed();
}

export function compareMoney(a: Decimalish, b: Decimalish): -1 | 0 | 1 {
  const c = toDecimal(a).cmp(toDecimal(b));
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

export function sumMoney(values: readonly Decimalish[]): Decimal {
  let acc = ZERO;
  for (const v of values) acc = acc.plus(toDecimal(v));
  return acc;
}

/** Negates a 2-decimal money string without producing "-0.00". */
export function negateMoney(v: Decimalish): string {
  return formatMoney(toDecimal(v).neg());
}

/** DECIMAL_PATTERN with at most 2 decimals and 12 integer digits after leading zeros: every such amount is ≤ MONEY_MAX. */
const CENTS = /^(-?)0*(\d{1,12})(?:\.(\d{1,2}))?$/;

/** Exact integer cents of a money string (≤ 2 decimals), for comparisons and range queries. */
export function toCents(s: unknown, field?: string): bigint {
  // A well-formed amount without a Decimal (查验 compares two per request): what the path below gives for it.
  const m = typeof s === 'string' ? CENTS.exec(s) : null;
  if (m) {
    const cents = BigInt(m[2]! + (m[3] ?? '').padEnd(2, '0'));
    return m[1] ? -cents : cents;
  }
  const d = parseMoney(s, field, true);
  return BigInt(d.times(100).toFixed(0));
}
