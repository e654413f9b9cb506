// Red-letter forms racing over HTTP: parallel POST /v1/red-letter-requests, partial and full reversals of one blue
// invoice, against two `fapiao serve` processes sharing one PostgreSQL database, and against one process on SQLite.
// Whatever is granted never exceeds what the blue invoice holds per line, every refusal is an over-reversal problem,
// and the red invoices issued are exactly the granted forms'.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch } from 'undici';
import { Decimal, formatMoney } from '../../src/shared/money.ts';
import { PG_SKIP_REASON, pgTestUrl, type PgTestDatabase } from '../helpers/pg.ts';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';

const pgDb: PgTestDatabase | undefined = await pgTestUrl();
const OUTSIDE_BUYER = { name: '外部买方有限公司', taxId: '915300007194052520' };
/** Line 1: 100.00 at 13 %; line 2: 50.00 at 6 %. */
const BLUE = {
  type: 'normal', buyer: OUTSIDE_BUYER, issuer: '张三',
  lines: [
    { name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '4', unitPrice: '25', amount: '100.00', taxRate: '0.13' },
    { name: '维护费', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '50.00', taxRate: '0.06' },
  ],
};

interface Form { id: string; state: string; redInvoiceNumber?: string; totals: { amount: string; total: string }; lines: { line: number; amount: string; tax: string }[] }
interface Problem { code: string; status: number }

for (const engine of ['postgres', 'sqlite'] as const) {
  describe(`red-letter filings racing over HTTP: ${engine}`, { skip: engine === 'postgres' && !pgDb ? PG_SKIP_REASON : false, timeout: 240_000 }, () => {
    const dirs: string[] = [];
    const servers: Spawned[] = [];
    let key: string;

    before(async () => {
      const env: Record<string, string> = { FAPIAO_MASTER_KEY: randomBytes(32).toString('base64') };
      if (engine === 'postgres') env.FAPIAO_DATABASE_URL = pgDb!.url;
      // Two processes on one PostgreSQL database (each its own data directory); SQLite has one writer process per file.
      for (let i = 0; i < (engine === 'postgres' ? 2 : 1); i++) {
        const dir = mkdtempSync(join(tmpdir(), `fapiao-rl-nodes-${engine}-`));
        dirs.push(dir);
        // The first creates the demo tenant on the empty database; the second finds it and creates none.
        servers.push(await spawnServer(dir, env, 90_000));
      }
      key = servers[0]!.demoKey!;
      assert.ok(key, 'the first server prints the demo API key');
    });
    after(async () => {
      for (const s of servers) {
        await s.stop();
        await s.agent.close();
      }
      if (engine === 'postgres') await pgDb?.drop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    const call = async (i: number, method: string, path: string, body?: unknown) => {
      const s = servers[i % servers.length]!;
      const res = await fetch(`${s.url}${path}`, {
        method, dispatcher: s.agent,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: await res.json() };
    };

    it('partial and full reversals racing on every process never reverse more than the invoice holds', async () => {
      const issued = await call(0, 'POST', '/v1/invoices', BLUE);
      assert.equal(issued.status, 201, JSON.stringify(issued.body));
      const number = (issued.body as { number: string }).number;
      // 24 filings, alternating processes: on line 1 partial amounts of 30.xx (three fit in 100.00), on line 2
      // 20.00 (two fit in 50.00), a mixed one, and full reversals.
      const bodies = Array.from({ length: 24 }, (_, i) => {
        const cents = String(i).padStart(2, '0');
        switch (i % 4) {
          case 0: return { invoiceNumber: number, reason: '04', lines: [{ line: 1, amount: `30.${cents}` }] };
          case 1: return { invoiceNumber: number, reason: '04', lines: [{ line: 2, amount: `20.${cents}` }] };
          case 2: return { invoiceNumber: number, reason: '02', lines: [{ line: 1, amount: `1.${cents}` }, { line: 2, amount: '1.00' }] };
          default: return { invoiceNumber: number, reason: ['01', '02', '03'][i % 3]! };
        }
      });
      const results = await Promise.all(bodies.map((b, i) => call(i, 'POST', '/v1/red-letter-requests', b)));
      const granted: Form[] = [];
      let refused = 0;
      for (const r of results) {
        if (r.status === 201) granted.push(r.body as Form);
        else if (r.status === 200) continue; // the same form as another filing's (same lines, same reason)
        else {
          refused++;
          assert.equal(r.status, 422, JSON.stringify(r.body));
          assert.equal((r.body as Problem).code, 'RED_LETTER_OVER_REVERSAL', JSON.stringify(r.body));
        }
      }
      // Six partials of 30.xx on a 100.00 line cannot all fit: the race is real.
      assert.ok(granted.length > 0 && refused > 0, `${granted.length} granted, ${refused} refused`);
      const perLine = [new Decimal(0), new Decimal(0)];
      for (const f of granted) {
        assert.equal(f.state, '01');
        assert.ok(f.redInvoiceNumber, `form ${f.id} has its red invoice`);
        for (const l of f.lines) perLine[l.line - 1] = perLine[l.line - 1]!.plus(l.amount);
      }
      assert.ok(perLine[0]!.lte(100), `line 1 reversed ${formatMoney(perLine[0]!)}`);
      assert.ok(perLine[1]!.lte(50), `line 2 reversed ${formatMoney(perLine[1]!)}`);

      // What the server holds agrees: the forms of the invoice, and one red invoice per form whose amounts are its.
      const listed = await call(1, 'GET', `/v1/red-letter-requests?invoice=${number}&limit=100`);
      assert.equal(listed.status, 200);
      const forms = (listed.body as { items: Form[] }).items;
      assert.deepEqual(forms.map((f) => f.id).sort(), granted.map((f) => f.id).sort());
      let redTotal = new Decimal(0);
      for (const f of forms) {
        const red = await call(0, 'GET', `/v1/invoices/${f.redInvoiceNumber!}`);
        assert.equal(red.status, 200);
        const inv = red.body as { kind: string; originalNumber: string; totals: { total: string } };
        assert.deepEqual([inv.kind, inv.originalNumber], ['red', number]);
        assert.equal(formatMoney(new Decimal(inv.totals.total).neg()), f.totals.total);
        redTotal = redTotal.plus(inv.totals.total);
      }
      assert.ok(redTotal.neg().lte('166.00'), `red invoices total ${formatMoney(redTotal)} of 166.00`);
      const blue = await call(1, 'GET', `/v1/invoices/${number}`);
      const full = perLine[0]!.eq(100) && perLine[1]!.eq(50);
      assert.equal((blue.body as { status: string }).status, full ? 'red-flushed' : 'red-flushed-partial');
    });

    it('ten full reversals racing on every process: exactly one is granted', async () => {
      const issued = await call(0, 'POST', '/v1/invoices', BLUE);
      const number = (issued.body as { number: string }).number;
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
        call(i, 'POST', '/v1/red-letter-requests', { invoiceNumber: number, reason: ['01', '02', '03', '04'][i % 4] })));
      const created = results.filter((r) => r.status === 201);
      assert.equal(created.length, 1, JSON.stringify(results.map((r) => r.status)));
      assert.equal((created[0]!.body as Form).totals.total, '166.00');
      for (const r of results) {
        if (r.status === 201) continue;
        if (r.status === 200) continue;
        assert.equal((r.body as Problem).code, 'RED_LETTER_OVER_REVERSAL', JSON.stringify(r.body));
      }
      const blue = await call(1, 'GET', `/v1/invoices/${number}`);
      assert.equal((blue.body as { status: string }).status, 'red-flushed');
    });
  });
}
