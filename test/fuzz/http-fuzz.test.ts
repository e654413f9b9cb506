// Fuzzing every route of docs/openapi.json (and the listener routes it omits) through inject() on the built
// listeners of a real app: valid, wrong and missing credentials; malformed JSON, hostile Unicode, huge numbers, deep
// nesting, prototype keys, wrong content types, oversized bodies; bad query values; encoded and overlong paths. Each
// answer is checked against the invariants of harness.ts; failures are grouped into classes and one shrunk request
// per class is printed. Then every kind of bad value of the tenant's signing algorithm through each admin route that
// sets it (signingAlgorithmRequests), and through `fapiao tenant`: refused with the field named, nothing changed.
// Deterministic: FAPIAO_FUZZ_SEED picks the inputs, FAPIAO_FUZZ_REQUESTS how many (SQLite;
// default 20,000) and FAPIAO_FUZZ_PG_REQUESTS the PostgreSQL run (default a fifth of that).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pgTestUrl, PG_SKIP_REASON } from '../helpers/pg.ts';
import { Command, CommanderError } from 'commander';
import { sampleInvoice } from '../helpers/test-app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { tenantCommands } from '../../src/modules/tenants/cli/tenant-commands.ts';
import {
  BAD_SIGNING_ALGORITHMS, envInt, FUZZ_SEED, generateRequest, loadOperations, renderRequests, SIGNING_PROBE_TAX_ID, signingAlgorithmControls,
  signingAlgorithmRequests, type FuzzRequest,
} from './generators.ts';
import {
  checkAnswer, createFuzzApp, HangGuard, describeStats, FailureBook, injectRequest, logLeakReport, runRequests,
  type Answer, type FuzzApp, type Invariant, type RunStats,
} from './harness.ts';

const SQLITE_REQUESTS = envInt('FAPIAO_FUZZ_REQUESTS', 20_000);
const PG_REQUESTS = envInt('FAPIAO_FUZZ_PG_REQUESTS', Math.ceil(SQLITE_REQUESTS / 5));
const CONCURRENCY = 16;

const pgDb = await pgTestUrl();

/** What a signing-algorithm request may change: every tenant as the admin API shows it, and their audit entries. */
async function tenantState(f: FuzzApp): Promise<string> {
  const tenants = await f.t.app.services.tenants.listViews();
  const audited = await f.t.app.storage.db.selectFrom('audit_events').select(['seq', 'action', 'target'])
    .where('action', 'in', ['tenant.create', 'tenant.update']).orderBy('seq').execute();
  return JSON.stringify({ tenants, audited });
}

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
    const algorithm = { probes: [] as FuzzRequest[], controls: [] as FuzzRequest[], answers: new Map<number, Answer>(), before: '', after: '' };

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
      // The signing-algorithm probes, once the random run is over, so that nothing else changes a tenant meanwhile.
      algorithm.probes = signingAlgorithmRequests(f.fx);
      algorithm.before = await tenantState(f);
      const recording = async (req: FuzzRequest) => {
        const ans = await send(req);
        algorithm.answers.set(req.index, ans);
        return ans;
      };
      const a = await runRequests({ count: algorithm.probes.length, concurrency: 4, generate: (i) => algorithm.probes[i]!, send: recording, check, book });
      algorithm.after = await tenantState(f);
      algorithm.controls = signingAlgorithmControls(f.fx);
      await runRequests({ count: algorithm.controls.length, concurrency: 1, generate: (i) => algorithm.controls[i]!, send: recording, check, book });
      console.log(`fuzz on ${e.engine}: signing algorithm, ${BAD_SIGNING_ALGORITHMS.length} bad values through POST and PATCH: ${describeStats(a)}`);
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

    it('refuses every bad signing algorithm with 400 VALIDATION_FAILED at /signingAlgorithm, and changes nothing', () => {
      assert.ok(algorithm.probes.length > 3 * BAD_SIGNING_ALGORITHMS.length - 1);
      const wrong: string[] = [];
      for (const req of algorithm.probes) {
        const ans = algorithm.answers.get(req.index);
        let p: { code?: string; errors?: { path?: string }[] } = {};
        try {
          p = JSON.parse(ans?.body.toString('utf8') ?? '') as typeof p;
        } catch {
          // reported below
        }
        const paths = p.errors?.map((x) => x.path) ?? [];
        const ok = ans?.status === 400 && ans.contentType.startsWith('application/problem+json') && p.code === 'VALIDATION_FAILED' &&
          paths.includes('/signingAlgorithm') && paths.every((x) => x === '/signingAlgorithm');
        if (!ok) wrong.push(`${req.kind}: ${ans?.status ?? 'no answer'} ${ans?.body.toString('utf8').slice(0, 300) ?? ''}`);
      }
      assert.deepEqual(wrong, []);
      assert.equal(algorithm.after, algorithm.before, 'a refused signing algorithm changed a tenant or wrote its audit entry');
      // The same bodies with an algorithm there is are accepted: what refused the others was the value.
      const controls = algorithm.controls.map((req) => `${req.kind}: ${algorithm.answers.get(req.index)?.status ?? 'no answer'}`);
      assert.deepEqual(controls, algorithm.controls.map((req) => `${req.kind}: ${req.method === 'POST' ? 201 : 200}`));
    });

    it('logs no buyer personal data and no credential', () => {
      const leaks = logLeakReport(f);
      if (leaks !== undefined) assert.fail(leaks);
    });

    it('fapiao tenant create|update refuses the same values by name before touching anything', { skip: e.engine !== 'SQLite' }, async () => {
      const config = () => loadConfig({ FAPIAO_DATA_DIR: f.t.dataDir }, f.t.dataDir);
      const before = await tenantState(f);
      const wrong: string[] = [];
      for (const [name, value] of BAD_SIGNING_ALGORITHMS) {
        // The command line holds text only (and no NUL: no operating system passes one in an argument).
        if (typeof value !== 'string' || value.includes('\u0000')) continue;
        const runs: [string, string[]][] = [
          ['create', ['create', '--name', '签名算法测试有限公司', '--tax-id', SIGNING_PROBE_TAX_ID, '--region', '31', '--signing-algorithm', value]],
          // `default` is how update names the server's algorithm.
          ...(value === 'default' ? [] : [['update', ['update', f.fx.scratchTenantId, '--name', '不应改名有限公司', '--signing-algorithm', value]] as [string, string[]]]),
        ];
        for (const [way, args] of runs) {
          let err = '';
          const cmd: Command = tenantCommands(config);
          for (const c of [cmd, ...cmd.commands]) c.exitOverride().configureOutput({ writeErr: (t) => (err += t), writeOut: () => undefined });
          const outcome = await cmd.parseAsync(args, { from: 'user' }).then(() => 'accepted', (x: unknown) => x);
          if (!(outcome instanceof CommanderError) || outcome.code !== 'commander.invalidArgument' || !/Allowed choices are SM2, ECDSA-P256, Ed25519/.test(err)) {
            wrong.push(`${way} ${name}: ${outcome instanceof Error ? outcome.message : String(outcome)} ${err}`);
          }
        }
      }
      assert.deepEqual(wrong, []);
      assert.equal(await tenantState(f), before);
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
