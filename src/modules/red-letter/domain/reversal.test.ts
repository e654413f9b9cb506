// What a form may reverse: full and partial reversals, never more than remains, exact decimals.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppError } from '../../../shared/errors.ts';
import { Decimal, formatMoney } from '../../../shared/money.ts';
import type { InvoiceLine, LineInput } from '../../../shared/invoice.ts';
import { computeInvoice, computeTotals, negateForRed } from '../../invoicing/domain/tax.ts';
import { blueStatus, claimTotals, normaliseRequestLines, planReversal, reasonIsValid, redLines, remainders, type LineClaim } from './reversal.ts';

function blue(lines: LineInput[]): InvoiceLine[] {
  return computeInvoice({ type: 'normal', buyer: { name: '买方' }, issuer: '张三', lines }).lines;
}
const L = (over: Partial<LineInput> = {}): LineInput => ({ name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '100.00', taxRate: '0.13', ...over });
const code = (c: string) => (e: unknown) => e instanceof AppError && e.code === c;

describe('reason codes', () => {
  it('accepts 01–04 only', () => {
    for (const r of ['01', '02', '03', '04']) assert.ok(reasonIsValid(r));
    for (const r of ['05', '00', '1', '', 1, null, '__proto__', 'toString']) assert.equal(reasonIsValid(r), false);
  });
});

describe('planReversal', () => {
  const two = blue([L({ quantity: '3', unitPrice: '33.3333333333333', amount: '100.00' }), L({ amount: '50.00', taxRate: '0.06' })]);

  it('a full reversal claims every line; its red lines are negateForRed of the blue', () => {
    const claims = planReversal(two, [], undefined);
    assert.deepEqual(claims.map((c) => c.lineNo), [1, 2]);
    const red = redLines(two, claims);
    const totals = computeTotals(red);
    const blueTotals = computeTotals(two);
    assert.deepEqual({ lines: red, totals }, negateForRed(two, blueTotals));
    assert.match(totals.totalInCapitals, /^（负数）/);
  });

  it('a partial by quantity is computed at the unit price and rounded like a line', () => {
    const [c] = planReversal(two, [], [{ line: 1, quantity: '1' }]);
    assert.deepEqual(c, { lineNo: 1, amount: '33.33', tax: '4.33', quantity: '1' });
    const red = redLines(two, [c]);
    assert.equal(red[0]!.quantity, '-1');
    assert.equal(red[0]!.unitPrice, two[0]!.unitPrice);
    assert.equal(red[0]!.total, '-37.66');
  });

  it('the last partial takes exactly the rest, so partials sum to the blue line', () => {
    const a = planReversal(two, [], [{ line: 1, quantity: '1' }]);
    const b = planReversal(two, [a], [{ line: 1, quantity: '1' }]);
    const c = planReversal(two, [a, b], [{ line: 1, quantity: '1' }]);
    assert.deepEqual(c[0], { lineNo: 1, amount: '33.34', tax: '4.34', quantity: '1' });
    assert.deepEqual(remainders(two, [a, b, c])[0], { lineNo: 1, amount: '0.00', tax: '0.00', quantity: '0' });
    assert.equal(blueStatus(two, [a, b]), 'red-flushed-partial');
    assert.equal(blueStatus(two, [a, b, c]), 'red-flushed-partial');
    assert.equal(blueStatus(two, [a, b, c, planReversal(two, [a, b, c], undefined)]), 'red-flushed');
  });

  it('an amount alone (销售折让) carries no quantity and no unit price', () => {
    const claims = planReversal(two, [], [{ line: 2, amount: '10.00' }]);
    assert.deepEqual(claims, [{ lineNo: 2, amount: '10.00', tax: '0.60' }]);
    const [r] = redLines(two, claims);
    assert.equal(r!.quantity, undefined);
    assert.equal(r!.unitPrice, undefined);
    assert.equal(r!.amount, '-10.00');
  });

  it('refuses over-reversal, saying what remains per line; open forms count', () => {
    const first = planReversal(two, [], [{ line: 2, amount: '40.00' }]);
    assert.throws(() => planReversal(two, [first], [{ line: 2, amount: '10.01' }]), (e: unknown) => {
      assert.ok(e instanceof AppError);
      assert.equal(e.code, 'RED_LETTER_OVER_REVERSAL');
      assert.equal(e.errors?.[0]?.path, '/lines/0/amount');
      assert.match(e.errors[0].message, /line 2: 10\.00 \(tax 0\.60\) remains/);
      return true;
    });
    assert.throws(() => planReversal(two, [], [{ line: 1, quantity: '3.0000000000001' }]), code('RED_LETTER_OVER_REVERSAL'));
    const all = planReversal(two, [], undefined);
    assert.throws(() => planReversal(two, [all], undefined), code('RED_LETTER_OVER_REVERSAL'));
    assert.throws(() => planReversal(two, [all], [{ line: 1 }]), code('RED_LETTER_OVER_REVERSAL'));
  });

  it('refuses lines out of range, twice, bad decimals, a quantity where the line has none', () => {
    for (const lines of [
      [{ line: 0 }], [{ line: 3 }], [{ line: 1.5 }], [{ line: -1 }], [{ line: Number.MAX_SAFE_INTEGER + 2 }],
      [{ line: 1 }, { line: 1 }], [{ line: 2, quantity: '1' }], [{ line: 1, amount: '1.001' }], [{ line: 1, amount: '-1' }],
      [{ line: 1, amount: '0' }], [{ line: 1, quantity: '0' }], [{ line: 1, quantity: '1e3' }], [{ line: 1, amount: '１' }], [],
    ]) {
      assert.throws(() => planReversal(two, [], lines), code('RED_LETTER_LINE_INVALID'), JSON.stringify(lines));
    }
  });

  it('reports every line at fault at once', () => {
    assert.throws(() => planReversal(two, [], [{ line: 9 }, { line: 2, amount: '999.00' }]), (e: AppError) => e.errors?.length === 2);
  });

  it('a discounted line is reversed only in full, with its discount line', () => {
    const d = blue([L({ amount: '100.00', discount: '10.00' }), L({ amount: '5.00' })]);
    assert.equal(d[1]!.kind, 'discount');
    assert.throws(() => planReversal(d, [], [{ line: 2 }]), code('RED_LETTER_LINE_INVALID'));
    assert.throws(() => planReversal(d, [], [{ line: 1, amount: '50.00' }]), code('RED_LETTER_LINE_INVALID'));
    const claims = planReversal(d, [], [{ line: 1 }]);
    assert.deepEqual(claims.map((c) => [c.lineNo, c.amount]), [[1, '100.00'], [2, '-10.00']]);
    const red = redLines(d, claims);
    assert.deepEqual(red.map((l) => l.amount), ['-100.00', '10.00']);
    assert.equal(computeTotals(red).amount, '-90.00');
  });

  it('the same request in another spelling is the same form', () => {
    assert.equal(normaliseRequestLines([{ line: 2, amount: '10' }, { line: 1, quantity: '1.50' }]), normaliseRequestLines([{ line: 1, quantity: '1.5' }, { line: 2, amount: '10.00' }]));
    assert.notEqual(normaliseRequestLines(undefined), normaliseRequestLines([{ line: 1 }]));
  });
});

