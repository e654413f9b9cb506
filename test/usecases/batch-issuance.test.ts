// The batch job on both engines, through the real composition root: valid items are issued through the issue writer
// (numbers consecutive, one invoice per externalId), an externalId issued before (by a single request, as after a
// crash between an invoice's commit and its item's mark) is recorded instead of issued again, and two nodes working
// on one batch issue each item exactly once (PostgreSQL, FOR UPDATE SKIP LOCKED).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer, type ServerContainer } from '../../src/container.ts';
import type { Tenant } from '../../src/modules/tenants/index.ts';
import { storageEngines } from '../helpers/storage-engines.ts';
import { draft, SELLER } from './kit.ts';

const engines = await storageEngines();
const by = { actor: 'apikey:test' };

async function node(dataDir: string, databaseUrl: string): Promise<ServerContainer> {
  const config = loadConfig({
    FAPIAO_DATA_DIR: dataDir, FAPIAO_DATABASE_URL: databaseUrl, FAPIAO_SIGNER_THREADS: '0', FAPIAO_LISTEN_API: '127.0.0.1:0',
    FAPIAO_BATCH_MAX: '16', FAPIAO_BATCHES_IDLE_POLL_MS: '20',
  }, dataDir);
  const app = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }) });
  await app.start();
  return app;
}

