import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as nodeSign, randomBytes } from 'node:crypto';
import { sm2 as gm } from 'sm-crypto-v2';
import {
  SM2_N, generateSm2KeyPair, isValidPrivateKey, isValidPublicKey, sm2PublicKeyFromPrivate, sm2Z, sm2Digest,
  sm2Sign, sm2SignRaw, sm2Verify, sm2VerifyRaw, precomputeSm2PublicKey,
} from './sm2.ts';
import { createSm2Signer } from './sm2-signer.ts';
import {
  derToRaw, derToRawOrUndefined, rawToDer, toBase64url, fromBase64url, sm2PublicKeyToSpki, sm2PublicKeyFromSpki,
  sm2PublicKeyToPem, bigIntToBytes,
} from './sm2-encoding.ts';
import { signingMessage } from '../../modules/invoicing/domain/qr-payload.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const key = generateSm2KeyPair();
const message = signingMessage('01,02,,24312000000000000001,113.00,20261101,,1A2B', 'ab'.repeat(32));

/** Every way this module can sign; each must produce standard SM2 signatures. */
const signers: [string, (m: Uint8Array) => Uint8Array][] = [
  ['sm2Sign', (m) => sm2Sign(key.privateKey, m, key.publicKey)],
  ['sm2Sign (public key derived)', (m) => sm2Sign(key.privateKey, m)],
  ['signer, base-point table (default)', (m) => createSm2Signer(key.privateKey, key.publicKey).sign(m)],
  ['signer, OpenSSL k·G', (m) => createSm2Signer(key.privateKey, key.publicKey, { baseMul: 'openssl' }).sign(m)],
  ['signer, sm-crypto-v2 (pure-JS library)', (m) => createSm2Signer(key.privateKey, key.publicKey, { native: false }).sign(m)],
];

void describe('SM2 keys', () => {
  void it('generates 64-hex private and 130-hex uncompressed public keys that belong together', () => {
    assert.match(key.privateKey, /^[0-9a-f]{64}$/);
    assert.match(key.publicKey, /^04[0-9a-f]{128}$/);
    assert.equal(sm2PublicKeyFromPrivate(key.privateKey), key.publicKey);
    assert.ok(isValidPublicKey(key.publicKey));
  });

  void it('derives d·G as the library does, at the ends of the scalar range and at random', () => {
    const h = (n: bigint): string => n.toString(16).padStart(64, '0');
    const scalars = [1n, 2n, 3n, 0xffn, SM2_N - 3n, SM2_N - 2n, ...Array.from({ length: 16 }, () => BigInt(`0x${randomBytes(32).toString('hex')}`) % (SM2_N - 2n) + 1n)];
    for (const d of scalars) assert.equal(sm2PublicKeyFromPrivate(h(d)), gm.getPublicKeyFromPrivateKey(h(d)).toLowerCase(), h(d));
  });

  void it('accepts d ∈ [1, n−2] only (1 + d must be invertible)', () => {
    const h = (n: bigint): string => n.toString(16).padStart(64, '0');
    assert.ok(isValidPrivateKey(h(1n)));
    assert.ok(isValidPrivateKey(h(SM2_N - 2n)));
    assert.ok(!isValidPrivateKey(h(0n)));
    assert.ok(!isValidPrivateKey(h(SM2_N - 1n)));
    assert.ok(!isValidPrivateKey('zz'.repeat(32)));
    assert.throws(() => sm2Sign(h(0n), message));
  });

  void it('rejects points off the curve', () => {
    const bad = key.publicKey.slice(0, -2) + (key.publicKey.endsWith('00') ? '01' : '00');
    assert.ok(!isValidPublicKey(bad));
    assert.ok(!isValidPublicKey(`02${key.publicKey.slice(2, 66)}`));
  });

  void it('computes Z_A and e = SM3(Z_A ‖ M) like sm-crypto-v2 (default ID 1234567812345678)', () => {
    assert.equal(hex(sm2Z(key.publicKey)), hex(gm.getZ(key.publicKey)));
    assert.equal(hex(sm2Z(key.publicKey, 'alice@example')), hex(gm.getZ(key.publicKey, 'alice@example')));
    assert.equal(hex(sm2Digest(key.publicKey, message)), gm.getHash(message, key.publicKey));
  });
});

