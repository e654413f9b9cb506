// `fapiao tenant update` and the quota in `fapiao tenant list`, through the real CLI process.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/spawn-server.ts';

describe('fapiao tenant update', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-tenant-cli-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('sets and removes the monthly quota, changes the region, and lists the quota', async () => {
    assert.equal((await runCli(['init'], env)).code, 0);
    const created = await runCli(['tenant', 'create', '--name', '测试公司', '--tax-id', '91110000600037341L', '--region', '11', '--quota', '5000', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    const { tenant } = JSON.parse(created.stdout) as { tenant: { id: string; monthlyQuota: string } };
    assert.equal(tenant.monthlyQuota, '5000.00');

    const updated = await runCli(['tenant', 'update', tenant.id, '--quota', '1000.5', '--region', '31', '--json'], env);
    assert.equal(updated.code, 0, updated.stderr);
    const out = JSON.parse(updated.stdout) as { tenant: { monthlyQuota: string; regionCode: string; quotaUsage: { used: string; remaining: string } }; changed: string[] };
    assert.deepEqual(out.changed, ['regionCode', 'monthlyQuota']);
    assert.equal(out.tenant.monthlyQuota, '1000.50');
    assert.equal(out.tenant.regionCode, '31');
    assert.deepEqual([out.tenant.quotaUsage.used, out.tenant.quotaUsage.remaining], ['0.00', '1000.50']);

    const list = await runCli(['tenant', 'list'], env);
    assert.match(list.stdout, new RegExp(`${tenant.id}.*region 31.*quota 1000\\.50 \\(used 0\\.00, remaining 1000\\.50 in \\d{4}-\\d{2}\\)`));

    const none = await runCli(['tenant', 'update', tenant.id, '--quota', 'none'], env);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /quota unlimited.*changed: monthlyQuota/);

    const audit = await runCli(['audit', 'export', '--action', 'tenant.update'], env);
    assert.equal(audit.code, 0, audit.stderr);
    const entries = audit.stdout.trim().split('\n').map((l) => JSON.parse(l) as { target: string; details?: string });
    assert.deepEqual(entries.filter((e) => e.target === tenant.id).map((e) => e.details), ['{"fields":["regionCode","monthlyQuota"]}', '{"fields":["monthlyQuota"]}']);
  });

  it('exits non-zero with the error code and the field for bad input, or an unknown tenant', async () => {
    const bad = await runCli(['tenant', 'update', 't_0000000000000000', '--quota', '-1'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /AMOUNT_INVALID/);
    const region = await runCli(['tenant', 'update', 't_0000000000000000', '--region', '3'], env);
    assert.match(region.stderr, /REGION_CODE_INVALID/);
    const missing = await runCli(['tenant', 'update', 't_0000000000000000', '--quota', '1.00'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /TENANT_NOT_FOUND/);
  });
});
