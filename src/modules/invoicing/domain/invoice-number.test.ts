import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_SEQ, formatInvoiceNumber, isInvoiceNumber, parseInvoiceNumber, seriesKey } from './invoice-number.ts';
import { AppError } from '../../../shared/errors.ts';

void describe('invoice numbers', () => {
  void it('formats the example from the reference', () => {
    assert.equal(formatInvoiceNumber({ year: 2026, regionCode: '31', channel: 2, seq: 1 }), '26312000000000000001');
    assert.equal(seriesKey(2026, '31', 2), '26312');
    assert.equal(formatInvoiceNumber({ year: 2005, regionCode: '53', channel: 0, seq: MAX_SEQ }), '05530999999999999999');
  });
  void it('parses back', () => {
    assert.deepEqual(parseInvoiceNumber('26312000000000000001'), { year: 2026, regionCode: '31', channel: 2, seq: 1 });
  });
  void it('round-trips', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2000, max: 2099 }),
        fc.integer({ min: 0, max: 99 }),
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 1, max: MAX_SEQ }),
        (year, r, channel, seq) => {
          const parts = { year, regionCode: String(r).padStart(2, '0'), channel, seq };
          const n = formatInvoiceNumber(parts);
          assert.equal(n.length, 20);
          assert.ok(isInvoiceNumber(n));
          assert.ok(n.startsWith(seriesKey(year, parts.regionCode, channel)));
          assert.deepEqual(parseInvoiceNumber(n), parts);
        },
      ),
    );
  });
  void it('refuses an exhausted series, bad regions and malformed numbers', () => {
    assert.throws(() => formatInvoiceNumber({ year: 2026, regionCode: '31', channel: 2, seq: MAX_SEQ + 1 }), (e: AppError) => e.code === 'NUMBER_SERIES_EXHAUSTED');
    assert.throws(() => seriesKey(2026, '3', 2), (e: AppError) => e.code === 'REGION_CODE_INVALID');
    assert.throws(() => formatInvoiceNumber({ year: 2026, regionCode: '31', channel: 2, seq: 0 }), RangeError);
    assert.throws(() => seriesKey(2026, '31', 10), RangeError);
    for (const bad of ['2631200000000000001', '263120000000000000011', '2631200000000000000a', '26312000000000000000', '']) {
      assert.equal(isInvoiceNumber(bad), false, bad);
      assert.throws(() => parseInvoiceNumber(bad), (e: AppError) => e.code === 'VALIDATION_FAILED' && e.errors?.[0]?.path === '/number');
    }
  });
});
