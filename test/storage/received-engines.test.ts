// Received invoices on both engines: the buyer's list by tax ID across sellers, booking raced from two nodes (one
// change, one audit entry), and a filing that reads the booking under the status row's lock: parallel bookings and
// filings end consistent (a form awaiting the buyer exactly when its filing saw the invoice booked).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer, type ServerContainer } from '../../src/container.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import type { Tenant } from '../../src/modules/tenants/index.ts';
import { PG_SKIP_REASON, pgTestUrl, type PgTestDatabase } from '../helpers/pg.ts';
import { OTHER_SELLER, SELLER, draft } from '../usecases/kit.ts';

const by = { actor: 'apikey:engines' };
const BUYER = { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', regionCode: '33' };
const pgDb: PgTestDatabase | undefined = await pgTestUrl();

async function node(url: string, dataDir: string): Promise<ServerContainer> {
  const config = loadConfig({ FAPIAO_DATA_DIR: dataDir, FAPIAO_DATABASE_URL: url, FAPIAO_SIGNER_THREADS: '0', FAPIAO_LISTEN_API: '127.0.0.1:0' }, dataDir);
  const app = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }) });
  await app.start();
  return app;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`received invoices: ${engine}`, { skip: engine === 'postgres' && !pgDb ? PG_SKIP_REASON : false }, () => {
    let dir: string;
    let nodes: ServerContainer[];
    let seller: Tenant;
    let other: Tenant;
    let buyer: Tenant;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'fapiao-received-'));
      const url = engine === 'sqlite' ? `sqlite:${join(dir, 'fapiao.db')}` : pgDb!.url;
      const first = await node(url, dir);
      nodes = engine === 'sqlite' ? [first] : [first, await node(url, dir)];
      seller = (await first.services.tenants.create(SELLER)).tenant;
      other = (await first.services.tenants.create(OTHER_SELLER)).tenant;
      buyer = (await first.services.tenants.create(BUYER)).tenant;
    });
    after(async () => {
      for (const n of nodes ?? []) await n.close();
      if (engine === 'postgres') await pgDb?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    const issue = async (from: Tenant) => JSON.parse((await nodes[0]!.services.invoices.issue(from, draft(), { replayStatus: 201 })).json) as Invoice;

    it('lists the invoices of every seller addressed to the buyer, with filters', async () => {
      const a = await issue(seller);
      const b = await issue(other);
      const all = await nodes.at(-1)!.services.received.list(buyer, {});
      assert.deepEqual(new Set(all.items.map((i) => i.invoice.number)), new Set([a.number, b.number]));
      await nodes[0]!.services.received.update(buyer, b.number, { deductionSelected: true }, by);
      const sel = await nodes.at(-1)!.services.received.list(buyer, { deductionSelected: true });
      assert.deepEqual(sel.items.map((i) => i.invoice.number), [b.number]);
      const fromOther = await nodes[0]!.services.received.list(buyer, { sellerTaxId: OTHER_SELLER.taxId, booked: false });
      assert.deepEqual(fromOther.items.map((i) => i.invoice.number), [b.number]);
    });

    it('filters by total with tax and by change time (the invoice\'s or the buyer\'s own status)', async () => {
      const small = await issue(seller);
      const big = JSON.parse((await nodes[0]!.services.invoices.issue(seller, draft({
        lines: [{ name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '1', unitPrice: '300.00', amount: '300.00', taxRate: '0.13' }],
      }), { replayStatus: 201 })).json) as Invoice;
      const numbers = async (q: Parameters<ServerContainer['services']['received']['list']>[1]) =>
        (await nodes.at(-1)!.services.received.list(buyer, { limit: 100, ...q })).items.map((i) => i.invoice.number);
      assert.deepEqual(await numbers({ minTotal: '339.00' }), [big.number]);
      assert.deepEqual(await numbers({ minTotal: '339.01' }), []);
      assert.ok((await numbers({ maxTotal: '113.00' })).includes(small.number));
      assert.ok(!(await numbers({ maxTotal: '338.99' })).includes(big.number));
      await new Promise((r) => setTimeout(r, 5));
      const since = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(await numbers({ updatedSince: since }), []);
      await nodes[0]!.services.received.update(buyer, small.number, { booked: true }, by);
      assert.deepEqual(await numbers({ updatedSince: since }), [small.number]);
      assert.deepEqual(await numbers({ updatedSince: since, minTotal: '200' }), []);
    });

    it('bookings raced from every node: one change, one audit entry, one event', async () => {
      const inv = await issue(seller);
      await Promise.all(Array.from({ length: 8 }, (_, i) => nodes[i % nodes.length]!.services.received.update(buyer, inv.number, { booked: true }, by)));
      const db = nodes[0]!.storage.db;
      const audit = await db.selectFrom('audit_events').select('action').where('target', '=', inv.number).where('action', '=', 'received-invoice.book').execute();
      assert.equal(audit.length, 1);
      const events = await db.selectFrom('outbox_events').select('type').where('tenant_id', '=', buyer.id).where('type', '=', 'received-invoice.booked').where('payload', 'like', `%${inv.number}%`).execute();
      assert.equal(events.length, 1);
    });

    it('a booking racing a filing: the form awaits the buyer exactly when the booking committed first', async () => {
      for (let round = 0; round < 4; round++) {
        const inv = await issue(seller);
        const [, filed] = await Promise.all([
          nodes[round % nodes.length]!.services.received.update(buyer, inv.number, { booked: true }, by),
          nodes[(round + 1) % nodes.length]!.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '01' }, { by }),
        ]);
        const db = nodes[0]!.storage.db;
        const order = await db.selectFrom('audit_events').select('action').where((eb) => eb.or([eb('target', '=', inv.number), eb('target', '=', filed.form.id)]))
          .where('action', 'in', ['received-invoice.book', 'red-letter.file']).orderBy('seq').execute();
        const bookedFirst = order[0]!.action === 'received-invoice.book';
        assert.equal(filed.form.state, bookedFirst ? '02' : '01', `round ${round}: ${order.map((o) => o.action).join()}`);
      }
    });
  });
}
