// One invoice line: validation and tax math (docs/invoice-rules.md, "Lines and tax math").
//   excl. tax: tax = round_half_up(amount × rate, 2); |quantity × unitPrice − amount| ≤ 0.01
//   incl. tax (含税): amount = round_half_up(gross / (1 + rate), 2); tax = gross − amount
//   caller's tax: |amount × rate − tax| ≤ 0.06 per line (the invoice-wide 1.27 is checked in tax.ts)
//   discount (折扣行): a negative line directly after, same name, tax code and rate; the net may not go negative
//   texts: name, shortName, spec and unit are single-line text (text-rules.ts)
import type { InvoiceLine, LineInput } from '../../../shared/invoice.ts';
import { FieldErrors, textLength } from '../../../shared/field-errors.ts';
import { PRINTED_NAME_PATTERN, TAX_CODE_PATTERN, shortNameForTaxCode } from './tax-codes.ts';
import { Decimal, formatDecimal, formatMoney, parseDecimal, parseMoney, roundHalfUp } from '../../../shared/money.ts';
import { isAllowedText, TEXT_RULE_MESSAGE } from '../../../shared/text-rules.ts';

/** Rates in use, canonical spelling. "0" is zero-rated; exempt and not-taxable lines also carry "0". */
export const RATES_IN_USE = ['0.13', '0.09', '0.06', '0.05', '0.03', '0.01', '0'] as const;
export type TaxRate = (typeof RATES_IN_USE)[number];

/** Digits after the point kept in a quantity or unit price (the platform's 13). */
export const QUANTITY_DECIMALS = 13;
export const LINE_TAX_TOLERANCE = new Decimal('0.06');
const AMOUNT_TOLERANCE = new Decimal('0.01');
/** Our limits on line texts, in characters (not bytes): generous for real goods, small enough for the printed form. */
export const LINE_LIMITS = { name: 100, shortName: 20, spec: 40, unit: 20 } as const;

/** "0.130" → "0.13", "0.00" → "0"; undefined when the value is not a rate in use. */
export function normaliseRate(rate: string): TaxRate | undefined {
  if (!/^\d+(?:\.\d+)?$/.test(rate)) return undefined;
  const d = new Decimal(rate);
  return RATES_IN_USE.find((r) => d.eq(r));
}

export type ComputedLine = Omit<InvoiceLine, 'lineNo'>;
export interface LineResult {
  lines: ComputedLine[];
  /** amount × rate − supplied tax, when the caller supplied a tax. */
  taxDifference?: Decimal;
}

export interface LineContext {
  priceIncludesTax: boolean;
  /** Canonical rates this tenant may use; undefined = all rates in use. */
  allowedRates?: ReadonlySet<string>;
}

function optionalText(errs: FieldErrors, path: string, v: unknown, max: number): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || textLength(v) > max) {
    errs.add('VALIDATION_FAILED', path, `Must be a string of at most ${max} characters`);
    return undefined;
  }
  if (!isAllowedText(v)) {
    errs.add('TEXT_INVALID', path, TEXT_RULE_MESSAGE.single);
    return undefined;
  }
  return v;
}

