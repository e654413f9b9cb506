// A noisy neighbour (docs/design.md §4, invariant 7: tenants are isolated): while tenant A sends every kind of bad input
// the generators make, continuously and in parallel, tenant Q issues valid invoices in the same number series (same
// region and channel, so both go through the same batch writer). Q must never see anything but 201, and every invoice
// it was given must be there afterwards. On SQLite and PostgreSQL. FAPIAO_FUZZ_NEIGHBOUR_INVOICES sets how many Q
// issues on SQLite (default 200; PostgreSQL half of it).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pgTestUrl, PG_SKIP_REASON } from '../helpers/pg.ts';
import { envInt, FUZZ_SEED, generateRequest, loadOperations, requestSeed, Rng, uscc, validInvoice, type FuzzRequest, type Listener } from './generators.ts';
import { ALL_INVARIANTS, checkAnswer, createFuzzApp, HangGuard, describeStats, FailureBook, injectRequest, logLeakReport, runRequests, visible, type Answer, type FuzzApp } from './harness.ts';

const SQLITE_INVOICES = envInt('FAPIAO_FUZZ_NEIGHBOUR_INVOICES', 200);
const NOISE_WORKERS = 8;
const QUIET_WORKERS = 4;

const pgDb = await pgTestUrl();

const engines = [
  { engine: 'SQLite', skip: false as const, invoices: SQLITE_INVOICES, env: {} as Record<string, string> },
  { engine: 'PostgreSQL', skip: pgDb ? (false as const) : PG_SKIP_REASON, invoices: Math.ceil(SQLITE_INVOICES / 2), env: (pgDb ? { FAPIAO_DATABASE_URL: pgDb.url } : {}) as Record<string, string> },
];

