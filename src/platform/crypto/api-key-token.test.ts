import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  generateApiKey, parseApiKey, hashApiKey, verifyApiKey, generateAdminToken, timingSafeEqualString,
} from './api-key-token.ts';

void describe('API keys', () => {
  void it('have the documented shape, prefix and hash', () => {
    const k = generateApiKey();
    assert.match(k.id, /^[0-9a-hjkmnp-tv-z]{12}$/);
    assert.match(k.secret, /^fp_live_[0-9a-z]{12}_[0-9A-Za-z]{32}$/);
    assert.equal(k.prefix, `fp_live_${k.id}`);
    assert.ok(k.secret.startsWith(`${k.prefix}_`));
    assert.equal(k.hash, createHash('sha256').update(k.secret).digest('hex'));
    assert.equal(hashApiKey(k.secret), k.hash);
    assert.ok(!k.hash.includes(k.secret));
  });

  void it('are unique', () => {
    const ids = new Set(Array.from({ length: 500 }, () => generateApiKey().id));
    assert.equal(ids.size, 500);
  });

  void it('parse only when well-formed', () => {
    const k = generateApiKey();
    assert.deepEqual(parseApiKey(k.secret), { id: k.id, prefix: k.prefix });
    for (const bad of ['', k.prefix, `${k.secret}x`, k.secret.slice(0, -1), k.secret.replace('fp_live_', 'fp_test_'), ` ${k.secret}`,
      `fp_live_ILOU00000000_${'a'.repeat(32)}`, `fp_live_${k.id}_${'-'.repeat(32)}`]) {
      assert.equal(parseApiKey(bad), undefined, bad);
    }
    assert.equal(parseApiKey(42 as unknown as string), undefined);
  });

  void it('verify against the stored hash', () => {
    const k = generateApiKey();
    assert.ok(verifyApiKey(k.secret, k.hash));
    assert.ok(!verifyApiKey(generateApiKey().secret, k.hash));
    assert.ok(!verifyApiKey(k.secret, ''));
  });
});

void describe('admin token and constant-time compare', () => {
  void it('admin tokens carry 256 bits', () => {
    const t = generateAdminToken();
    assert.match(t, /^fp_admin_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(t, generateAdminToken());
  });

  void it('timingSafeEqualString compares any lengths without throwing', () => {
    assert.ok(timingSafeEqualString('abc', 'abc'));
    assert.ok(!timingSafeEqualString('abc', 'abd'));
    assert.ok(!timingSafeEqualString('abc', 'abcd'));
    assert.ok(timingSafeEqualString('', ''));
    assert.ok(timingSafeEqualString('发票', '发票'));
  });
});