function printedName(errs: FieldErrors, p: string, line: LineInput): string | undefined {
  const { name, shortName, taxCode } = line;
  if (typeof name !== 'string' || name.trim() === '') {
    errs.add('VALIDATION_FAILED', `${p}/name`, 'The item name is required');
    return undefined;
  }
  if (!isAllowedText(name)) {
    errs.add('TEXT_INVALID', `${p}/name`, TEXT_RULE_MESSAGE.single);
    return undefined;
  }
  if (shortName !== undefined && typeof shortName === 'string' && !isAllowedText(shortName)) {
    errs.add('TEXT_INVALID', `${p}/shortName`, TEXT_RULE_MESSAGE.single);
    return undefined;
  }
  let printed: string;
  if (PRINTED_NAME_PATTERN.test(name)) {
    printed = name; // already `*简称*名称`: kept as sent
  } else if (name.startsWith('*')) {
    errs.add('VALIDATION_FAILED', `${p}/name`, 'A name starting with * must have the form *简称*名称');
    return undefined;
  } else {
    if (shortName !== undefined && (typeof shortName !== 'string' || !/^[^*]+$/.test(shortName) || shortName.trim() === '' || textLength(shortName) > LINE_LIMITS.shortName)) {
      errs.add('VALIDATION_FAILED', `${p}/shortName`, `shortName must be 1–${LINE_LIMITS.shortName} characters without *`);
      return undefined;
    }
    const short = shortName ?? (TAX_CODE_PATTERN.test(taxCode) ? shortNameForTaxCode(taxCode) : undefined);
    if (short === undefined) {
      if (TAX_CODE_PATTERN.test(taxCode)) {
        errs.add('SHORT_NAME_REQUIRED', `${p}/shortName`, `Tax code ${taxCode} is not in the built-in table: send shortName (简称)`);
      }
      return undefined;
    }
    printed = `*${short}*${name}`;
  }
  if (textLength(printed) > LINE_LIMITS.name) {
    errs.add('VALIDATION_FAILED', `${p}/name`, `The printed name *简称*名称 exceeds ${LINE_LIMITS.name} characters`);
    return undefined;
  }
  return printed;
}

function lineRate(errs: FieldErrors, p: string, line: LineInput, ctx: LineContext): TaxRate | undefined {
  if (line.taxExemption !== undefined) {
    if (line.taxExemption !== 'exempt' && line.taxExemption !== 'non-taxable') {
      errs.add('VALIDATION_FAILED', `${p}/taxExemption`, 'taxExemption is "exempt" or "non-taxable"');
      return undefined;
    }
    // Exemption is not a rate: the tenant's rate list does not restrict it. A rate sent alongside must be zero.
    if (line.taxRate !== undefined && normaliseRate(line.taxRate) !== '0') {
      errs.add('TAX_RATE_NOT_ALLOWED', `${p}/taxRate`, 'An exempt or not-taxable line has rate 0');
      return undefined;
    }
    return '0';
  }
  if (line.taxRate === undefined) {
    errs.add('VALIDATION_FAILED', `${p}/taxRate`, 'taxRate or taxExemption is required');
    return undefined;
  }
  const rate = typeof line.taxRate === 'string' ? normaliseRate(line.taxRate) : undefined;
  if (rate === undefined || (ctx.allowedRates && !ctx.allowedRates.has(rate))) {
    errs.add('TAX_RATE_NOT_ALLOWED', `${p}/taxRate`, `Rate ${String(line.taxRate)} is not in use or not allowed for this tenant`);
    return undefined;
  }
  return rate;
}

function positive(errs: FieldErrors, path: string, parse: () => Decimal, code: 'AMOUNT_INVALID' | 'QUANTITY_INVALID'): Decimal | undefined {
  const d = errs.capture(path, parse);
  if (d !== undefined && !d.gt(0)) {
    errs.add(code, path, 'Must be greater than zero');
    return undefined;
  }
  return d;
}

/** Splits a basis amount (excl. or incl. tax per ctx) into amount excl. tax and tax, both to the cent. */
function split(basis: Decimal, rate: Decimal, includesTax: boolean): { amount: Decimal; tax: Decimal } {
  if (!includesTax) return { amount: basis, tax: roundHalfUp(basis.times(rate)) };
  const amount = roundHalfUp(basis.div(rate.plus(1)));
  return { amount, tax: basis.minus(amount) };
}

