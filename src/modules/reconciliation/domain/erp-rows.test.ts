import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCsvHeader, parseCsvRow, parseJsonRow, splitCsvLine } from './erp-rows.ts';

describe('ERP rows', () => {
  it('reads RFC 4180 quoting on one line', () => {
    assert.deepEqual(splitCsvLine('a,"b,c","d""e",'), ['a', 'b,c', 'd"e', '']);
    assert.equal(splitCsvLine('"open'), undefined);
    assert.equal(splitCsvLine('"a"b'), undefined);
  });

  it('finds the columns by name in any order and case, ignoring others', () => {
    const h = parseCsvHeader('Memo,TAX,Amount,issueDate,Number');
    assert.ok(!('error' in h));
    const r = parseCsvRow(2, 'x,13.00,100,2026-11-24,26311000000000000001', h);
    assert.deepEqual(r, { ok: true, row: { lineNo: 2, date: '2026-11-24', amountCents: 10000, taxCents: 1300, number: '26311000000000000001' } });
    assert.deepEqual(parseCsvHeader('number,amount'), { error: 'the header line lacks date, tax' });
  });

  it('keeps exact cents and refuses floats, exponents and oversize amounts', () => {
    const ok = parseJsonRow(1, '{"externalId":"SO-1","date":"2026-11-24","amount":-0.05,"tax":"-0.01"}');
    assert.deepEqual(ok, { ok: true, row: { lineNo: 1, date: '2026-11-24', amountCents: -5, taxCents: -1, externalId: 'SO-1' } });
    for (const amount of ['1e3', '0.001', '1'.repeat(14), '"1,000.00"', '0.1e1']) {
      const r = parseJsonRow(3, `{"number":"26311000000000000001","date":"2026-11-24","amount":${/^["0-9]/.test(amount) && !amount.startsWith('"') ? `"${amount}"` : amount},"tax":"0"}`);
      assert.equal(r.ok, false, amount);
      if (!r.ok) assert.equal(r.row.field, 'amount');
    }
  });
});
