import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sealSecret, openSecret, loadOrCreateMasterKey, createSigningKey, openSigningKey, signingKeyId } from './key-store.ts';
import { sm2Sign, sm2Verify } from './sm2.ts';
import { sm3Hex } from './sm3.ts';

const master = new Uint8Array(randomBytes(32));
const secret = new TextEncoder().encode('the private thing');

void describe('sealSecret / openSecret', () => {
  void it('round-trips and produces the documented envelope', () => {
    const env = sealSecret(master, secret, 'signing-key:a');
    assert.match(env, /^v1\.aes-256-gcm\.1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(openSecret(master, env, 'signing-key:a'), secret);
    assert.notEqual(env, sealSecret(master, secret, 'signing-key:a'), 'random IV');
    assert.deepEqual(openSecret(master, sealSecret(master, new Uint8Array(0), 'x'), 'x'), new Uint8Array(0));
  });

  void it('throws on a wrong key, a wrong label and any tampering', () => {
    const env = sealSecret(master, secret, 'signing-key:a');
    assert.throws(() => openSecret(new Uint8Array(randomBytes(32)), env, 'signing-key:a'), /authentication failed/);
    assert.throws(() => openSecret(master, env, 'signing-key:b'), /authentication failed/);
    const parts = env.split('.');
    for (const i of [3, 4, 5]) {
      const p = parts[i]!;
      const flipped = [...parts];
      flipped[i] = (p[0] === 'A' ? 'B' : 'A') + p.slice(1);
      assert.throws(() => openSecret(master, flipped.join('.'), 'signing-key:a'), Error, `part ${i}`);
    }
    assert.throws(() => openSecret(master, env.replace('.1.', '.2.'), 'signing-key:a'), /authentication failed/);
    assert.throws(() => openSecret(master, env.replace('v1.', 'v2.'), 'signing-key:a'), /unsupported/);
    assert.throws(() => openSecret(master, 'garbage', 'x'), /malformed/);
  });

  void it('never leaks the plaintext or key in errors', () => {
    const env = sealSecret(master, secret, 'l');
    try {
      openSecret(master, env, 'other');
      assert.fail('should throw');
    } catch (e) {
      const text = String(e) + JSON.stringify(e);
      assert.ok(!text.includes('private thing'));
      assert.ok(!text.includes(Buffer.from(master).toString('hex')));
    }
  });

  void it('supports master key versions for rotation', () => {
    const k2 = new Uint8Array(randomBytes(32));
    const env = sealSecret(k2, secret, 'x', { keyVersion: 2 });
    assert.ok(env.startsWith('v1.aes-256-gcm.2.'));
    const keys = new Map([[1, master], [2, k2]]);
    assert.deepEqual(openSecret(keys, env, 'x'), secret);
    assert.deepEqual(openSecret(keys, sealSecret(master, secret, 'x'), 'x'), secret);
    assert.throws(() => openSecret(new Map([[1, master]]), env, 'x'), /version 2 is not available/);
    assert.throws(() => sealSecret(new Uint8Array(16), secret, 'x'), /32 bytes/);
  });
});

void describe('loadOrCreateMasterKey', () => {
  void it('creates master.key (0600) once and reads it back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-keys-'));
    try {
      const dataDir = join(dir, 'data');
      const a = loadOrCreateMasterKey(dataDir);
      assert.equal(a.length, 32);
      assert.equal(statSync(join(dataDir, 'master.key')).mode & 0o777, 0o600);
      assert.deepEqual(loadOrCreateMasterKey(dataDir), a);
      assert.deepEqual(new Uint8Array(readFileSync(join(dataDir, 'master.key'))), a);
      writeFileSync(join(dataDir, 'master.key'), 'short');
      assert.throws(() => loadOrCreateMasterKey(dataDir), /32 bytes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('prefers the environment value and rejects a bad one without echoing it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-keys-'));
    try {
      const b64 = Buffer.from(master).toString('base64');
      assert.deepEqual(loadOrCreateMasterKey(dir, b64), master);
      assert.throws(() => statSync(join(dir, 'master.key')), 'no file written when the env value is used');
      const bad = 'c2VjcmV0LXNob3J0';
      assert.throws(() => loadOrCreateMasterKey(dir, bad), (e: Error) => !e.message.includes(bad) && /base64 of 32 bytes/.test(e.message));
      assert.throws(() => loadOrCreateMasterKey(dir, `${b64}!`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

void describe('signing keys', () => {
  void it('creates an SM2 key with id sm2-<16 hex of SM3(public key)> and a sealed private key', () => {
    const rec = createSigningKey(master);
    assert.match(rec.id, /^sm2-[0-9a-f]{16}$/);
    assert.equal(rec.id, `sm2-${sm3Hex(Buffer.from(rec.publicKey, 'hex')).slice(0, 16)}`);
    assert.equal(signingKeyId(rec.publicKey), rec.id);
    assert.ok(rec.privateKeySealed.startsWith('v1.aes-256-gcm.1.'));
    const priv = openSigningKey(master, rec);
    const msg = new TextEncoder().encode('m');
    assert.ok(sm2Verify(rec.publicKey, msg, sm2Sign(priv, msg, rec.publicKey)));
    // The sealed key is bound to its id: moving it to another record fails.
    const other = createSigningKey(master);
    assert.throws(() => openSigningKey(master, { ...other, privateKeySealed: rec.privateKeySealed }), /authentication failed/);
  });
});
