import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter } from './line-splitter.ts';

function split(chunks: Buffer[], max = 16) {
  const s = new LineSplitter(max);
  const out = [];
  for (const c of chunks) out.push(...s.push(c));
  out.push(...s.end());
  return out;
}

describe('LineSplitter', () => {
  it('splits LF and CRLF across chunk boundaries, drops a BOM, numbers every line', () => {
    assert.deepEqual(split([Buffer.from('\ufeffab'), Buffer.from('c\r'), Buffer.from('\nd\n\ne')]), [
      { lineNo: 1, text: 'abc' }, { lineNo: 2, text: 'd' }, { lineNo: 3, text: '' }, { lineNo: 4, text: 'e' },
    ]);
  });

  it('splits a UTF-8 character cut between chunks correctly', () => {
    const bytes = Buffer.from('对账\n');
    assert.deepEqual(split([bytes.subarray(0, 2), bytes.subarray(2)]), [{ lineNo: 1, text: '对账' }]);
  });

  it('reports a line too long or not UTF-8 by number, without holding it, and goes on', () => {
    assert.deepEqual(split([Buffer.from(`${'x'.repeat(40)}\nok\n`), Buffer.from([0xff, 0x0a])]), [
      { lineNo: 1, error: 'the line is longer than 16 bytes' }, { lineNo: 2, text: 'ok' }, { lineNo: 3, error: 'the line is not UTF-8' },
    ]);
  });
});
