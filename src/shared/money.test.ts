import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from './errors.ts';
import fc from 'fast-check';
import { Decimal, compareMoney, formatDecimal, formatMoney, negateMoney, parseDecimal, parseMoney, roundHalfUp, sumMoney, toCents } from './money.ts';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AppError);
    return `${e.code} ${e.errors?.[0]?.path ?? ''}`;
  }
  return 'ok';
};

void describe('money', () => {
  void it('parses plain decimal strings only', () => {
    assert.equal(formatMoney(parseMoney('113.00')), '113.00');
    assert.equal(formatMoney(parseMoney('7')), '7.00');
    for (const bad of ['', '1e2', '+1', '.5', '1.', ' 1', '1 ', '1,0', '0x10', '-', 'NaN', 'Infinity']) {
      assert.equal(code(() => parseMoney(bad, '/a')), 'AMOUNT_INVALID /a', bad);
    }
    assert.equal(code(() => parseMoney(1, '/a')), 'AMOUNT_INVALID /a');
    assert.equal(code(() => parseMoney('1.001', '/a')), 'AMOUNT_INVALID /a');
    assert.equal(code(() => parseMoney('-1.00', '/a')), 'AMOUNT_INVALID /a');
    assert.equal(formatMoney(parseMoney('-1.00', '/a', true)), '-1.00');
    assert.equal(code(() => parseMoney('1000000000000.00', '/a')), 'AMOUNT_TOO_LARGE /a');
    assert.equal(formatMoney(parseMoney('999999999999.99')), '999999999999.99');
    assert.equal(code(() => parseDecimal('1.12345678901234', { maxDecimals: 13, code: 'QUANTITY_INVALID', field: '/q' })), 'QUANTITY_INVALID /q');
  });
  void it('rounds half up (away from zero), unlike banker’s rounding', () => {
    assert.equal(formatDecimal(roundHalfUp('0.125')), '0.13');
    assert.equal(formatDecimal(roundHalfUp('0.135')), '0.14');
    assert.equal(formatDecimal(roundHalfUp('-0.125')), '-0.13');
    assert.equal(formatDecimal(roundHalfUp('0.1249999999')), '0.12');
    assert.equal(formatDecimal(roundHalfUp('2.5', 0)), '3');
  });
  void it('formats with exactly two decimals and no negative zero', () => {
    assert.equal(formatMoney('113'), '113.00');
    assert.equal(formatMoney('-0.5'), '-0.50');
    assert.equal(formatMoney('-0.00'), '0.00');
    assert.equal(formatMoney(new Decimal('-0.001')), '0.00');
    assert.equal(formatMoney('999999999999.99'), '999999999999.99');
    assert.equal(negateMoney('0.00'), '0.00');
    assert.equal(negateMoney('-1.20'), '1.20');
    assert.equal(formatDecimal('2.50'), '2.5');
    assert.equal(formatDecimal('0.00000000000001'), '0');
    assert.equal(formatDecimal('1e-13'), '0.0000000000001');
  });
  void it('compares and sums exactly', () => {
    assert.equal(sumMoney(['0.10', '0.20']).toString(), '0.3', 'exact, not 0.30000000000000004');
    assert.equal(sumMoney(Array.from({ length: 10 }, () => '0.10')).eq(1), true);
    assert.equal(compareMoney('0.30', sumMoney(['0.10', '0.20'])), 0);
    assert.equal(compareMoney('1.00', '1.01'), -1);
    assert.equal(compareMoney('-1.00', '-1.01'), 1);
  });
  void it('gives the cents of every amount as the Decimal path does, and refuses the same strings', () => {
    // What toCents computed before its fast path: the Decimal, times 100, as an integer.
    const viaDecimal = (s: string) => code(() => parseMoney(s, '/t', true)) === 'ok' ? BigInt(parseMoney(s, '/t', true).times(100).toString()) : code(() => parseMoney(s, '/t', true));
    const mine = (s: string) => code(() => toCents(s, '/t')) === 'ok' ? toCents(s, '/t') : code(() => toCents(s, '/t'));
    for (const s of ['0', '-0', '00', '0.0', '-0.00', '113', '113.0', '113.00', '113.000', '-1.5', '999999999999.99', '-999999999999.99',
      '1000000000000', '1000000000000.00', '000000000000001.01', '0999999999999.99', '12345678901234', '1e2', '+1', '.5', '1.', ' 1', '']) {
      assert.equal(mine(s), viaDecimal(s), JSON.stringify(s));
    }
    const amount = fc.tuple(fc.constantFrom('', '-'), fc.stringMatching(/^0{0,3}[0-9]{1,14}$/), fc.option(fc.stringMatching(/^[0-9]{1,3}$/)))
      .map(([sign, whole, frac]) => `${sign}${whole}${frac === null ? '' : `.${frac}`}`);
    fc.assert(fc.property(amount, (s) => assert.equal(mine(s), viaDecimal(s))), { numRuns: 2000 });
  });
});
