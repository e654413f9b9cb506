// The base-point table's k·G against two independent implementations: OpenSSL's SM2 curve (node:crypto ECDH, when
// the running OpenSSL has it) and sm-crypto-v2 (@noble/curves), for random k and for the scalars at the edges of the
// recoding: 1 and n − 1, small ones, each window's powers, high bits set, both parities (even k goes through n − k).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createECDH } from 'node:crypto';
import fc from 'fast-check';
import { sm2 as gm } from 'sm-crypto-v2';
import { SM2_N } from './sm2.ts';
import { bigIntToBytes } from './sm2-encoding.ts';
import { sm2BaseMultiply, sm2BaseX, sm2BaseXBatch } from './sm2-base-mul.ts';

const hex64 = (n: bigint): string => n.toString(16).padStart(64, '0');

const ecdh = ((): ReturnType<typeof createECDH> | undefined => {
  try {
    return createECDH('SM2');
  } catch {
    return undefined;
  }
})();

/** 04‖x‖y of k·G by OpenSSL, or undefined when Node has no SM2 curve. */
function opensslPoint(k: bigint): string | undefined {
  if (!ecdh) return undefined;
  ecdh.setPrivateKey(Buffer.from(bigIntToBytes(k, 32)));
  return ecdh.getPublicKey('hex');
}

function check(k: bigint): void {
  const { x, y } = sm2BaseMultiply(k);
  const ours = `04${hex64(x)}${hex64(y)}`;
  assert.equal(ours, gm.getPublicKeyFromPrivateKey(hex64(k)).toLowerCase(), `sm-crypto-v2, k = ${hex64(k)}`);
  const native = opensslPoint(k);
  if (native !== undefined) assert.equal(ours, native, `OpenSSL, k = ${hex64(k)}`);
  assert.equal(sm2BaseX(bigIntToBytes(k, 32)), x, `x alone, k = ${hex64(k)}`);
}

const edges: bigint[] = [
  1n, 2n, 3n, 4n, 127n, 128n, 129n, 255n, 256n, 257n, 511n, 512n, 65535n, 65536n,
  SM2_N - 1n, SM2_N - 2n, SM2_N - 3n, SM2_N - 255n, SM2_N - 256n, SM2_N - 257n,
  (SM2_N - 1n) / 2n, (SM2_N + 1n) / 2n,
  1n << 255n, (1n << 255n) - 1n, (1n << 255n) + 1n, SM2_N - (1n << 255n),
  // The exceptional additions of the last windows: 2^256 − n (and n minus it) pass through the point at infinity,
  // 254·2^248 and n − 254·2^248 add a point to itself.
  (1n << 256n) - SM2_N, SM2_N - ((1n << 256n) - SM2_N), 254n << 248n, SM2_N - (254n << 248n),
  (1n << 257n) % SM2_N, SM2_N - ((1n << 257n) % SM2_N),
  BigInt(`0x${'80'.repeat(32)}`), BigInt(`0x${'7f'.repeat(32)}`), BigInt(`0x${'01'.repeat(32)}`), BigInt(`0x${'ff'.repeat(31)}`),
  // Each window's first power, its neighbours, and a full window of ones.
  ...Array.from({ length: 32 }, (_, i) => [1n << BigInt(8 * i), (1n << BigInt(8 * i)) + 1n, (1n << BigInt(8 * i + 8)) - 1n, 255n << BigInt(8 * i)]).flat(),
].filter((k) => k >= 1n && k < SM2_N);

void describe('SM2 base-point table: k·G', () => {
  void it('equals OpenSSL and sm-crypto-v2 at the edge scalars', () => {
    if (!ecdh) console.log('# Node has no SM2 curve here: checked against sm-crypto-v2 only');
    for (const k of edges) check(k);
  });

  void it('equals OpenSSL and sm-crypto-v2 for random k in [1, n − 1]', () => {
    fc.assert(fc.property(fc.bigInt({ min: 1n, max: SM2_N - 1n }), (k) => check(k)), { numRuns: 300 });
  });

  void it('gives the same x in a batch (one inversion for all) as one by one', () => {
    fc.assert(fc.property(fc.array(fc.bigInt({ min: 1n, max: SM2_N - 1n }), { minLength: 1, maxLength: 20 }), (ks) => {
      const packed = new Uint8Array(ks.length * 32);
      ks.forEach((k, i) => packed.set(bigIntToBytes(k, 32), i * 32));
      assert.deepEqual(sm2BaseXBatch(packed, ks.length), ks.map((k) => sm2BaseMultiply(k).x));
    }), { numRuns: 30 });
  });

  void it('refuses scalars outside [1, n − 1] and of the wrong length', () => {
    assert.throws(() => sm2BaseMultiply(0n), RangeError);
    assert.throws(() => sm2BaseMultiply(SM2_N), RangeError);
    assert.throws(() => sm2BaseX(bigIntToBytes(SM2_N + 5n, 32)), RangeError);
    assert.throws(() => sm2BaseX(new Uint8Array(31).fill(1)), TypeError);
    assert.throws(() => sm2BaseXBatch(new Uint8Array(64), 2), RangeError);
    assert.throws(() => sm2BaseXBatch(new Uint8Array(64), 1), TypeError);
  });
});
