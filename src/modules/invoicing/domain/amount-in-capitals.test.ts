import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { amountInCapitals } from './amount-in-capitals.ts';
import { isAppError } from '../../../shared/errors.ts';

interface Vectors {
  vectors: { amount: string; capitals: string }[];
}
// The vectors of docs/invoice-rules.md (test/vectors/amount-in-capitals.json), kept in the repo so the test is self-contained.
const file = new URL('../../../../test/vectors/amount-in-capitals.json', import.meta.url);
const { vectors } = JSON.parse(readFileSync(file, 'utf8')) as Vectors;

void describe('amountInCapitals', () => {
  void it('has vectors', () => assert.ok(vectors.length >= 20));
  for (const v of vectors) {
    void it(`${v.amount} → ${v.capitals}`, () => assert.equal(amountInCapitals(v.amount), v.capitals));
  }

  void it('handles the largest amounts and the 亿 section', () => {
    assert.equal(amountInCapitals('999999999999.99'), '玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖圆玖角玖分');
    assert.equal(amountInCapitals('100000000000.00'), '壹仟亿圆整');
    assert.equal(amountInCapitals('100000010000.00'), '壹仟亿零壹万圆整');
    assert.equal(amountInCapitals('0.10'), '壹角');
    assert.equal(amountInCapitals('-0.00'), '零圆整');
    assert.equal(amountInCapitals('7'), '柒圆整');
  });

  void it('rejects malformed amounts', () => {
    for (const bad of ['', '1.005', '1e3', ' 1.00', '+1.00', '.5', '1,000.00', '1000000000000.00']) {
      assert.throws(() => amountInCapitals(bad), isAppError, bad);
    }
  });
});
