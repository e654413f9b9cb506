// `fapiao reconcile` and `fapiao statement` through the real CLI process, on a data directory with invoices issued
// by the server's own use case: the summary table, the exit code for differences, JSON, CSV, and bad options.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer } from '../../src/container.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { runCli } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';
import type { IssueInvoiceInput } from '../../src/shared/invoice.ts';

describe('fapiao reconcile and fapiao statement', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-reconcile-cli-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  let tenantId: string;
  const invoices: Invoice[] = [];
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  before(async () => {
    assert.equal((await runCli(['init'], env)).code, 0);
    const created = await runCli(['tenant', 'create', '--name', '测试公司', '--tax-id', '91110000600037341L', '--region', '11', '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    tenantId = (JSON.parse(created.stdout) as { tenant: { id: string } }).tenant.id;
    const app = await buildContainer(loadConfig({ FAPIAO_DATA_DIR: dataDir, FAPIAO_SIGNER_THREADS: '0', FAPIAO_LISTEN_API: '127.0.0.1:0' }, dataDir), 'server', { logger: pino({ level: 'silent' }) });
    try {
      const tenant = await app.services.tenants.getOrThrow(tenantId);
      for (const id of ['SO-1', 'SO-2', 'SO-3']) {
        const r = await app.services.invoices.issue(tenant, sampleInvoice({ externalId: id }) as unknown as IssueInvoiceInput, { replayStatus: 201 });
        invoices.push(JSON.parse(r.json) as Invoice);
      }
    } finally {
      await app.close();
    }
  });

  it('matches a file, prints the totals and exits 3 for differences; 0 when all match', async () => {
    const [a, b] = invoices;
    const file = join(dataDir, 'erp.csv');
    writeFileSync(file, `externalId,date,amount,tax\nSO-1,${a!.issueDate},100.00,13.00\nSO-2,${b!.issueDate},100.01,13.00\nSO-9,${a!.issueDate},1,1\nSO-1,bad,1,1\n`);
    const r = await runCli(['reconcile', file, '--tenant', tenantId], env);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /^matched\s+1$/m);
    assert.match(r.stdout, /^mismatch\s+1 \(amount 1, tax 0, date 0, buyer 0\)$/m);
    assert.match(r.stdout, /^missing on our side\s+1$/m);
    assert.match(r.stdout, /^missing on theirs\s+1$/m);
    assert.match(r.stdout, /^malformed\s+1$/m);
    // Not a terminal: one progress line per step on stderr.
    assert.match(r.stderr, /\[#+\] 100% matching 4\/4/);

    const good = join(dataDir, 'erp.jsonl');
    writeFileSync(good, invoices.map((i) => JSON.stringify({ number: i.number, date: i.issueDate, amount: '100.00', tax: '13.00' })).join('\n'));
    const ok = await runCli(['reconcile', good, '--tenant', tenantId, '--json'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { totals: { matched: number } }).totals.matched, 3);
  });

  it('prints a statement as a table and as CSV', async () => {
    const period = invoices[0]!.issueDate.slice(0, 7);
    const table = await runCli(['statement', '--period', period, '--tenant', tenantId], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^total\s+3 invoices\s+amount\s+300\.00\s+tax\s+39\.00\s+total\s+339\.00$/m);
    const csv = await runCli(['statement', '--period', period, '--tenant', tenantId, '--csv'], env);
    assert.equal(csv.code, 0, csv.stderr);
    assert.match(csv.stdout, /^section,from,to,/);
    assert.match(csv.stdout, /\r\ntotal,[0-9-]+,[0-9-]+,,,,,,3,,300\.00,39\.00,339\.00,,\r\n/);
  });

  it('exits 1 with the error code and option for bad input', async () => {
    const bad = await runCli(['statement', '--period', '2026-13', '--tenant', tenantId], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /STATEMENT_PERIOD_INVALID.*--period/);
    const order = await runCli(['reconcile', join(dataDir, 'erp.csv'), '--from', '2026-12-31', '--to', '2026-12-01', '--tenant', tenantId], env);
    assert.equal(order.code, 1);
    assert.match(order.stderr, /STATEMENT_PERIOD_INVALID.*--from/);
    const unknown = await runCli(['statement', '--period', '2026-11', '--tenant', 't_0000000000000000'], env);
    assert.match(unknown.stderr, /TENANT_NOT_FOUND/);
  });
});
