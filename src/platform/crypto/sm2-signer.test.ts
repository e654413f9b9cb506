// The signer's deterministic nonces (RFC 6979 with HMAC-SM3): the same key and message give the same signature on
// every k·G path (k is derived, not drawn, so all compute the same r and s), and the signature is an ordinary SM2
// signature (OpenSSL verifies it too: sm2-openssl.test.ts). Then the random nonces of the table path, drawn ahead in
// batches: never the same twice, across batches.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateSm2KeyPair, SM2_N, sm2Verify } from './sm2.ts';
import { derToRaw } from './sm2-encoding.ts';
import { createSm2Signer, rfc6979Nonces } from './sm2-signer.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

void describe('SM2 signer: deterministic nonces', () => {
  const key = generateSm2KeyPair();
  const native = createSm2Signer(key.privateKey, key.publicKey, { native: true });
  const js = createSm2Signer(key.privateKey, key.publicKey, { native: false });
  const table = createSm2Signer(key.privateKey, key.publicKey);

  void it('signs the same message with the same bytes, on both paths, and the signatures verify', () => {
    for (const m of [utf8('Doc_0/Signs/Sign_0/Signature.xml'), new Uint8Array(0), utf8('发票 ✓'.repeat(300))]) {
      const a = native.signDeterministic(m);
      assert.deepEqual(native.signDeterministic(m), a);
      assert.deepEqual(js.signDeterministic(m), a, 'the pure-JS path derives the same k');
      assert.deepEqual(table.signDeterministic(m), a, 'the table path derives the same k');
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

void describe('SM2 signer: k·G paths and random nonces', () => {
  const key = generateSm2KeyPair();

  void it('uses OpenSSL\'s constant-time k·G by default, the table only when asked; native: false is the library', () => {
    assert.equal(createSm2Signer(key.privateKey).baseMul, 'openssl', 'the constant-time path unless the table is asked for');
    assert.equal(createSm2Signer(key.privateKey).native, true);
    assert.equal(createSm2Signer(key.privateKey, undefined, { baseMul: 'table' }).baseMul, 'table');
    assert.equal(createSm2Signer(key.privateKey, undefined, { baseMul: 'table' }).native, false);
    assert.equal(createSm2Signer(key.privateKey, undefined, { native: false }).baseMul, 'library');
    const openssl = createSm2Signer(key.privateKey, undefined, { native: true });
    // Without an SM2 curve in the running OpenSSL the signer falls back to the table.
    assert.ok(openssl.baseMul === 'openssl' ? openssl.native : openssl.baseMul === 'table');
    assert.equal(createSm2Signer(key.privateKey, undefined, { native: true, baseMul: 'library' }).baseMul, 'library');
  });

  void it('never draws the same k twice: 200 signatures of one message, over many nonce batches, all differ in r', () => {
    const signer = createSm2Signer(key.privateKey, key.publicKey);
    const m = utf8('one message, many signatures');
    const rs = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const der = signer.sign(m);
      assert.ok(sm2Verify(key.publicKey, m, der));
      rs.add(Buffer.from(derToRaw(der).subarray(0, 32)).toString('hex'));
    }
    assert.equal(rs.size, 200);
  });

  void it('two signers of the same key draw independent nonces', () => {
    const a = createSm2Signer(key.privateKey, key.publicKey);
    const b = createSm2Signer(key.privateKey, key.publicKey);
    const m = utf8('same message');
    const r = (der: Uint8Array): string => Buffer.from(derToRaw(der).subarray(0, 32)).toString('hex');
    const seen = new Set(Array.from({ length: 40 }, () => r(a.sign(m))));
    for (let i = 0; i < 40; i++) assert.ok(!seen.has(r(b.sign(m))));
  });
});
