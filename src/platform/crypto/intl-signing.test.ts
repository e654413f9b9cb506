// The international profile's signatures (ECDSA-P256 with SHA-256, Ed25519) checked by independent implementations:
// OpenSSL's command line, the way a buyer outside China checks one, and @noble/curves (pure JS, no OpenSSL).
//   ECDSA-P256  openssl dgst -sha256 -verify pub.pem -signature sig.der msg
//   Ed25519     openssl pkeyutl -verify -rawin -pubin -inkey pub.pem -in msg -sigfile sig
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/p256';
import { ed25519 } from '@noble/curves/ed25519';
import { createIntlSigner, generateIntlKeyPair, intlPublicKeyFromPrivate, intlPublicKeyToSpki, intlVerify, type IntlAlgorithm } from './intl-signing.ts';
import { publicKeyFromSpki, publicKeySpki, rawSignature, storedSignature, verifySignature } from './signatures.ts';
import { createSigningKey, openSigningKey, signingKeyId } from './key-store.ts';
import { createSignerPool } from './signer-pool.ts';
import { generateSm2KeyPair, sm2Verify } from './sm2.ts';

function openssl(args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const pem = (der: Uint8Array): string => `-----BEGIN PUBLIC KEY-----\n${Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PUBLIC KEY-----\n`;
const flip = (b: Uint8Array, at: number): Uint8Array => {
  const c = new Uint8Array(b);
  c[at] = c[at]! ^ 0x01;
  return c;
};

const MESSAGES: [string, Uint8Array][] = [
  ['an invoice signing message', new TextEncoder().encode(`01,32,,26312000000000000001,113.00,20261124,,1A2B,${'ab'.repeat(32)}`)],
  ['UTF-8 text', new TextEncoder().encode('电子发票 e-invoice')],
  ['one byte', new Uint8Array([0])],
  ['4 KiB random', new Uint8Array(randomBytes(4096))],
];
const ALGS: IntlAlgorithm[] = ['ECDSA-P256', 'Ed25519'];

void describe('international signatures (ECDSA-P256, Ed25519)', () => {
  let dir = '';
  let n = 0;
  const file = (name: string, content?: string | Uint8Array): string => {
    const path = join(dir, `${n++}-${name}`);
    if (content !== undefined) writeFileSync(path, content);
    return path;
  };
  void before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fapiao-intl-'));
  });
  void after(() => rmSync(dir, { recursive: true, force: true }));

  /** OpenSSL's verdict on a signature, from the published SubjectPublicKeyInfo alone. */
  function opensslVerifies(alg: IntlAlgorithm, spki: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    const [pub, msg, sig] = [file('pub.pem', pem(spki)), file('msg.bin', message), file('sig.bin', signature)];
    const r = alg === 'ECDSA-P256'
      ? openssl(['dgst', '-sha256', '-verify', pub, '-signature', sig, msg])
      : openssl(['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', pub, '-in', msg, '-sigfile', sig]);
    return r.ok && /Verified OK|Signature Verified Successfully/.test(r.stdout);
  }

  function nobleVerifies(alg: IntlAlgorithm, publicKeyHex: string, message: Uint8Array, signature: Uint8Array): boolean {
    const pub = Buffer.from(publicKeyHex, 'hex');
    try {
      return alg === 'ECDSA-P256'
        ? p256.verify(signature, message, pub, { prehash: true, format: 'der' })
        : ed25519.verify(signature, message, pub);
    } catch {
      return false;
    }
  }

  for (const alg of ALGS) {
    void it(`${alg}: keys are hex of the documented sizes, the public key follows from the private one`, () => {
      const k = generateIntlKeyPair(alg);
      assert.match(k.privateKey, /^[0-9a-f]{64}$/);
      assert.match(k.publicKey, alg === 'ECDSA-P256' ? /^04[0-9a-f]{128}$/ : /^[0-9a-f]{64}$/);
      assert.equal(intlPublicKeyFromPrivate(alg, k.privateKey), k.publicKey);
      const other = generateIntlKeyPair(alg);
      assert.throws(() => createIntlSigner(alg, other.privateKey, k.publicKey), /does not match/);
      // The SPKI is what OpenSSL reads, and round-trips.
      const spki = intlPublicKeyToSpki(alg, k.publicKey);
      const text = openssl(['pkey', '-pubin', '-in', file('pub.pem', pem(spki)), '-noout', '-text']);
      assert.ok(text.ok, text.stderr);
      assert.match(text.stdout, alg === 'ECDSA-P256' ? /prime256v1|P-256/ : /ED25519/);
      assert.deepEqual(publicKeyFromSpki(pem(spki)), { alg, publicKey: k.publicKey });
    });

    for (const [label, message] of MESSAGES) {
      void it(`${alg}: OpenSSL and @noble/curves verify our signature of ${label}; one changed byte fails both`, () => {
        const k = generateIntlKeyPair(alg);
        const signer = createIntlSigner(alg, k.privateKey, k.publicKey);
        const sig = signer.sign(message);
        if (alg === 'Ed25519') assert.equal(sig.length, 64);
        else assert.equal(sig[0], 0x30, 'DER');
        const spki = intlPublicKeyToSpki(alg, k.publicKey);
        assert.ok(intlVerify(alg, k.publicKey, message, sig), 'ours');
        assert.ok(opensslVerifies(alg, spki, message, sig), 'openssl');
        assert.ok(nobleVerifies(alg, k.publicKey, message, sig), '@noble/curves');
        const badMessage = flip(message, message.length - 1);
        const badSig = flip(sig, sig.length - 2);
        for (const [m, s, what] of [[badMessage, sig, 'message'], [message, badSig, 'signature']] as const) {
          assert.equal(intlVerify(alg, k.publicKey, m, s), false, `ours, changed ${what}`);
          assert.equal(opensslVerifies(alg, spki, m, s), false, `openssl, changed ${what}`);
          assert.equal(nobleVerifies(alg, k.publicKey, m, s), false, `@noble/curves, changed ${what}`);
        }
        assert.equal(intlVerify(alg, generateIntlKeyPair(alg).publicKey, message, sig), false, 'another key');
      });
    }

    void it(`${alg}: a signature made by OpenSSL verifies under ours`, () => {
      const key = file('key.pem');
      assert.ok(openssl(alg === 'ECDSA-P256' ? ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key] : ['genpkey', '-algorithm', 'ED25519', '-out', key]).ok);
      const pubDer = file('pub.der');
      assert.ok(openssl(['pkey', '-in', key, '-pubout', '-outform', 'DER', '-out', pubDer]).ok);
      const pub = publicKeyFromSpki(new Uint8Array(readFileSync(pubDer)));
      assert.equal(pub?.alg, alg);
      const message = MESSAGES[0]![1];
      const [msg, sig] = [file('msg.bin', message), file('sig.bin')];
      const r = alg === 'ECDSA-P256'
        ? openssl(['dgst', '-sha256', '-sign', key, '-out', sig, msg])
        : openssl(['pkeyutl', '-sign', '-rawin', '-inkey', key, '-in', msg, '-out', sig]);
      assert.ok(r.ok, r.stderr);
      const signature = new Uint8Array(readFileSync(sig));
      assert.ok(verifySignature(alg, pub.publicKey, message, signature));
      assert.equal(verifySignature(alg, pub.publicKey, flip(message, 0), signature), false);
    });

    void it(`${alg}: the QR's 64-byte form round-trips, and malformed input never throws from verify`, () => {
      const k = generateIntlKeyPair(alg);
      const sig = createIntlSigner(alg, k.privateKey, k.publicKey).sign(MESSAGES[0]![1]);
      const raw = rawSignature(alg, sig);
      assert.equal(raw.length, 64);
      assert.deepEqual(storedSignature(alg, raw), sig);
      for (const bad of [new Uint8Array(0), new Uint8Array(63), new Uint8Array(72).fill(0x30), sig.subarray(1)]) {
        assert.equal(verifySignature(alg, k.publicKey, MESSAGES[0]![1], bad), false);
      }
      assert.equal(verifySignature(alg, 'zz', MESSAGES[0]![1], sig), false, 'a malformed key');
    });

    void it(`${alg}: a stored key is sealed under the master key and opens to the same pair, its id naming the algorithm`, () => {
      const master = new Uint8Array(randomBytes(32));
      const rec = createSigningKey(master, { alg });
      assert.equal(rec.alg, alg);
      assert.match(rec.id, alg === 'ECDSA-P256' ? /^p256-[0-9a-f]{16}$/ : /^ed25519-[0-9a-f]{16}$/);
      assert.equal(rec.id, signingKeyId(rec.publicKey, alg));
      const priv = openSigningKey(master, rec);
      assert.equal(intlPublicKeyFromPrivate(alg, priv), rec.publicKey);
      assert.throws(() => openSigningKey(master, { ...rec, publicKey: generateIntlKeyPair(alg).publicKey }), /does not match/);
      assert.throws(() => openSigningKey(master, { ...rec, alg: 'SM2' }), /does not match|must be/);
    });
  }

  void it('SM2 keys keep their form: id sm2-…, the SPKI of the SM2 curve', () => {
    const master = new Uint8Array(randomBytes(32));
    const rec = createSigningKey(master);
    assert.match(rec.id, /^sm2-[0-9a-f]{16}$/);
    assert.equal(rec.alg, 'SM2');
    assert.deepEqual(publicKeyFromSpki(publicKeySpki('SM2', rec.publicKey)), { alg: 'SM2', publicKey: rec.publicKey });
  });

  for (const size of [0, 1]) {
    void it(`signer pool of size ${size}: signs with the algorithm a request names, keys given at start or added later`, async () => {
      const sm2 = generateSm2KeyPair();
      const p = generateIntlKeyPair('ECDSA-P256');
      const e = generateIntlKeyPair('Ed25519');
      const pool = createSignerPool({ size, privateKeyHex: sm2.privateKey, publicKeyHex: sm2.publicKey, keys: [{ alg: 'ECDSA-P256', privateKeyHex: p.privateKey, publicKeyHex: p.publicKey }] });
      try {
        const msgs = MESSAGES.map(([, m]) => m);
        assert.deepEqual(pool.algorithms(), ['SM2', 'ECDSA-P256']);
        await assert.rejects(pool.sign(msgs, { alg: 'Ed25519' }), /no Ed25519 key/);
        assert.throws(() => pool.addKey({ alg: 'Ed25519', privateKeyHex: e.privateKey, publicKeyHex: p.publicKey.slice(2, 66) }), /does not match|must be/);
        pool.addKey({ alg: 'Ed25519', privateKeyHex: e.privateKey, publicKeyHex: e.publicKey });
        const [bySm2, byP256, byEd] = await Promise.all([pool.sign(msgs), pool.sign(msgs, { alg: 'ECDSA-P256' }), pool.sign(msgs, { alg: 'Ed25519' })]);
        msgs.forEach((m, i) => {
          assert.ok(sm2Verify(sm2.publicKey, m, bySm2[i]!), 'SM2 by default');
          assert.ok(nobleVerifies('ECDSA-P256', p.publicKey, m, byP256[i]!), 'P-256');
          assert.ok(nobleVerifies('Ed25519', e.publicKey, m, byEd[i]!), 'Ed25519');
        });
        assert.deepEqual(await pool.sign(msgs, { alg: 'Ed25519', deterministic: true }), byEd, 'Ed25519 is deterministic');
        await assert.rejects(pool.sign(msgs, { alg: 'ECDSA-P256', deterministic: true }), /deterministic ECDSA/);
      } finally {
        await pool.close();
      }
    });
  }
});
