// The signer's deterministic nonces (RFC 6979 with HMAC-SM3): the same key and message give the same signature, on
// the native and the pure-JS path alike (k is derived, not drawn, so both compute the same r and s), and the
// signature is an ordinary SM2 signature (OpenSSL verifies it too: sm2-openssl.test.ts).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSm2KeyPair, SM2_N, sm2Verify } from './sm2.ts';
import { createSm2Signer, rfc6979Nonces } from './sm2-signer.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

void describe('SM2 signer: deterministic nonces', () => {
  const key = generateSm2KeyPair();
  const native = createSm2Signer(key.privateKey, key.publicKey);
  const js = createSm2Signer(key.privateKey, key.publicKey, { native: false });

  void it('signs the same message with the same bytes, on both paths, and the signatures verify', () => {
    for (const m of [utf8('Doc_0/Signs/Sign_0/Signature.xml'), new Uint8Array(0), utf8('发票 ✓'.repeat(300))]) {
      const a = native.signDeterministic(m);
      assert.deepEqual(native.signDeterministic(m), a);
      assert.deepEqual(js.signDeterministic(m), a, 'the pure-JS path derives the same k');
      assert.ok(sm2Verify(key.publicKey, m, a));
      assert.ok(!sm2Verify(key.publicKey, new Uint8Array([...m, 0]), a));
    }
  });

  void it('differs for another message or another key, and the random path stays random', () => {
    const m = utf8('same message');
    assert.notDeepEqual(native.signDeterministic(m), native.signDeterministic(utf8('same message.')));
    const other = generateSm2KeyPair();
    assert.notDeepEqual(createSm2Signer(other.privateKey, other.publicKey).signDeterministic(m), native.signDeterministic(m));
    assert.notDeepEqual(native.sign(m), native.sign(m));
  });

  void it('draws each next candidate k in [1, n−1], never the same twice', () => {
    const next = rfc6979Nonces(BigInt(`0x${key.privateKey}`), new Uint8Array(32).fill(7));
    const ks = Array.from({ length: 5 }, next);
    assert.ok(ks.every((k) => k >= 1n && k < SM2_N));
    assert.equal(new Set(ks).size, 5);
    assert.equal(rfc6979Nonces(BigInt(`0x${key.privateKey}`), new Uint8Array(32).fill(7))(), ks[0]);
  });
});
