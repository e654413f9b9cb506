import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/spawn-server.ts';

describe('fapiao CLI', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-cli-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('init creates the data directory once, with private key files', async () => {
    const first = await runCli(['init'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /created master key/);
    for (const f of ['master.key', 'tls/ca.pem', 'tls/server.pem', 'tls/server.key', 'fapiao.db', 'admin-token']) {
      assert.ok(existsSync(join(dataDir, f)), f);
    }
    assert.equal(statSync(join(dataDir, 'master.key')).mode & 0o077, 0, 'master key readable by the owner only');
    assert.equal(statSync(join(dataDir, 'tls/server.key')).mode & 0o077, 0);
    const again = await runCli(['init'], env);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /kept\s+master key/);
  });

  it('creates, lists and revokes tenants and keys', async () => {
    const created = await runCli(['tenant', 'create', '--name', '测试公司', '--tax-id', '91110000600037341L', '--region', '11', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    const { tenant, apiKey } = JSON.parse(created.stdout) as { tenant: { id: string }; apiKey: string };
    assert.match(apiKey, /^fp_live_/);
    const list = await runCli(['tenant', 'list'], env);
    assert.match(list.stdout, new RegExp(tenant.id));
    assert.ok(!list.stdout.includes(apiKey), 'keys are never listed');
    const key = await runCli(['apikey', 'create', '--tenant', tenant.id, '--scopes', 'invoices:read'], env);
    assert.equal(key.code, 0, key.stderr);
    const keyId = /key id\s+(\S+)/.exec(key.stdout)![1]!;
    const revoked = await runCli(['apikey', 'revoke', '--tenant', tenant.id, keyId], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    const keys = await runCli(['apikey', 'list', '--tenant', tenant.id], env);
    assert.match(keys.stdout, new RegExp(`${keyId}.*revoked`));
    const again = await runCli(['apikey', 'revoke', '--tenant', tenant.id, 'no-such-key'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /API_KEY_NOT_FOUND/);
  });

  it('exits non-zero with the error code for bad input', async () => {
    const bad = await runCli(['tenant', 'create', '--name', 'x', '--tax-id', '91110000600037341K', '--region', '11'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /TAX_ID_CHECKSUM/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  });

  it('names an invalid setting without echoing its value', async () => {
    const res = await runCli(['migrate'], { ...env, FAPIAO_DATABASE_URL: 'mysql://secret-password@host/db' });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /FAPIAO_DATABASE_URL/);
    assert.ok(!res.stderr.includes('secret-password'));
  });

  it('migrate reports applied migrations', async () => {
    const res = await runCli(['migrate'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /already-applied\s+0001/);
  });
});
