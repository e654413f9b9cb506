// Forms racing against one blue invoice never reverse more than it holds: parallel filings on one SQLite node, and on
// two nodes (two containers, two pools) over one PostgreSQL database. The blue invoice's lock row serialises them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer, type ServerContainer } from '../../src/container.ts';
import { AppError } from '../../src/shared/errors.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import type { Tenant } from '../../src/modules/tenants/index.ts';
import { Decimal, formatMoney } from '../../src/shared/money.ts';
import { PG_SKIP_REASON, pgTestUrl, type PgTestDatabase } from '../helpers/pg.ts';
import { ManualClock, SELLER, draft } from '../usecases/kit.ts';

const by = { actor: 'apikey:race' };
const OUTSIDE_BUYER = { name: '外部买方有限公司', taxId: '915300007194052520' };
const pgDb: PgTestDatabase | undefined = await pgTestUrl();

async function node(url: string, dataDir: string, clock?: ManualClock): Promise<ServerContainer> {
  const config = loadConfig({ FAPIAO_DATA_DIR: dataDir, FAPIAO_DATABASE_URL: url, FAPIAO_SIGNER_THREADS: '0', FAPIAO_LISTEN_API: '127.0.0.1:0' }, dataDir);
  const app = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }), ...(clock ? { clock } : {}) });
  await app.start();
  return app;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`red-letter races: ${engine}`, { skip: engine === 'postgres' && !pgDb ? PG_SKIP_REASON : false }, () => {
    let dir: string;
    let nodes: ServerContainer[];
    let seller: Tenant;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'fapiao-rl-race-'));
      const url = engine === 'sqlite' ? `sqlite:${join(dir, 'fapiao.db')}` : pgDb!.url;
      const first = await node(url, dir);
      // SQLite has one writer process per file; PostgreSQL gets a second node.
      nodes = engine === 'sqlite' ? [first] : [first, await node(url, dir)];
      seller = (await first.services.tenants.create(SELLER)).tenant;
    });
    after(async () => {
      for (const n of nodes ?? []) await n.close();
      if (engine === 'postgres') await pgDb?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function blue(): Promise<Invoice> {
      const r = await nodes[0]!.services.invoices.issue(seller, draft({ buyer: OUTSIDE_BUYER }), { replayStatus: 201 });
      return JSON.parse(r.json) as Invoice;
    }

    it('twenty partial forms racing for 100.00: what is granted never exceeds the line', async () => {
      const inv = await blue();
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) =>
        nodes[i % nodes.length]!.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '04', lines: [{ line: 1, amount: `${30 + i / 100}` }] }, { by })));
      const created = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.form] : []));
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof AppError && r.reason.code === 'RED_LETTER_OVER_REVERSAL', String(r.reason));
      }
      const sum = created.reduce((a, f) => a.plus(f.amount), new Decimal(0));
      assert.ok(sum.lte(100), `granted ${formatMoney(sum)}`);
      assert.equal(created.length, 3, `granted ${created.map((f) => f.amount).join(', ')}`);
      const stored = await nodes[0]!.uow.read.redLetter.formsOfBlue(inv.number);
      assert.equal(stored.length, 3);
      // Every committed filing took the lock row once, in the transaction that also issued its red invoice (these forms
      // need no confirmation); refused filings rolled their bump back.
      assert.equal(await nodes[0]!.uow.read.redLetter.blueVersion(inv.number), 3);
      assert.ok(stored.every((f) => f.redNumber !== undefined));
      assert.equal((await nodes[0]!.services.invoices.get(seller.id, inv.number)).status, 'red-flushed-partial');
    });

    it('ten full reversals racing: exactly one is filed', async () => {
      const inv = await blue();
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) =>
        nodes[i % nodes.length]!.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: ['01', '02', '03', '04'][i % 4]! }, { by })));
      const created = results.flatMap((r) => (r.status === 'fulfilled' && r.value.outcome === 'created' ? [r.value.form] : []));
      assert.equal(created.length, 1);
      assert.equal(created[0]!.total, '113.00');
      assert.equal((await nodes[0]!.services.invoices.get(seller.id, inv.number)).status, 'red-flushed');
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof AppError && r.reason.code === 'RED_LETTER_OVER_REVERSAL', String(r.reason));
      }
    });

    it('the same Idempotency-Key racing on every node: one form, answered to all', async () => {
      const inv = await blue();
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) =>
        nodes[i % nodes.length]!.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '01', lines: [{ line: 1, amount: `${1 + i}.00` }] }, { by, idempotencyKey: `race-${engine}` })));
      assert.equal(new Set(results.map((r) => r.form.id)).size, 1);
      assert.equal(results.filter((r) => r.outcome === 'created').length, 1);
    });
  });
}

describe('the 72-hour window survives a restart (sqlite file)', () => {
  it('a form due while the server was down is void after it starts again, and not a second earlier', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-rl-restart-'));
    const url = `sqlite:${join(dir, 'fapiao.db')}`;
    const clock = new ManualClock();
    try {
      let app = await node(url, dir, clock);
      const seller = (await app.services.tenants.create(SELLER)).tenant;
      const buyer = (await app.services.tenants.create({ name: '买方', taxId: '91440300708461136T', regionCode: '33' })).tenant;
      const inv = JSON.parse((await app.services.invoices.issue(seller, draft(), { replayStatus: 201 })).json) as Invoice;
      // Booked by the buyer tenant: the seller's form awaits its confirmation.
      await app.services.received.update(buyer, inv.number, { booked: true }, by);
      const form = (await app.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '01' }, { by })).form;
      assert.equal(form.state, '02');
      await app.close();
      clock.advance(72 * 3600_000 - 1000);
      app = await node(url, dir, clock);
      assert.equal(await app.services.redLetterExpiry.runOnce(), 0);
      await app.close();
      clock.advance(1000);
      app = await node(url, dir, clock);
      // The job's first run at start, or this one: either way the form is void now.
      await app.services.redLetterExpiry.runOnce();
      assert.equal((await app.services.redLetter.get(seller, form.id)).form.state, '07');
      await app.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
