// Interoperability with an independent SM2 implementation: OpenSSL 3's, with the GB/T 32918.2 default user ID.
//   sign:   openssl pkeyutl -sign   -rawin -digest sm3 -inkey key.pem         -in msg -out sig  -pkeyopt distid:1234567812345678
//   verify: openssl pkeyutl -verify -rawin -digest sm3 -pubin -inkey pub.pem  -in msg -sigfile sig -pkeyopt distid:1234567812345678
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SM2_DEFAULT_USER_ID, generateSm2KeyPair, sm2PublicKeyFromPrivate, sm2Sign, sm2Verify } from './sm2.ts';
import { createSm2Signer } from './sm2-signer.ts';
import { sm2PublicKeyToPem, sm2PublicKeyToSpki } from './sm2-encoding.ts';

const DISTID = `distid:${SM2_DEFAULT_USER_ID}`;

function openssl(args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const probeDir = mkdtempSync(join(tmpdir(), 'fapiao-sm2-probe-'));
const sm2Support = openssl(['genpkey', '-algorithm', 'SM2', '-out', join(probeDir, 'k.pem')]).ok;
rmSync(probeDir, { recursive: true, force: true });
const skip = sm2Support ? false : 'openssl with SM2 support is not installed (needs OpenSSL ≥ 1.1.1 built with SM2)';

const messages: [string, Uint8Array][] = [
  ['QR signing message', new TextEncoder().encode(`01,02,,24312000000000000001,113.00,20261101,,1A2B,${'ab'.repeat(32)}`)],
  ['UTF-8 text', new TextEncoder().encode('电子发票 e-invoice')],
  ['one byte', new Uint8Array([0])],
  ['4 KiB random', new Uint8Array(randomBytes(4096))],
];

void describe('SM2 interoperability with OpenSSL', { skip }, () => {
  let dir = '';
  let n = 0;
  const file = (name: string): string => join(dir, `${n++}-${name}`);
  void before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fapiao-sm2-'));
  });
  void after(() => rmSync(dir, { recursive: true, force: true }));

  function opensslVerify(pubPem: string, message: Uint8Array, der: Uint8Array, distid = DISTID): boolean {
    const [pub, msg, sig] = [file('pub.pem'), file('msg.bin'), file('sig.der')];
    writeFileSync(pub, pubPem);
    writeFileSync(msg, message);
    writeFileSync(sig, der);
    const r = openssl(['pkeyutl', '-verify', '-rawin', '-digest', 'sm3', '-pubin', '-inkey', pub, '-in', msg, '-sigfile', sig, '-pkeyopt', distid]);
    return r.ok && r.stdout.includes('Signature Verified Successfully');
  }

  function opensslSign(keyPem: string, message: Uint8Array, distid = DISTID): Uint8Array {
    const [key, msg, sig] = [file('key.pem'), file('msg.bin'), file('sig.der')];
    writeFileSync(key, keyPem, { mode: 0o600 });
    writeFileSync(msg, message);
    const r = openssl(['pkeyutl', '-sign', '-rawin', '-digest', 'sm3', '-inkey', key, '-in', msg, '-out', sig, '-pkeyopt', distid]);
    assert.ok(r.ok, r.stderr);
    return new Uint8Array(readFileSync(sig));
  }

  /** An OpenSSL-generated SM2 key, with its raw scalar and point read from `openssl pkey -text`. */
  function opensslKey(): { pem: string; pubPem: string; privateKey: string; publicKey: string } {
    const path = file('gen.pem');
    assert.ok(openssl(['genpkey', '-algorithm', 'SM2', '-out', path]).ok);
    const text = openssl(['pkey', '-in', path, '-text', '-noout']).stdout;
    const grab = (label: string): string => {
      const m = new RegExp(`${label}:\\n((?:\\s+[0-9a-f:]+\\n)+)`).exec(text);
      assert.ok(m, `no ${label} in openssl output`);
      return m[1]!.replace(/[\s:]/g, '');
    };
    const priv = grab('priv').padStart(64, '0').slice(-64); // OpenSSL prints a leading 00 when the top bit is set
    const pubPem = openssl(['pkey', '-in', path, '-pubout']).stdout;
    return { pem: readFileSync(path, 'utf8'), pubPem, privateKey: priv, publicKey: grab('pub') };
  }

  const ours = generateSm2KeyPair();
  const ourSigners: [string, (m: Uint8Array) => Uint8Array][] = [
    ['sm2Sign', (m) => sm2Sign(ours.privateKey, m, ours.publicKey)],
    ['table signer (default)', (m) => createSm2Signer(ours.privateKey, ours.publicKey).sign(m)],
    ['OpenSSL-k·G signer', (m) => createSm2Signer(ours.privateKey, ours.publicKey, { baseMul: 'openssl' }).sign(m)],
    ['pure-JS library signer', (m) => createSm2Signer(ours.privateKey, ours.publicKey, { native: false }).sign(m)],
    ['table signer, deterministic k', (m) => createSm2Signer(ours.privateKey, ours.publicKey).signDeterministic(m)],
    ['OpenSSL-k·G signer, deterministic k', (m) => createSm2Signer(ours.privateKey, ours.publicKey, { baseMul: 'openssl' }).signDeterministic(m)],
    ['pure-JS library signer, deterministic k', (m) => createSm2Signer(ours.privateKey, ours.publicKey, { native: false }).signDeterministic(m)],
  ];

  for (const [signerName, signFn] of ourSigners) {
    void it(`OpenSSL verifies signatures from ${signerName}`, () => {
      const pem = sm2PublicKeyToPem(ours.publicKey);
      for (const [name, m] of messages) {
        const der = signFn(m);
        assert.ok(opensslVerify(pem, m, der), `${name}: openssl rejected our signature`);
        assert.ok(!opensslVerify(pem, new Uint8Array([...m, 1]), der), `${name}: openssl accepted a tampered message`);
      }
    });
  }

  void it('OpenSSL rejects our signature under another user ID (Z_A really covers the ID)', () => {
    const [, m] = messages[0]!;
    assert.ok(!opensslVerify(sm2PublicKeyToPem(ours.publicKey), m, sm2Sign(ours.privateKey, m), 'distid:1234567812345679'));
  });

  void it('verifies OpenSSL signatures, and signs with an OpenSSL key for OpenSSL', () => {
    const k = opensslKey();
    assert.equal(sm2PublicKeyFromPrivate(k.privateKey), k.publicKey, 'same d·G as OpenSSL');
    assert.equal(sm2PublicKeyToPem(k.publicKey), k.pubPem, 'same SubjectPublicKeyInfo as OpenSSL');
    assert.equal(sm2PublicKeyToSpki(k.publicKey).length, 91);
    for (const [name, m] of messages) {
      const der = opensslSign(k.pem, m);
      assert.ok(sm2Verify(k.publicKey, m, der), `${name}: OpenSSL signature rejected`);
      assert.ok(!sm2Verify(k.publicKey, new Uint8Array([...m, 1]), der), `${name}: tampered message accepted`);
      for (const baseMul of ['table', 'openssl', 'library'] as const) {
        assert.ok(opensslVerify(k.pubPem, m, createSm2Signer(k.privateKey, undefined, { baseMul }).sign(m)), `${name}: our signature (${baseMul}) with OpenSSL's key`);
      }
    }
  });

  void it('rejects an OpenSSL signature made with another user ID', () => {
    const k = opensslKey();
    const [, m] = messages[0]!;
    assert.ok(!sm2Verify(k.publicKey, m, opensslSign(k.pem, m, 'distid:alice@example.com')));
  });
});
