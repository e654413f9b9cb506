import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { toCents } from './decimal-cents.ts';

void describe('toCents', () => {
  void it('converts decimal strings exactly', () => {
    assert.equal(toCents('113.00'), 11300);
    assert.equal(toCents('0.1'), 10);
    assert.equal(toCents('7'), 700);
    assert.equal(toCents('-113.05'), -11305);
    assert.equal(toCents('-0.00'), 0);
    assert.equal(toCents('0.29'), 29); // 0.29 * 100 = 28.999999999999996 in binary floating point
    assert.equal(toCents('90071992547409.91'), 9007199254740991);
  });

  void it('refuses more than two decimals, non-numbers and values beyond 2^53 cents', () => {
    for (const bad of ['1.005', 'abc', '', '1e3', '1.', '.5', '90071992547409.92']) {
      assert.throws(() => toCents(bad), RangeError, bad);
    }
  });
});
