import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { sm3, sm3Hex, sm3Concat, hmacSm3 } from './sm3.ts';

interface GmVectors {
  sm3: { messageUtf8: string; digestHex: string }[];
  sm4: { keyHex: string; plaintextHex: string; ciphertextHex: string; iterations: number }[];
}
const vectors = JSON.parse(
  readFileSync(new URL('../../../test/vectors/gm-crypto.json', import.meta.url), 'utf8'),
) as GmVectors;

void describe('SM3 (GB/T 32905-2016)', () => {
  for (const v of vectors.sm3) {
    void it(`hashes "${v.messageUtf8.slice(0, 12)}…" (${v.messageUtf8.length} bytes)`, () => {
      assert.equal(sm3Hex(v.messageUtf8), v.digestHex);
      assert.equal(Buffer.from(sm3(Buffer.from(v.messageUtf8))).toString('hex'), v.digestHex);
      const bytes = Buffer.from(v.messageUtf8);
      assert.equal(Buffer.from(sm3Concat([bytes.subarray(0, 1), bytes.subarray(1)])).toString('hex'), v.digestHex);
    });
  }

  void it('treats a string as UTF-8 text, not hex', () => {
    assert.notEqual(sm3Hex('616263'), sm3Hex('abc'));
    assert.equal(sm3Hex('票'), sm3Hex(Buffer.from('票', 'utf8')));
  });

  void it('computes HMAC-SM3 (32 bytes, key-dependent)', () => {
    const a = hmacSm3(Buffer.from('k1'), 'abc');
    assert.equal(a.length, 32);
    assert.notDeepEqual(a, hmacSm3(Buffer.from('k2'), 'abc'));
  });
});

void describe('SM4 ECB in node:crypto (GB/T 32907-2016)', () => {
  for (const v of vectors.sm4) {
    void it(`encrypts the standard block ${v.iterations} time(s)`, () => {
      const key = Buffer.from(v.keyHex, 'hex');
      // ECB without padding encrypts each 16-byte block independently, so one cipher object can be fed the previous
      // output block by block: 1e6 chained encryptions without 1e6 createCipheriv calls.
      const cipher = createCipheriv('sm4-ecb', key, null).setAutoPadding(false);
      let block = Buffer.from(v.plaintextHex, 'hex');
      for (let i = 0; i < v.iterations; i++) block = cipher.update(block);
      assert.equal(cipher.final().length, 0);
      assert.equal(block.toString('hex'), v.ciphertextHex);
      if (v.iterations === 1) {
        const decipher = createDecipheriv('sm4-ecb', key, null).setAutoPadding(false);
        assert.equal(Buffer.concat([decipher.update(block), decipher.final()]).toString('hex'), v.plaintextHex);
      }
    });
  }
});