for (const e of engines) {
  describe(`noisy neighbour on ${e.engine}`, { skip: e.skip }, () => {
    let f: FuzzApp;
    let quietKey: string;

    before(async () => {
      f = await createFuzzApp(FUZZ_SEED, e.env);
      // The quiet tenant shares tenant A's series (region 31, default channel) and is in none of the fixtures.
      const q = await f.t.app.services.tenants.create(
        { name: '南京安静租户有限公司', taxId: uscc(new Rng(FUZZ_SEED ^ 0x9e1e)), regionCode: '31' }, undefined, ['invoices:issue', 'invoices:read'],
      );
      quietKey = q.apiKey;
      f.secrets.push({ name: '$QUIET_KEY', value: quietKey });
    });
    after(async () => {
      await f?.t.close();
      if (e.engine === 'PostgreSQL') await pgDb?.drop();
    });

    it(`answers every one of ${e.invoices} valid invoices of one tenant 201 while another floods bad input`, async () => {
      const ops = loadOperations();
      // A tenant's doors: the operator's listeners (admin, metrics) are not the neighbour's to reach.
      const listeners: Listener[] = ['api', 'push', 'partner'];
      const noise = new FailureBook();
      // The noise is not what is under test here: a short deadline keeps a hanging route from outliving the quiet run.
      const guard = new HangGuard(3000, 300);
      let quietDone = false;
      const quiet: { i: number; ans: Answer; body: string }[] = [];

      const quietRun = (async () => {
        let next = 0;
        await Promise.all(Array.from({ length: QUIET_WORKERS }, async () => {
          while (next < e.invoices) {
            const i = next++;
            const rng = new Rng(requestSeed(FUZZ_SEED ^ 0x0a1e7, i));
            const body = JSON.stringify(validInvoice(rng, f.fx.pii));
            const req: FuzzRequest = {
              index: i, listener: 'api', method: 'POST', url: '/v1/invoices', remoteAddress: '192.0.2.10', op: 'POST /v1/invoices',
              headers: { authorization: `Bearer ${quietKey}`, 'content-type': 'application/json', 'idempotency-key': `quiet-${FUZZ_SEED}-${i}` },
              body, security: 'apiKey', validAuth: true, kind: 'valid',
            };
            quiet.push({ i, ans: await injectRequest(f.t.api, req, 15_000), body });
          }
        }));
        quietDone = true;
      })();

      // The noise: request after request until the quiet tenant is done, from tenant A and from nobody, most of it
      // invoices (the requests that reach the batch writer the quiet tenant's invoices go through).
      const noiseRun = runRequests({
        count: Number.MAX_SAFE_INTEGER, concurrency: NOISE_WORKERS, firstIndex: 2_000_000, until: () => quietDone,
        generate: (i) => generateRequest(ops, f.fx, FUZZ_SEED, i, { listeners, weights: { 'POST /v1/invoices': 40 } }),
        send: (req) => guard.send(req, (r, ms) => injectRequest(f.t.servers.get(r.listener)!, r, ms)),
        check: (req: FuzzRequest, ans: Answer) => checkAnswer(req, ans, f),
        book: noise,
      });

      await quietRun;
      const noiseStats = await noiseRun;
      const sent = noiseStats.total;
      const refused = quiet.filter((q) => q.ans.status !== 201).sort((a, b) => a.i - b.i);
      const check = (req: FuzzRequest, ans: Answer) => checkAnswer(req, ans, f);
      if (refused.length > 0) await noise.shrink((req) => injectRequest(f.t.servers.get(req.listener)!, req, 3000), check, 20, (req) => guard.hangs(req));
      const noiseClasses = noise.of(ALL_INVARIANTS);
      const noiseReport = noiseClasses.length === 0 ? 'the noise itself broke no invariant' : noise.report(noiseClasses, f.secrets, FUZZ_SEED, sent, f.notes);
      console.log(`noisy neighbour on ${e.engine}: ${quiet.length} quiet invoices, ${refused.length} refused; noise ${describeStats(noiseStats)}`);
      assert.equal(refused.length, 0,
        `${refused.length} of ${quiet.length} valid invoices of the quiet tenant were not answered 201 while ${sent} noisy requests ran:\n` +
        refused.slice(0, 5).map((q) => `  #${q.i}: ${q.ans.timedOut ? 'no answer' : `${q.ans.status} ${visible(q.ans.body.toString('utf8'), 300)}`}\n    body: ${visible(q.body, 300)}`).join('\n') +
        `\nWhat the noisy tenant sent meanwhile that broke invariants:\n${noiseReport}`);

      // Every invoice the quiet tenant was given is there, readable with its own key, and nowhere else.
      const numbers = quiet.map((q) => q.ans.body.toString('utf8')).map((b) => (JSON.parse(b) as { number: string }).number);
      assert.equal(new Set(numbers).size, numbers.length, 'each invoice has its own number');
      for (const n of numbers.slice(0, 20)) {
        const own = await f.t.api.inject({ method: 'GET', url: `/v1/invoices/${n}`, headers: { authorization: `Bearer ${quietKey}` }, remoteAddress: '192.0.2.10' });
        assert.equal(own.statusCode, 200, own.body);
        const other = await f.t.api.inject({ method: 'GET', url: `/v1/invoices/${n}`, headers: { authorization: `Bearer ${f.fx.apiKey}` }, remoteAddress: '192.0.2.11' });
        assert.equal(other.statusCode, 404, 'another tenant does not see it');
      }
      const listed = await f.t.api.inject({ method: 'GET', url: '/v1/invoices?limit=100', headers: { authorization: `Bearer ${quietKey}` }, remoteAddress: '192.0.2.10' });
      assert.equal(listed.statusCode, 200, listed.body);
      assert.equal(listed.json<{ items: unknown[] }>().items.length, Math.min(100, e.invoices));
    });

    it('logs no buyer personal data and no credential', () => {
      const leaks = logLeakReport(f);
      if (leaks !== undefined) assert.fail(leaks);
    });
  });
}
