// Properties of the tax math over random valid invoices (docs/design.md §4, invariant 4).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Decimal, formatMoney } from '../../../shared/money.ts';
import { RATES_IN_USE, computeInvoice, computeTotals, negateForRed } from './tax.ts';
import { amountInCapitals } from './amount-in-capitals.ts';
import type { LineInput } from '../../../shared/invoice.ts';

const MONEY = /^-?\d+\.\d{2}$/;
const cents = (n: bigint): string => formatMoney(new Decimal(n.toString()).div(100));

/** A valid line: amount in cents (up to 10^10 yuan), a rate or an exemption, maybe a discount and a quantity. */
const lineArb = fc
  .record({
    cents: fc.bigInt({ min: 1n, max: 1_000_000_000_000n }),
    rate: fc.constantFrom(...RATES_IN_USE, '0.130', '0.00'),
    exemption: fc.constantFrom(undefined, undefined, undefined, 'exempt', 'non-taxable'),
    discountPermille: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
    quantity: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
  })
  .map(({ cents: c, rate, exemption, discountPermille, quantity }): LineInput => {
    const discount = discountPermille === undefined ? undefined : (c * BigInt(discountPermille)) / 1000n;
    return {
      name: '软件开发费',
      taxCode: '3040201010000000000',
      amount: cents(c),
      ...(exemption ? { taxExemption: exemption } : { taxRate: rate }),
      ...(discount && discount > 0n ? { discount: cents(discount) } : {}),
      ...(quantity ? { quantity: String(quantity) } : {}),
    };
  });

const invoiceArb = fc.record({ lines: fc.array(lineArb, { minLength: 1, maxLength: 8 }), priceIncludesTax: fc.boolean() });

void describe('computeInvoice properties', () => {
  void it('totals are exact sums, every amount has two decimals, capitals match the total', () => {
    fc.assert(
      fc.property(invoiceArb, ({ lines, priceIncludesTax }) => {
        // A line set whose discounts cancel everything is refused (TOTAL_NOT_POSITIVE); skip it here.
        const fullyDiscounted = lines.every((l) => l.discount === l.amount);
        fc.pre(!fullyDiscounted);
        const out = computeInvoice({ type: 'normal', buyer: { name: 'b' }, issuer: 'i', lines, priceIncludesTax });
        let amount = new Decimal(0);
        let tax = new Decimal(0);
        for (const l of out.lines) {
          for (const v of [l.amount, l.tax, l.total]) assert.match(v, MONEY);
          assert.equal(formatMoney(new Decimal(l.amount).plus(l.tax)), l.total);
          amount = amount.plus(l.amount);
          tax = tax.plus(l.tax);
        }
        assert.equal(out.totals.amount, formatMoney(amount));
        assert.equal(out.totals.tax, formatMoney(tax));
        assert.equal(out.totals.total, formatMoney(amount.plus(tax)));
        for (const v of [out.totals.amount, out.totals.tax, out.totals.total]) assert.match(v, MONEY);
        assert.equal(out.totals.totalInCapitals, amountInCapitals(out.totals.total));
        assert.deepEqual(out.totals, computeTotals(out.lines));
        assert.deepEqual(out.lines.map((l) => l.lineNo), out.lines.map((_, i) => i + 1));
      }),
      { numRuns: 300 },
    );
  });

  void it('each line is split correctly: excl. tax rounds half up, incl. tax round-trips to the gross', () => {
    fc.assert(
      fc.property(invoiceArb, ({ lines, priceIncludesTax }) => {
        fc.pre(!lines.every((l) => l.discount === l.amount));
        const out = computeInvoice({ type: 'normal', buyer: { name: 'b' }, issuer: 'i', lines, priceIncludesTax });
        let k = 0;
        for (const input of lines) {
          const item = out.lines[k++]!;
          const rate = new Decimal(item.taxRate);
          if (priceIncludesTax) {
            assert.equal(item.total, input.amount); // amount + tax === gross
            assert.equal(item.amount, formatMoney(new Decimal(input.amount).div(rate.plus(1)).toDecimalPlaces(2, Decimal.ROUND_HALF_UP)));
          } else {
            assert.equal(item.amount, input.amount);
            assert.equal(item.tax, formatMoney(new Decimal(input.amount).times(rate).toDecimalPlaces(2, Decimal.ROUND_HALF_UP)));
          }
          if (item.quantity !== undefined) {
            // The stored (excl. tax) line meets the platform's own check.
            assert.ok(new Decimal(item.quantity).times(item.unitPrice!).minus(item.amount).abs().lte('0.01'));
          }
          if (input.discount !== undefined) {
            const d = out.lines[k++]!;
            assert.equal(d.kind, 'discount');
            assert.equal(d.taxRate, item.taxRate);
            if (priceIncludesTax) assert.equal(formatMoney(new Decimal(d.total).neg()), input.discount);
            assert.ok(new Decimal(item.amount).plus(d.amount).gte(0));
            assert.ok(new Decimal(item.tax).plus(d.tax).gte(0));
          }
        }
        assert.equal(k, out.lines.length);
      }),
      { numRuns: 300 },
    );
  });

  void it('a red invoice is the exact negation of the blue one', () => {
    fc.assert(
      fc.property(invoiceArb, ({ lines, priceIncludesTax }) => {
        fc.pre(!lines.every((l) => l.discount === l.amount));
        const blue = computeInvoice({ type: 'normal', buyer: { name: 'b' }, issuer: 'i', lines, priceIncludesTax });
        const red = negateForRed(blue.lines, blue.totals);
        assert.deepEqual(red.totals, computeTotals(red.lines));
        assert.equal(new Decimal(red.totals.total).plus(blue.totals.total).isZero(), true);
        assert.deepEqual(negateForRed(red.lines, red.totals), blue);
      }),
      { numRuns: 200 },
    );
  });
});
