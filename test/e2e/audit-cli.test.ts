// `fapiao audit verify|export|list` as an operator runs them, against a SQLite file edited behind the server's back.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/spawn-server.ts';

interface ExportedEntry {
  seq: number;
  at: string;
  tenantId?: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  prevHash: string;
  hash: string;
}

function parseLines(text: string): ExportedEntry[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as ExportedEntry);
}

void describe('fapiao audit', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-audit-cli-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  let tenantId = '';
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  void it('verifies the chain after init and an audited tenant creation', async () => {
    const init = await runCli(['init'], env);
    assert.equal(init.code, 0, init.stderr);
    const created = await runCli(['tenant', 'create', '--name', '测试公司', '--tax-id', '91110000600037341L', '--region', '11', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    tenantId = (JSON.parse(created.stdout) as { tenant: { id: string } }).tenant.id;
    const res = await runCli(['audit', 'verify'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^ok: 2 entries, head [0-9a-f]{64}\n$/);
    const list = await runCli(['audit', 'list', '--limit', '5'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /apikey\.create/);
    assert.match(list.stdout, new RegExp(`tenant\\.create  ${tenantId}  cli:`));
  });

  void it('exports JSON lines, filtered by tenant, to stdout or a file, and audits the export', async () => {
    const res = await runCli(['audit', 'export', '--tenant', tenantId], env);
    assert.equal(res.code, 0, res.stderr);
    const entries = parseLines(res.stdout);
    assert.deepEqual(entries.map((e) => [e.seq, e.action, e.tenantId]), [[1, 'tenant.create', tenantId], [2, 'apikey.create', tenantId]]);
    assert.equal(entries[1]!.prevHash, entries[0]!.hash);
    const out = join(dataDir, 'audit.jsonl');
    const toFile = await runCli(['audit', 'export', '--from', '2000-01-01', '--out', out], env);
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.equal(toFile.stdout, '');
    const all = parseLines(readFileSync(out, 'utf8'));
    assert.deepEqual(all.map((e) => e.action), ['tenant.create', 'apikey.create', 'audit.export']);
    const none = await runCli(['audit', 'export', '--to', '2000-01-01'], env);
    assert.equal(none.stdout, '');
    const verify = await runCli(['audit', 'verify'], env);
    assert.match(verify.stdout, /^ok: 5 entries/);
  });

  void it('names the edited entry and exits 1 when the database file was changed', async () => {
    const db = new Database(join(dataDir, 'fapiao.db'));
    try {
      db.prepare(`update audit_events set outcome = 'failure' where seq = 2`).run();
    } finally {
      db.close();
    }
    const res = await runCli(['audit', 'verify'], env);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, 'FAIL at entry 2: edited\n');
  });

  void it('refuses a purge inside the retention period', async () => {
    const res = await runCli(['audit', 'purge', '--before', new Date().toISOString()], env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /VALIDATION_FAILED.*180 days/);
  });
});
