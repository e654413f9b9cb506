// Fuzzing every route of docs/openapi.json (and the listener routes it omits) through inject() on the built
// listeners of a real app: valid, wrong and missing credentials; malformed JSON, hostile Unicode, huge numbers, deep
// nesting, prototype keys, wrong content types, oversized bodies; bad query values; encoded and overlong paths. Each
// answer is checked against the invariants of harness.ts; failures are grouped into classes and one shrunk request
// per class is printed. Deterministic: FAPIAO_FUZZ_SEED picks the inputs, FAPIAO_FUZZ_REQUESTS how many (SQLite;
// default 20,000) and FAPIAO_FUZZ_PG_REQUESTS the PostgreSQL run (default a fifth of that).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pgTestUrl, PG_SKIP_REASON } from '../helpers/pg.ts';
import { sampleInvoice } from '../helpers/test-app.ts';
import { envInt, FUZZ_SEED, generateRequest, loadOperations, renderRequests, type FuzzRequest } from './generators.ts';
import {
  checkAnswer, createFuzzApp, HangGuard, describeStats, FailureBook, injectRequest, logLeakReport, runRequests,
  type FuzzApp, type Invariant, type RunStats,
} from './harness.ts';

const SQLITE_REQUESTS = envInt('FAPIAO_FUZZ_REQUESTS', 20_000);
const PG_REQUESTS = envInt('FAPIAO_FUZZ_PG_REQUESTS', Math.ceil(SQLITE_REQUESTS / 5));
const CONCURRENCY = 16;

const pgDb = await pgTestUrl();

const engines = [
  { engine: 'SQLite', skip: false as const, requests: SQLITE_REQUESTS, env: {} as Record<string, string> },
  { engine: 'PostgreSQL', skip: pgDb ? (false as const) : PG_SKIP_REASON, requests: PG_REQUESTS, env: (pgDb ? { FAPIAO_DATABASE_URL: pgDb.url } : {}) as Record<string, string> },
];

for (const e of engines) {
  describe(`HTTP fuzz on ${e.engine} (${e.requests} requests, seed ${FUZZ_SEED})`, { skip: e.skip }, () => {
    let f: FuzzApp;
    let stats: RunStats;
    const book = new FailureBook();
    const ops = loadOperations();

    before(async () => {
      f = await createFuzzApp(FUZZ_SEED, e.env);
      const guard = new HangGuard(10_000, 300);
      const send = (req: FuzzRequest) => guard.send(req, (r, ms) => injectRequest(f.t.servers.get(r.listener)!, r, ms));
      const check = (req: FuzzRequest, ans: Parameters<typeof checkAnswer>[1]) => checkAnswer(req, ans, f);
      stats = await runRequests({ count: e.requests, concurrency: CONCURRENCY, generate: (i) => generateRequest(ops, f.fx, FUZZ_SEED, i), send, check, book });
      // The renderers do not depend on the engine: once, on SQLite.
      if (e.engine === 'SQLite') {
        const renders = renderRequests(f.fx);
        const r = await runRequests({ count: renders.length, concurrency: 2, generate: (i) => renders[i]!, send, check, book });
        console.log(`fuzz on ${e.engine}: every fixture invoice in every format: ${describeStats(r)}`);
      }
      await book.shrink(send, check, 60, (req) => guard.hangs(req));
      console.log(`fuzz on ${e.engine}: ${f.fx.invoices.length} fixture invoices; ${describeStats(stats)}; ${book.classes.size} failure class(es)`);
    });
    after(async () => {
      await f?.t.close();
      if (e.engine === 'PostgreSQL') await pgDb?.drop();
    });

    const expectNone = (invariants: Invariant[]) => {
      const classes = book.of(invariants);
      assert.equal(classes.length, 0, book.report(classes, f.secrets, FUZZ_SEED, stats.total, f.notes));
    };

    it('reaches every operation and gets past validation (the harness is not refused wholesale)', () => {
      for (const op of ops) assert.ok(stats.byOp.has(`${op.method} ${op.path}`), `never generated ${op.method} ${op.path}`);
      const issued = stats.byOp.get('POST /v1/invoices')?.get(201) ?? 0;
      assert.ok(issued > 0, 'no invoice was issued: the valid requests are not valid');
      const ok = [...stats.statuses.entries()].filter(([s]) => s >= 200 && s < 400).reduce((n, [, c]) => n + c, 0);
      assert.ok(ok >= stats.total * 0.05, `only ${ok} of ${stats.total} answers were successes`);
    });

    it('answers every request, never with a status ≥ 500', () => expectNone(['server-error', 'no-answer', 'harness-error']));

    it('answers every error as problem+json with a registry code and the registry status', () =>
      expectNone(['not-problem-json', 'unknown-code', 'status-mismatch']));

    it('shows no stack trace, credential or buyer personal data in answers', () => expectNone(['stack-trace', 'secret-in-answer', 'pii-in-error']));

    it('serves no route that needs credentials without them, and redirects no API path', () => expectNone(['auth-bypass', 'api-path-redirected']));

    it('logs no buyer personal data and no credential', () => {
      const leaks = logLeakReport(f);
      if (leaks !== undefined) assert.fail(leaks);
    });

    it('still issues and verifies afterwards, and the audit chain is intact', async () => {
      const res = await f.t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${f.fx.apiKey}` }, payload: sampleInvoice() });
      assert.equal(res.statusCode, 201, res.body);
      const inv = res.json<{ number: string; issueDate: string }>();
      const v = await f.t.api.inject({ method: 'POST', url: '/v1/verify', remoteAddress: '192.0.2.200', payload: { number: inv.number, issueDate: inv.issueDate, total: '113.00' } });
      assert.equal(v.json().result, 'authentic', v.body);
      const chain = await f.t.app.services.audit.verifyChain();
      assert.equal(chain.ok, true, JSON.stringify(chain));
    });
  });
}