async function untilCompleted(app: ServerContainer, tenant: Tenant, id: string) {
  for (let i = 0; i < 1000; i++) {
    const v = await app.services.batches.get(tenant.id, id);
    if (v.state === 'completed') return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the batch did not complete');
}

for (const fx of engines) {
  describe(`batch issuance job (${fx.engine})`, { skip: fx.skip }, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-batch-uc-'));
    const url = fx.engine === 'postgres' ? fx.url! : `sqlite:${join(dataDir, 'fapiao.db')}`;
    after(async () => {
      await fx.cleanup();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('issues valid items through the writer, and records an externalId issued before instead of issuing it again', async () => {
      const app = await node(dataDir, url);
      try {
        const { tenant } = await app.services.tenants.create({ ...SELLER, name: `${SELLER.name}${fx.engine}` });
        const before = await app.services.invoices.issue(tenant, draft({ externalId: 'e-7' }), { replayStatus: 201 });
        const items = Array.from({ length: 120 }, (_, i) => ({ value: draft({ externalId: `e-${i}` }) }));
        const accepted = await app.services.batches.submit(tenant, items, { format: 'json', by });
        assert.equal(accepted.accepted, 120);
        const done = await untilCompleted(app, tenant, accepted.batch.id);
        assert.deepEqual(done.counts, { pending: 0, issued: 120, failed: 0, invalid: 0 });
        const all = await app.services.batches.get(tenant.id, accepted.batch.id, { limit: 200 });
        const numbers = new Map<string, string>();
        let cursor: string | undefined;
        do {
          const page = await app.services.batches.get(tenant.id, accepted.batch.id, cursor ? { cursor } : {});
          for (const i of page.items) numbers.set(i.externalId!, i.number!);
          cursor = page.nextCursor;
        } while (cursor);
        assert.equal(all.items.length, 100, 'pages are capped');
        assert.equal(numbers.size, 120);
        assert.equal(numbers.get('e-7'), before.number, 'the earlier invoice is recorded, not issued again');
        const rows = await app.storage.db.selectFrom('invoices').select(['number', 'external_id']).where('tenant_id', '=', tenant.id).orderBy('number').execute();
        assert.equal(rows.length, 120, 'one invoice per externalId');
        const seqs = rows.map((r) => Number(r.number.slice(5)));
        seqs.forEach((s, k) => assert.equal(s, seqs[0]! + k, 'consecutive numbers'));
        const audit = await app.storage.db.selectFrom('audit_events').select('action').where('tenant_id', '=', tenant.id).execute();
        assert.equal(audit.filter((a) => a.action === 'invoice.issue').length, 120);
        assert.equal(audit.filter((a) => a.action === 'invoice-batch.submit').length, 1);
        assert.equal(audit.filter((a) => a.action === 'invoice-batch.complete').length, 1);
        const events = await app.storage.db.selectFrom('outbox_events').select('type').where('tenant_id', '=', tenant.id).execute();
        assert.equal(events.filter((e) => e.type === 'invoice-batch.accepted').length, 1);
        assert.equal(events.filter((e) => e.type === 'invoice-batch.completed').length, 1);
        const leftover = await app.storage.db.selectFrom('invoice_batch_items').select('input').where('input', 'is not', null).execute();
        assert.equal(leftover.length, 0, 'inputs (buyer personal data) are cleared once settled');
      } finally {
        await app.close();
      }
    });

    it('fails an item refused at issuing (quota) alone, with its problem, and issues the others', async () => {
      const app = await node(dataDir, url);
      try {
        // 100.00 excluding VAT per invoice: a quota of 250.00 admits two.
        const { tenant } = await app.services.tenants.create({ ...SELLER, name: `${SELLER.name}额度`, monthlyQuota: '250.00' });
        const items = Array.from({ length: 3 }, (_, i) => ({ value: draft({ externalId: `q-${i}` }) }));
        const accepted = await app.services.batches.submit(tenant, items, { format: 'json', by });
        const done = await untilCompleted(app, tenant, accepted.batch.id);
        assert.deepEqual(done.counts, { pending: 0, issued: 2, failed: 1, invalid: 0 });
        const failed = done.items.find((i) => i.state === 'failed')!;
        assert.equal(failed.problem!.code, 'QUOTA_EXCEEDED');
        assert.equal(failed.number, undefined);
      } finally {
        await app.close();
      }
    });

    it('keeps a waiting item\'s buyer data encrypted at rest', async () => {
      const app = await node(dataDir, url);
      try {
        await app.services.batchJob.stop();
        const { tenant } = await app.services.tenants.create({ ...SELLER, name: `${SELLER.name}加密` });
        const accepted = await app.services.batches.submit(tenant, [{ value: draft({ externalId: 'enc-1' }) }], { format: 'json', by });
        const [row] = await app.storage.db.selectFrom('invoice_batch_items').select('input').where('batch_id', '=', accepted.batch.id).execute();
        assert.ok(row?.input, 'the pending item keeps its request');
        assert.ok(!row.input.includes('13812345678') && !row.input.includes('杭州'), 'not in plain text');
        app.services.batchJob.start();
        const done = await untilCompleted(app, tenant, accepted.batch.id);
        assert.equal(done.counts.issued, 1);
      } finally {
        await app.close();
      }
    });

    it('two nodes on one batch issue every item exactly once', { skip: fx.engine === 'sqlite' ? 'one writer process per SQLite file' : false }, async () => {
      const a = await node(dataDir, url);
      const b = await node(dataDir, url);
      try {
        const { tenant } = await a.services.tenants.create({ ...SELLER, name: `${SELLER.name}双节点` });
        const items = Array.from({ length: 300 }, (_, i) => ({ value: draft({ externalId: `two-${i}` }) }));
        const accepted = await a.services.batches.submit(tenant, items, { format: 'json', by });
        b.services.batchJob.nudge();
        await untilCompleted(a, tenant, accepted.batch.id);
        const rows = await a.storage.db.selectFrom('invoices').select(['number', 'external_id']).where('tenant_id', '=', tenant.id).execute();
        assert.equal(rows.length, 300);
        assert.equal(new Set(rows.map((r) => r.external_id)).size, 300);
        const v = await a.services.batches.get(tenant.id, accepted.batch.id);
        assert.deepEqual(v.counts, { pending: 0, issued: 300, failed: 0, invalid: 0 });
      } finally {
        await b.close();
        await a.close();
      }
    });
  });
}
