import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { csvRecord, numberCell, textCell } from './csv-cells.ts';

describe('CSV cells', () => {
  it('neutralises text that a spreadsheet could take for a formula (OWASP CSV injection)', () => {
    assert.equal(textCell('=1+2'), `"'=1+2"`);
    assert.equal(textCell('+86 138'), `"'+86 138"`);
    assert.equal(textCell('-2+3'), `"'-2+3"`);
    assert.equal(textCell('@SUM(A1)'), `"'@SUM(A1)"`);
    assert.equal(textCell('\t=1'), `"'\t=1"`);
    assert.equal(textCell('\r=1'), `"'\r=1"`);
    assert.equal(textCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  });

  it('quotes separators, quotes and line breaks, and leaves plain text alone', () => {
    assert.equal(textCell('上海,浦东'), '"上海,浦东"');
    assert.equal(textCell('a"b'), '"a""b"');
    assert.equal(textCell('a\nb'), '"a\nb"');
    assert.equal(textCell('SO-1'), 'SO-1');
    assert.equal(textCell(null), '');
  });

  it('writes the server\'s numbers bare, negative ones included, and refuses anything else as a number', () => {
    assert.equal(numberCell('-100.00'), '-100.00');
    assert.equal(numberCell(42), '42');
    assert.throws(() => numberCell('=1'), RangeError);
    assert.throws(() => numberCell('1e5'), RangeError);
    assert.equal(csvRecord(['a', numberCell('-1.50')]), 'a,-1.50\r\n');
  });
});
