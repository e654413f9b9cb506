// Every statement the hot paths run is served by an index, on both engines, so an index lost or a query rewritten
// into a full scan fails here rather than at 10 M invoices (BENCHMARKS.md, "Growth"). The statements are not listed
// by hand: the test runs the paths through the API (issue with an Idempotency-Key and an externalId and its replay,
// get and its documents, search by date with its next page and by buyer, 查验, the ledger proof, a red-letter
// reversal, webhook delivery, the background jobs' rounds) and captures what the storage ran (the container's
// onQuery), then asks each engine for the plan of each distinct statement with its own parameters: SQLite
// `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN (FORMAT JSON)` with sequential scans disabled (which the planner then
// picks only where no index can serve). A full scan of a table that grows with the invoices fails the test, unless
// the statement is one of the few below that scan on purpose, each with its reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { pgTestUrl, type PgTestDatabase } from '../helpers/pg.ts';
import type { ObservedQuery } from '../../src/platform/storage/query-log.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';

/** Tables that grow with the invoices issued (or with time): never scanned whole on a hot path. */
const GROWING = [
  'invoices', 'invoice_lines', 'idempotency_keys', 'ledger_leaves', 'outbox_events', 'audit_events', 'red_letter_forms',
  'red_letter_blues', 'red_letter_transitions', 'ledger_tiles', 'ledger_bundles', 'webhook_deliveries',
  'received_invoices', 'reconciliation_rows', 'reconciliation_results', 'invoice_batches', 'invoice_batch_items',
  'email_deliveries', 'tenant_quota_usage',
];

// Not listed: ledger_checkpoints, pruned to the newest and the served checkpoint on every integration, and the tables
// of keys, settings and endpoints, a handful of rows per tenant.

/** The statements whose index is named: the searches a growing tenant pages through, newest first. */
const EXPECTED_INDEX: readonly [RegExp, string][] = [
  [/from "invoices" where "tenant_id" = (\?|\$1) and "issue_date" >= /, 'invoices_issue_date_ix'],
  [/from "invoices" where "tenant_id" = (\?|\$1) and "buyer_tax_id_bidx" = /, 'invoices_buyer_tax_id_bidx_date_ix'],
  [/from "invoices" where "tenant_id" = (\?|\$1) and "buyer_tax_id" = .* "buyer_tax_id_bidx" is null/, 'invoices_buyer_tax_id_date_ix'],
  [/from "invoices" where "tenant_id" = (\?|\$1) and "buyer_phone_bidx" = /, 'invoices_buyer_phone_bidx_date_ix'],
  [/from "webhook_deliveries" where "status" = .* "next_attempt_at"/, 'webhook_deliveries_due_ix'],
  [/from "outbox_events" where "dispatched_at"/, 'outbox_events_pending_ix'],
];

/** Searches paged in index order: SQLite must not sort their matches (a page of 20 must not sort a year's rows). */
const PAGED_IN_ORDER = /from "invoices" where "tenant_id" = \? and (?!"updated_at").* order by "issue_date" desc, "number" desc limit/;

interface Captured {
  sql: string;
  parameters: readonly unknown[];
}

/** Statements worth a plan: reads and writes with a WHERE, not the engine's bookkeeping. */
function explainable(sql: string): boolean {
  const s = sql.trim().toLowerCase();
  if (!/^(select|update|delete|with)\b/.test(s)) return false;
  return !/\b(pg_advisory|pg_try_advisory|pg_postmaster_start_time|pg_is_in_recovery|sqlite_master|kysely_migration)/.test(s);
}