/** Validates and computes line `i`; its errors go to `errs` (undefined is returned when there are any). */
export function computeLine(line: LineInput, i: number, ctx: LineContext, errs: FieldErrors): LineResult | undefined {
  const p = `/lines/${i}`;
  if (typeof line !== 'object' || line === null) {
    errs.add('VALIDATION_FAILED', p, 'A line is an object');
    return undefined;
  }
  const before = errs.count;
  const name = printedName(errs, p, line);
  if (typeof line.taxCode !== 'string' || !TAX_CODE_PATTERN.test(line.taxCode)) {
    errs.add('TAX_CODE_INVALID', `${p}/taxCode`, 'The tax classification code must be 19 digits');
  }
  const spec = optionalText(errs, `${p}/spec`, line.spec, LINE_LIMITS.spec);
  const unit = optionalText(errs, `${p}/unit`, line.unit, LINE_LIMITS.unit);
  const rate = lineRate(errs, p, line, ctx);
  const basis = positive(errs, `${p}/amount`, () => parseMoney(line.amount, `${p}/amount`), 'AMOUNT_INVALID');
  const qOpts = { maxDecimals: QUANTITY_DECIMALS, code: 'QUANTITY_INVALID' } as const;
  const quantity = line.quantity === undefined ? undefined : positive(errs, `${p}/quantity`, () => parseDecimal(line.quantity, { ...qOpts, field: `${p}/quantity` }), 'QUANTITY_INVALID');
  const price = line.unitPrice === undefined ? undefined : positive(errs, `${p}/unitPrice`, () => parseDecimal(line.unitPrice, { ...qOpts, field: `${p}/unitPrice` }), 'QUANTITY_INVALID');
  const supplied = line.tax === undefined ? undefined : errs.capture(`${p}/tax`, () => parseMoney(line.tax, `${p}/tax`));
  const discount = line.discount === undefined ? undefined : errs.capture(`${p}/discount`, () => parseMoney(line.discount, `${p}/discount`));
  if (basis && quantity && price && quantity.times(price).minus(basis).abs().gt(AMOUNT_TOLERANCE)) {
    errs.add('AMOUNT_MISMATCH', `${p}/amount`, `quantity × unitPrice = ${formatDecimal(quantity.times(price), 30)} differs from the amount by more than 0.01`);
  }
  if (basis && discount && (!discount.gt(0) || discount.gt(basis))) {
    errs.add('DISCOUNT_INVALID', `${p}/discount`, 'A discount must be greater than zero and at most the line amount');
  }
  if (errs.count > before || name === undefined || rate === undefined || basis === undefined) return undefined;

  const r = new Decimal(rate);
  const { amount, tax } = split(basis, r, ctx.priceIncludesTax);
  // Stored unit price is excl. tax, at most 13 decimals (half-up), trailing zeros trimmed. With a quantity it is
  // amount ÷ quantity when it must be derived (no price sent, or a 含税 price), so that the stored line itself meets
  // |quantity × unitPrice − amount| ≤ 0.01; a 含税 price without quantity is divided by (1 + rate).
  let unitPrice: Decimal | undefined;
  if (quantity) unitPrice = price && !ctx.priceIncludesTax ? price : amount.div(quantity);
  else if (price) unitPrice = ctx.priceIncludesTax ? price.div(r.plus(1)) : price;
  const common = { name, taxCode: line.taxCode, taxRate: rate, ...(line.taxExemption ? { taxExemption: line.taxExemption } : {}) };
  const item: ComputedLine = {
    kind: 'item',
    ...common,
    ...(spec === undefined ? {} : { spec }),
    ...(unit === undefined ? {} : { unit }),
    ...(quantity ? { quantity: formatDecimal(quantity, QUANTITY_DECIMALS) } : {}),
    ...(unitPrice ? { unitPrice: formatDecimal(unitPrice, QUANTITY_DECIMALS) } : {}),
    amount: formatMoney(amount),
    tax: formatMoney(tax),
    total: formatMoney(amount.plus(tax)),
  };
  const result: LineResult = { lines: [item] };
  if (supplied !== undefined) {
    const diff = amount.times(r).minus(supplied);
    if (diff.abs().gt(LINE_TAX_TOLERANCE)) {
      errs.add('TAX_MISMATCH', `${p}/tax`, `The tax differs from amount × rate = ${formatDecimal(amount.times(r), 30)} by more than 0.06`);
      return undefined;
    }
    result.taxDifference = diff;
  }
  if (discount) {
    // The discount has the line's basis; it is split the same way, so a full discount cancels the line exactly and a
    // partial one never takes more tax than the line has (rounding is monotonic).
    const d = split(discount, r, ctx.priceIncludesTax);
    result.lines.push({ kind: 'discount', ...common, amount: formatMoney(d.amount.neg()), tax: formatMoney(d.tax.neg()), total: formatMoney(d.amount.plus(d.tax).neg()) });
  }
  return result;
}