void describe('SM2 sign and verify', () => {
  for (const [name, signFn] of signers) {
    void it(`${name}: verifies here and in sm-crypto-v2, and fails on any change`, () => {
      for (const m of [message, new Uint8Array(0), utf8('发票 ✓'), randomBytes(1000)]) {
        const der = signFn(m);
        assert.ok(sm2Verify(key.publicKey, m, der));
        assert.ok(gm.doVerifySignature(m, hex(der), key.publicKey, { hash: true, der: true }), 'sm-crypto-v2 with hash:true');
        const tampered = new Uint8Array([...m, 0x20]);
        assert.ok(!sm2Verify(key.publicKey, tampered, der));
      }
    });
  }

  void it('is randomised and treats the message as bytes (not as hex or UTF-8 text of hex)', () => {
    const a = sm2Sign(key.privateKey, utf8('abcd'), key.publicKey);
    assert.notEqual(hex(a), hex(sm2Sign(key.privateKey, utf8('abcd'), key.publicKey)));
    assert.ok(!sm2Verify(key.publicKey, Buffer.from('abcd', 'hex'), a));
    assert.ok(gm.doVerifySignature('abcd', hex(a), key.publicKey, { hash: true, der: true }), 'library reads a string as UTF-8');
  });

  void it('verifies signatures made by sm-crypto-v2 itself (hash: true, der: true)', () => {
    const der = Buffer.from(gm.doSignature(message, key.privateKey, { hash: true, der: true, publicKey: key.publicKey }), 'hex');
    assert.ok(sm2Verify(key.publicKey, message, der));
  });

  void it('rejects a wrong key, and every single-bit flip of the signature', () => {
    const der = sm2Sign(key.privateKey, message, key.publicKey);
    assert.ok(!sm2Verify(generateSm2KeyPair().publicKey, message, der));
    for (let i = 0; i < der.length * 8; i += 3) {
      const flipped = new Uint8Array(der);
      flipped[i >> 3]! ^= 1 << (i & 7);
      assert.equal(sm2Verify(key.publicKey, message, flipped), false, `bit ${i}`);
    }
  });

  void it('returns false (never throws) on garbage', () => {
    const der = sm2Sign(key.privateKey, message, key.publicKey);
    const raw = derToRaw(der);
    const zero = new Uint8Array(32);
    const nBytes = bigIntToBytes(SM2_N, 32);
    const cases: [string, unknown, unknown, unknown][] = [
      ['empty signature', key.publicKey, message, new Uint8Array(0)],
      ['raw r‖s given as DER', key.publicKey, message, raw],
      ['random bytes', key.publicKey, message, randomBytes(71)],
      ['trailing byte', key.publicKey, message, new Uint8Array([...der.subarray(0, 1), der[1]! + 1, ...der.subarray(2), 0])],
      ['BER long-form length', key.publicKey, message, new Uint8Array([0x30, 0x81, der[1]!, ...der.subarray(2)])],
      ['r = 0', key.publicKey, message, rawToDer(new Uint8Array([...zero, ...raw.subarray(32)]))],
      ['s = 0', key.publicKey, message, rawToDer(new Uint8Array([...raw.subarray(0, 32), ...zero]))],
      ['r = n', key.publicKey, message, rawToDer(new Uint8Array([...nBytes, ...raw.subarray(32)]))],
      ['s = n', key.publicKey, message, rawToDer(new Uint8Array([...raw.subarray(0, 32), ...nBytes]))],
      ['bad public key', 'nothex', message, der],
      ['compressed public key', `02${key.publicKey.slice(2, 66)}`, message, der],
      ['string message', key.publicKey, 'hello', der],
      ['null signature', key.publicKey, message, null],
    ];
    for (const [name, pub, m, sig] of cases) {
      assert.equal(sm2Verify(pub as string, m as Uint8Array, sig as Uint8Array), false, name);
    }
    assert.equal(sm2VerifyRaw(key.publicKey, message, der), false);
  });

  void it('rejects plain ECDSA over the SM2 curve (what node:crypto signs with an SM2-curve EC key)', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'SM2' });
    const pub = sm2PublicKeyFromSpki(ec.publicKey.export({ format: 'der', type: 'spki' }));
    const pkcs8 = ec.privateKey.export({ format: 'der', type: 'pkcs8' });
    const d = hex(pkcs8.subarray(pkcs8.indexOf(Buffer.from('0201010420', 'hex')) + 5).subarray(0, 32));
    assert.equal(sm2PublicKeyFromPrivate(d), pub, 'extracted the same key');
    for (const digest of ['sha256', 'sm3']) {
      const ecdsa = nodeSign(digest, message, ec.privateKey);
      assert.ok(derToRawOrUndefined(ecdsa), 'it is a well-formed DER signature');
      assert.equal(sm2Verify(pub, message, ecdsa), false, `ECDSA-${digest} must not pass as SM2`);
    }
    assert.ok(sm2Verify(pub, message, sm2Sign(d, message, pub)), 'a real SM2 signature with that key passes');
  });

  void it('keeps verifying after a key is precomputed', () => {
    precomputeSm2PublicKey(key.publicKey);
    for (let i = 0; i < 3; i++) {
      assert.ok(sm2Verify(key.publicKey, message, sm2Sign(key.privateKey, message, key.publicKey)));
      assert.ok(!sm2Verify(key.publicKey, utf8('x'), sm2Sign(key.privateKey, message, key.publicKey)));
    }
    assert.ok(sm2VerifyRaw(key.publicKey, message, sm2SignRaw(key.privateKey, message)));
  });

  void it('refuses a public key that does not match the private key', () => {
    assert.throws(() => createSm2Signer(key.privateKey, generateSm2KeyPair().publicKey), /does not match/);
    assert.equal(createSm2Signer(key.privateKey).publicKey, key.publicKey);
  });
});