async function exercise(t: TestApp, receiver: Receiver): Promise<void> {
  const auth = { authorization: `Bearer ${t.apiKey}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const hook = await t.api.inject({ method: 'POST', url: '/v1/webhooks', headers: json, payload: { url: receiver.url, eventTypes: ['invoice.issued', 'invoice.red-flushed'] } });
  assert.equal(hook.statusCode, 201, hook.body);
  const numbers: string[] = [];
  for (let i = 0; i < 25; i++) {
    const res = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { ...json, 'idempotency-key': `plan-${i}` },
      payload: sampleInvoice({ externalId: `erp-${i}`, buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', phone: '13812345678' } }),
    });
    assert.equal(res.statusCode, 201, res.body);
    numbers.push(res.json().number as string);
  }
  const replay = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { ...json, 'idempotency-key': 'plan-0' }, payload: sampleInvoice({ externalId: 'erp-0', buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', phone: '13812345678' } }) });
  assert.ok(replay.statusCode < 300, replay.body);
  const number = numbers[3]!;
  const got = await t.api.inject({ method: 'GET', url: `/v1/invoices/${number}`, headers: auth });
  assert.equal(got.statusCode, 200);
  const invoice = got.json<{ issueDate: string; totals: { total: string } }>();
  for (const format of ['xml', 'ubl']) {
    const doc = await t.api.inject({ method: 'GET', url: `/v1/invoices/${number}?format=${format}`, headers: auth });
    assert.equal(doc.statusCode, 200, doc.body);
  }
  const day = invoice.issueDate;
  const page = await t.api.inject({ method: 'GET', url: `/v1/invoices?issuedFrom=${day}&issuedTo=${day}&limit=10`, headers: auth });
  assert.equal(page.statusCode, 200, page.body);
  const cursor = page.json<{ nextCursor?: string }>().nextCursor;
  assert.ok(cursor, 'a second page');
  assert.equal((await t.api.inject({ method: 'GET', url: `/v1/invoices?issuedFrom=${day}&issuedTo=${day}&limit=10&cursor=${encodeURIComponent(cursor)}`, headers: auth })).statusCode, 200);
  assert.equal((await t.api.inject({ method: 'GET', url: '/v1/invoices?buyerTaxId=91440300708461136T&limit=10', headers: auth })).statusCode, 200);
  assert.equal((await t.api.inject({ method: 'GET', url: '/v1/invoices?buyerPhone=13812345678&status=normal&limit=10', headers: auth })).statusCode, 200);
  assert.equal((await t.api.inject({ method: 'GET', url: `/v1/invoices?updatedSince=${encodeURIComponent(new Date(Date.now() - 60_000).toISOString())}&limit=10`, headers: auth })).statusCode, 200);
  const verified = await t.api.inject({ method: 'POST', url: '/v1/verify', headers: { 'content-type': 'application/json' }, payload: { number, issueDate: day, total: invoice.totals.total } });
  assert.equal(verified.statusCode, 200, verified.body);
  await t.app.services.integrator.integrateOnce(true);
  const proof = await t.api.inject({ method: 'GET', url: `/v1/ledger/proof/${number}`, headers: auth });
  assert.equal(proof.statusCode, 200, proof.body);
  const form = await t.api.inject({ method: 'POST', url: '/v1/red-letter-requests', headers: json, payload: { invoiceNumber: numbers[5], reason: '01' } });
  assert.ok(form.statusCode === 201 || form.statusCode === 200, form.body);
  assert.equal((await t.api.inject({ method: 'GET', url: `/v1/red-letter-requests?invoice=${numbers[5]}`, headers: auth })).statusCode, 200);
  // The webhook dispatcher's rounds deliver the events (its claims, its retries' bookkeeping).
  const until = Date.now() + 15_000;
  while (receiver.received.length < 5 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  assert.ok(receiver.received.length >= 5, `webhooks delivered: ${receiver.received.length}`);
}

function sqlitePlans(file: string, statements: Captured[]): Map<string, string[]> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const plans = new Map<string, string[]>();
    for (const q of statements) {
      const params = q.parameters.map((p) => (typeof p === 'boolean' ? Number(p) : p));
      const rows = db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...params) as { detail: string }[];
      plans.set(q.sql, rows.map((r) => r.detail));
    }
    return plans;
  } finally {
    db.close();
  }
}

/** Full scans of growing tables in a SQLite plan: `SCAN t` without an index (a `SEARCH` or an index scan is fine). */
function sqliteScans(details: string[]): string[] {
  return details.filter((d) => {
    const m = /^SCAN (\w+)(?: AS \w+)?(.*)$/.exec(d);
    return m !== null && GROWING.includes(m[1]!) && !/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/.test(m[2]!);
  });
}

interface PgNode { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: PgNode[] }

/** A PostgreSQL plan as lines like SQLite's: `Seq Scan on t`, `Index Scan on t using i`. */
function pgLines(node: PgNode, out: string[] = []): string[] {
  out.push(`${node['Node Type']}${node['Relation Name'] ? ` on ${node['Relation Name']}` : ''}${node['Index Name'] ? ` using ${node['Index Name']}` : ''}`);
  for (const child of node.Plans ?? []) pgLines(child, out);
  return out;
}

function pgScans(lines: string[]): string[] {
  return lines.filter((l) => {
    const m = /^Seq Scan on (\w+)/.exec(l);
    return m !== null && GROWING.includes(m[1]!);
  });
}

async function postgresPlans(url: string, statements: Captured[]): Promise<Map<string, string[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const plans = new Map<string, string[]>();
    for (const q of statements) {
      await client.query('begin');
      try {
        await client.query('set local enable_seqscan = off');
        const res = await client.query<{ 'QUERY PLAN': { Plan: PgNode }[] }>(`explain (format json) ${q.sql}`, q.parameters as unknown[]);
        plans.set(q.sql, pgLines(res.rows[0]!['QUERY PLAN'][0]!.Plan));
      } finally {
        await client.query('rollback');
      }
    }
    return plans;
  } finally {
    await client.end();
  }
}

for (const engine of ['sqlite', 'postgres'] as const) {
  void describe(`hot query plans: ${engine}`, () => {
    let t: TestApp | undefined;
    let db: PgTestDatabase | undefined;
    let receiver: Receiver;
    let skip: string | false = false;
    const captured = new Map<string, Captured>();
    let capturing = false;
    before(async () => {
      if (engine === 'postgres') {
        db = await pgTestUrl();
        if (!db) {
          skip = 'PostgreSQL not reachable: plan checks skipped';
          return;
        }
      }
      receiver = await startReceiver();
      t = await createTestApp({ ...(db ? { FAPIAO_DATABASE_URL: db.url } : {}), FAPIAO_WEBHOOKS_ALLOW_TARGETS: '127.0.0.1', FAPIAO_WEBHOOKS_ALLOW_HTTP: 'true' }, {
        onQuery: (q: ObservedQuery) => {
          if (capturing && !q.error && explainable(q.sql) && !captured.has(q.sql)) captured.set(q.sql, { sql: q.sql, parameters: q.parameters });
        },
      });
    });
    after(async () => {
      await t?.close();
      await receiver?.close();
      await db?.drop();
    });

    void it('serves every statement of the hot paths from an index', async (c) => {
      if (skip) return c.skip(skip);
      capturing = true;
      await exercise(t!, receiver);
      capturing = false;
      const statements = [...captured.values()];
      assert.ok(statements.length > 20, `statements captured: ${statements.length}`);
      const plans = engine === 'sqlite' ? sqlitePlans(join(t!.dataDir, 'fapiao.db'), statements) : await postgresPlans(db!.url, statements);
      const violations: string[] = [];
      const seen = new Set<string>();
      for (const [sql, lines] of plans) {
        if (process.env.PLAN_DUMP) console.log(`${sql}\n  ${lines.join('\n  ')}`);
        const scans = engine === 'sqlite' ? sqliteScans(lines) : pgScans(lines);
        if (scans.length > 0) violations.push(`full scan (${scans.join(', ')}): ${sql}`);
        for (const [pattern, index] of EXPECTED_INDEX) {
          if (!pattern.test(sql)) continue;
          seen.add(index);
          if (!lines.some((l) => l.includes(index))) violations.push(`not through ${index} (${lines.join('; ')}): ${sql}`);
        }
        if (engine === 'sqlite' && PAGED_IN_ORDER.test(sql) && lines.some((l) => l.includes('USE TEMP B-TREE'))) violations.push(`sorts its matches: ${sql}`);
      }
      assert.deepEqual(violations, [], violations.join('\n'));
      // Each expectation met at least once: a path the test no longer exercises (or a rewritten query) is noticed.
      assert.deepEqual(EXPECTED_INDEX.map(([, i]) => i).filter((i) => !seen.has(i)), [], 'statements of the hot paths not seen');
    });
  });
}
