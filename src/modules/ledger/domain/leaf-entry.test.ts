import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { decodeLeafEntry, encodeLeafEntry, leafEntryForInvoice, leafEntryHash, type LeafEntry } from './leaf-entry.ts';

const signature = Buffer.from('3045022100' + 'a1'.repeat(32) + '0220' + 'b2'.repeat(32), 'hex').toString('base64');
const issued: LeafEntry = {
  kind: 'issued',
  number: '26311000000000000001',
  hash: '5f'.repeat(32),
  keyId: 'sm2-0123456789abcdef',
  signature,
};
const red: LeafEntry = { ...issued, kind: 'red-flushed', number: '26311000000000000002', reverses: '26311000000000000001' };

describe('leaf entries', () => {
  it('encode version 1 byte for byte as documented', () => {
    const bytes = Buffer.from(encodeLeafEntry(issued));
    const sig = Buffer.from(signature, 'base64');
    const expected = Buffer.concat([
      Buffer.from([0x01, 0x01]),
      Buffer.from([20]),
      Buffer.from('26311000000000000001', 'ascii'),
      Buffer.from('5f'.repeat(32), 'hex'),
      Buffer.from([20]),
      Buffer.from('sm2-0123456789abcdef', 'ascii'),
      Buffer.from([sig.length]),
      sig,
    ]);
    assert.equal(bytes.toString('hex'), expected.toString('hex'));
    const r = Buffer.from(encodeLeafEntry(red));
    assert.equal(r[1], 0x02);
    assert.equal(r.subarray(-21).toString('hex'), Buffer.concat([Buffer.from([20]), Buffer.from('26311000000000000001')]).toString('hex'));
    // The leaf hash is RFC 9162's SHA-256(0x00 ‖ entry).
    assert.equal(Buffer.from(leafEntryHash(issued)).toString('hex'), createHash('sha256').update(Buffer.from([0])).update(bytes).digest('hex'));
  });

  it('decode what they encode, and nothing else', () => {
    assert.deepEqual(decodeLeafEntry(encodeLeafEntry(issued)), issued);
    assert.deepEqual(decodeLeafEntry(encodeLeafEntry(red)), red);
    const good = encodeLeafEntry(issued);
    const withByte = (at: number, value: number): Uint8Array => {
      const c = new Uint8Array(good);
      c[at] = value;
      return c;
    };
    const bad: [Uint8Array, RegExp][] = [
      [withByte(0, 0x02), /version/],
      [withByte(1, 0x03), /kind/],
      [withByte(1, 0x02), /truncated/],
      [good.subarray(0, good.length - 1), /truncated/],
      [Uint8Array.from([...good, 0]), /trailing/],
      [withByte(2, 19), /./],
      [withByte(3, 0x41), /digits/],
      [new Uint8Array(0), /truncated/],
    ];
    for (const [bytes, why] of bad) assert.throws(() => decodeLeafEntry(bytes), { name: 'LeafEntryError', message: why });
  });

  it('commit to kind, number, hash, key and signature: changing any changes the leaf', () => {
    const base = Buffer.from(leafEntryHash(issued)).toString('hex');
    const variants: LeafEntry[] = [
      { ...issued, kind: 'red-flushed', reverses: '26311000000000000009' },
      { ...issued, number: '26311000000000000009' },
      { ...issued, hash: '5e'.repeat(32) },
      { ...issued, keyId: 'sm2-0123456789abcdee' },
      { ...issued, signature: Buffer.from('3044022000' + 'a1'.repeat(31) + '0220' + 'b2'.repeat(32), 'hex').toString('base64') },
    ];
    const hashes = new Set([base, ...variants.map((v) => Buffer.from(leafEntryHash(v)).toString('hex'))]);
    assert.equal(hashes.size, variants.length + 1);
  });

  it('are made from an invoice without reading its buyer', () => {
    const buyer = { name: '杭州买方贸易有限公司', taxId: '91440300708461136T' };
    const invoice = {
      number: '26311000000000000001',
      kind: 'blue' as const,
      hash: '5f'.repeat(32),
      signature: { alg: 'SM2-SM3', keyId: 'sm2-0123456789abcdef', value: signature },
      buyer,
    };
    const entry = leafEntryForInvoice(invoice);
    assert.deepEqual(entry, issued);
    const bytes = Buffer.from(encodeLeafEntry(entry));
    for (const secret of [buyer.name, buyer.taxId]) assert.equal(bytes.includes(Buffer.from(secret)), false);
    assert.deepEqual(leafEntryForInvoice({ ...invoice, kind: 'red', number: red.number, originalNumber: red.reverses }), red);
    assert.throws(() => leafEntryForInvoice({ ...invoice, kind: 'red' }), /reverses/);
  });

  it('refuse ill-formed fields', () => {
    for (const e of [
      { ...issued, number: '2631100000000000001' },
      { ...issued, number: '2631100000000000000A' },
      { ...issued, hash: '5F'.repeat(32) },
      { ...issued, hash: '5f'.repeat(31) },
      { ...issued, keyId: '' },
      { ...issued, keyId: 'key with space' },
      { ...issued, signature: '' },
      { ...issued, signature: 'not base64!' },
      { ...issued, reverses: '26311000000000000001' },
      { ...red, reverses: undefined },
    ] as LeafEntry[]) {
      assert.throws(() => encodeLeafEntry(e), { name: 'LeafEntryError' }, JSON.stringify(e));
    }
  });
});
