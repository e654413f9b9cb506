// Request limits and audit retention as settings: defaults, and refusals that name the setting.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config.ts';
import { AuditService } from '../modules/audit/app/audit-service.ts';

function withFile(file: unknown, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-cfg-'));
  try {
    writeFileSync(join(dir, 'fapiao.config.json'), JSON.stringify(file));
    return loadConfig({ FAPIAO_DATA_DIR: dir, ...env }, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('limits and retention settings', () => {
  it('defaults: headers 10 s, request 30 s, 16 KiB of headers, 180 days of audit', () => {
    const c = withFile({});
    assert.deepEqual([c.http.headersTimeoutMs, c.http.requestTimeoutMs, c.http.maxHeaderSize, c.audit.retentionDays], [10_000, 30_000, 16_384, 180]);
  });

  it('audit retention below 180 days stops the start, naming the setting', () => {
    assert.throws(() => withFile({ audit: { retentionDays: 179 } }), (e: unknown) => e instanceof ConfigError && e.setting === 'audit.retentionDays');
    assert.throws(() => withFile({}, { FAPIAO_AUDIT_RETENTION_DAYS: '30' }), /audit\.retentionDays/);
    assert.equal(withFile({ audit: { retentionDays: 400 } }).audit.retentionDays, 400);
  });

  it('a headers timeout longer than the request timeout is refused', () => {
    assert.throws(() => withFile({ http: { headersTimeoutMs: 40_000 } }), (e: unknown) => e instanceof ConfigError && e.setting === 'http.headersTimeoutMs');
    assert.throws(() => withFile({ http: { maxHeaderSize: 10 } }), /http\.maxHeaderSize/);
  });

  it('purgeExpired cuts at the configured retention', async () => {
    let cutoff = '';
    const now = new Date('2027-06-01T00:00:00Z');
    const service = new AuditService({ uow: {} as never, clock: { now: () => now }, retentionDays: withFile({ audit: { retentionDays: 365 } }).audit.retentionDays });
    service.purgeBefore = async (c: string) => ((cutoff = c), { purged: 0, entry: {} } as never);
    await service.purgeExpired();
    assert.equal(cutoff, '2026-06-01T00:00:00.000Z');
  });
});