void describe('SM2 encodings', () => {
  void it('round-trips raw ↔ DER, including short and high-bit integers', () => {
    const samples = [
      new Uint8Array(64).fill(0xff),
      new Uint8Array([...new Uint8Array(31), 1, ...new Uint8Array(31), 0x80]),
      new Uint8Array([0, 0x7f, ...new Uint8Array(30).fill(9), 0, 0, 0x81, ...new Uint8Array(29).fill(7)]),
      new Uint8Array(randomBytes(64)),
    ];
    for (const raw of samples) {
      const der = rawToDer(raw);
      assert.deepEqual(derToRaw(der), raw);
    }
    assert.equal(hex(rawToDer(samples[1]!)), '300702010102020080');
    assert.throws(() => derToRaw(new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x02, 0x01])), TypeError, 'truncated');
    assert.equal(derToRawOrUndefined(new Uint8Array([0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01])), undefined, 'non-minimal');
    assert.equal(derToRawOrUndefined(new Uint8Array([0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01])), undefined, 'negative');
  });

  void it('encodes base64url strictly', () => {
    const b = new Uint8Array(randomBytes(64));
    assert.deepEqual(fromBase64url(toBase64url(b)), b);
    assert.equal(toBase64url(new Uint8Array([0xfb, 0xff])), '-_8');
    for (const bad of ['a', 'ab==', 'a+b/', 'ab c', '-_9']) assert.throws(() => fromBase64url(bad), bad);
  });

  void it('writes and reads the SubjectPublicKeyInfo of an SM2 key', () => {
    const spki = sm2PublicKeyToSpki(key.publicKey);
    assert.equal(spki.length, 91);
    assert.equal(sm2PublicKeyFromSpki(spki), key.publicKey);
    assert.equal(sm2PublicKeyFromSpki(sm2PublicKeyToPem(key.publicKey)), key.publicKey);
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    assert.throws(() => sm2PublicKeyFromSpki(p256));
  });
});
