// The archive format on its own: chunk boundaries, and every way a chunked ciphertext can be cut, reordered or
// extended is caught by the tags.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArchiveReader, ArchiveWriter, CHUNK_BYTES, HEADER_BYTES } from './archive.ts';

const key = randomBytes(32);

async function write(path: string, parts: Buffer[]): Promise<void> {
  const fh = await open(path, 'wx');
  const w = await ArchiveWriter.open(fh, key, 1);
  for (const p of parts) await w.write(p);
  await w.end();
  await fh.close();
}

async function readAll(path: string, len: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const r = await ArchiveReader.open(fh, key);
    const pieces: Buffer[] = [];
    await r.pipe(len, async (p) => {
      pieces.push(Buffer.from(p));
    });
    await r.finish();
    return Buffer.concat(pieces);
  } finally {
    await fh.close();
  }
}

void describe('backup archive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-archive-'));
  let n = 0;
  const file = () => join(dir, `a${n++}`);
  after(() => rmSync(dir, { recursive: true, force: true }));

  void it('round-trips content of 0 bytes, exactly one chunk, and a chunk and a bit, in pieces of any size', async () => {
    for (const size of [0, 1, CHUNK_BYTES, CHUNK_BYTES + 1, 2 * CHUNK_BYTES + 17]) {
      const data = randomBytes(size);
      const path = file();
      await write(path, [data.subarray(0, 7), data.subarray(7, 7 + CHUNK_BYTES), data.subarray(7 + CHUNK_BYTES)]);
      assert.deepEqual(await readAll(path, size), data, `size ${size}`);
    }
  });

  void it('rejects truncation at a chunk boundary, an appended byte, swapped chunks and another key', async () => {
    const data = randomBytes(2 * CHUNK_BYTES + 5);
    const path = file();
    await write(path, [data]);
    const bytes = readFileSync(path);
    const chunk = 4 + CHUNK_BYTES + 16;
    const cases: [string, Buffer, RegExp][] = [
      ['cut after the first chunk', bytes.subarray(0, HEADER_BYTES + chunk), /truncated/],
      ['a byte appended', Buffer.concat([bytes, Buffer.from([0])]), /altered/],
      ['chunks swapped', Buffer.concat([bytes.subarray(0, HEADER_BYTES), bytes.subarray(HEADER_BYTES + chunk, HEADER_BYTES + 2 * chunk), bytes.subarray(HEADER_BYTES, HEADER_BYTES + chunk), bytes.subarray(HEADER_BYTES + 2 * chunk)]), /altered \(authentication failed\); nothing was restored \(chunk 0\)/],
      ['the salt changed', Buffer.concat([bytes.subarray(0, 20), Buffer.from([bytes[20]! ^ 1]), bytes.subarray(21)]), /master key does not open/],
    ];
    for (const [what, content, error] of cases) {
      const p = file();
      writeFileSync(p, content);
      await assert.rejects(readAll(p, data.length), error, what);
    }
  });
});