describe('properties', () => {
  const lineArb = fc.record({
    cents: fc.bigInt({ min: 1n, max: 10_000_000_00n }),
    rate: fc.constantFrom('0.13', '0.09', '0.06', '0.03', '0.01', '0'),
    qty: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
  }).map(({ cents, rate, qty }) => L({ amount: formatMoney(new Decimal(cents.toString()).div(100)), taxRate: rate, ...(qty ? { quantity: String(qty) } : {}) }));
  const pieceArb = fc.array(fc.record({ line: fc.nat(), permille: fc.integer({ min: 1, max: 1200 }), byQty: fc.boolean() }), { maxLength: 8 });

  it('no sequence of forms ever reverses more than a line holds; a final full reversal lands exactly on the blue totals', () => {
    fc.assert(fc.property(fc.array(lineArb, { minLength: 1, maxLength: 5 }), pieceArb, (inputs, pieces) => {
      const b = blue(inputs);
      const forms: LineClaim[][] = [];
      for (const p of pieces) {
        const bl = b[p.line % b.length]!;
        const rest = remainders(b, forms)[p.line % b.length]!;
        const req = p.byQty && bl.quantity !== undefined
          ? { line: bl.lineNo, quantity: String(Math.max(1, Math.floor((Number(bl.quantity) * p.permille) / 1000))) }
          : { line: bl.lineNo, amount: formatMoney(new Decimal(rest.amount).times(p.permille).div(1000).toDecimalPlaces(2, Decimal.ROUND_DOWN)) };
        try {
          forms.push(planReversal(b, forms, [req]));
        } catch (e) {
          assert.ok(e instanceof AppError && (e.code === 'RED_LETTER_OVER_REVERSAL' || e.code === 'RED_LETTER_LINE_INVALID'), String(e));
        }
        for (const r of remainders(b, forms)) {
          assert.ok(new Decimal(r.amount).gte(0), `amount over-reversed: ${JSON.stringify(r)}`);
          assert.ok(new Decimal(r.tax).gte(0), `tax over-reversed: ${JSON.stringify(r)}`);
          if (r.quantity !== undefined) assert.ok(new Decimal(r.quantity).gte(0));
        }
      }
      try {
        forms.push(planReversal(b, forms, undefined));
      } catch (e) {
        assert.ok(e instanceof AppError && e.code === 'RED_LETTER_OVER_REVERSAL');
      }
      const blueTotals = computeTotals(b);
      const sum = forms.reduce((acc, f) => {
        const t = claimTotals(f);
        return { amount: acc.amount.plus(t.amount), tax: acc.tax.plus(t.tax) };
      }, { amount: new Decimal(0), tax: new Decimal(0) });
      assert.equal(formatMoney(sum.amount), blueTotals.amount);
      assert.equal(formatMoney(sum.tax), blueTotals.tax);
      // Each form's red invoice: lines negated, totals = Σ lines, total = amount + tax.
      for (const f of forms) {
        const red = redLines(b, f);
        const t = computeTotals(red);
        assert.equal(formatMoney(new Decimal(t.amount).plus(t.tax)), t.total);
        assert.equal(t.amount, formatMoney(new Decimal(claimTotals(f).amount).neg()));
        for (const l of red) assert.ok(new Decimal(l.amount).lte(0));
      }
      assert.equal(blueStatus(b, forms), 'red-flushed');
    }), { numRuns: 300 });
  });
});
