// `npm run bench`: starts the server on free ports (embedded SQLite, synchronous=FULL, real SM2 signatures) and
// measures issue (also on a second server without the ledger's integrator, ledger.integrator=false), batch issue,
// get, verify, search, pdf and ledger proofs over HTTPS keep-alive with wrk (Debian package `wrk`, a C load generator that costs
// the shared cores far less than a JavaScript one) or, where wrk is missing or BENCH_CLIENT=autocannon, autocannon;
// writes the figures into BENCHMARKS.md. Before the product scenarios it measures the machine's ceilings in the same
// run (bench/ceilings.ts) and reports each scenario as a ratio to its ceiling, with the server's CPU time per request
// (from /proc/<pid>/stat). Then, when PostgreSQL answers (BENCH_PG_URL, a database of its own made and dropped), issue,
// get, verify and search on PostgreSQL, and issuing from two server processes on that one database (one tenant each,
// so each writes its own number series) beside one; BENCH_NO_PG=1 leaves them out. Last, the start-up time from the
// sources and from dist/ (bench/startup.ts).
// `npm run bench -- --quick`: 3 s per scenario, one start-up run each, BENCHMARKS.md left alone.
// Options (env): BENCH_DURATION seconds per scenario (default 15), BENCH_CONNECTIONS (default 64),
// BENCH_SIGNER_THREADS (default: the server's default), BENCH_NO_WRITE=1 to print without touching BENCHMARKS.md.
import { randomBytes, randomUUID } from 'node:crypto';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { request } from 'undici';
import { runCli, spawnServer, type Spawned } from '../test/helpers/spawn-server.ts';
import { fapiaoNodes } from '../test/helpers/fapiao-nodes.ts';
import { pgTestUrl } from '../test/helpers/pg.ts';
import { sampleInvoice } from '../test/helpers/test-app.ts';
import { measureCeilings, processCpuMs, type Ceiling } from './ceilings.ts';
import { distBuilt, measureStartup } from './startup.ts';
import { issueLua, LUA_DONE, LUA_DONE_MAX, luaHeaders, luaString } from './wrk-scripts.ts';

const quick = process.argv.includes('--quick');
const duration = Number(process.env.BENCH_DURATION ?? (quick ? 3 : 15));
const noWrite = quick || Boolean(process.env.BENCH_NO_WRITE);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);

interface Row {
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** Server CPU time (all threads) per request, ms. */
  cpuMs?: number;
  /** The share of the machine's CPU time (all cores, every process: server, load generator, database) that was busy. */
  busy?: number;
}

/**
 * The ceiling each scenario is compared with, by the scenario's first word: issuing is bounded by signing (the pool)
 * and by batched commits, whichever is lower; reads by the Fastify-over-HTTPS route. A new scenario adds its line.
 */
const CEILING_FOR: Record<string, string[]> = {
  issue: ['SM2 signatures, worker pool', 'SQLite rows committed in batches of 64', 'fastify POST'],
  get: ['fastify POST'],
  verify: ['fastify POST'],
  pdf: ['fastify POST'],
  search: ['fastify POST'],
  proof: ['fastify POST'],
  'issue-intl': ['ECDSA P-256 signatures', 'SQLite rows committed in batches of 64', 'fastify POST'],
};

/** The lowest of the scenario's ceilings measured in this run. */
function ceilingOf(row: Row, ceilings: Ceiling[]): Ceiling | undefined {
  // A scenario on PostgreSQL: the same ceilings as on SQLite, PostgreSQL's batched commits for SQLite's.
  const onPg = row.scenario.startsWith(PG_PREFIX);
  const names = (CEILING_FOR[row.scenario.slice(onPg ? PG_PREFIX.length : 0).split(' ')[0]!] ?? [])
    .map((n) => (onPg && n.startsWith('SQLite rows') ? 'PostgreSQL rows committed in batches of 64' : n));
  return ceilings.filter((c) => names.some((n) => c.name.startsWith(n))).sort((a, b) => a.rate - b.rate)[0];
}

const useWrk = process.env.BENCH_CLIENT !== 'autocannon' && spawnSync('wrk', ['-v']).error === undefined;
const luaDir = mkdtempSync(join(tmpdir(), 'fapiao-bench-lua-'));

/** Runs wrk with a Lua script (one thread: the two cores are shared with the server); asynchronous, so a server in
 * this process (the ceilings) keeps serving. */
async function runWrk(scenario: string, url: string, lua: string, conns = connections): Promise<Row> {
  const file = join(luaDir, `${randomUUID()}.lua`);
  writeFileSync(file, lua + LUA_DONE);
  const { stdout: out } = await promisify(execFile)('wrk', ['-t1', `-c${conns}`, `-d${duration}s`, '--timeout', '10s', '-s', file, url], { encoding: 'utf8' });
  const m = /RESULT (\{.*\})/.exec(out);
  if (!m) throw new Error(`wrk printed no result:\n${out}`);
  const r = JSON.parse(m[1]!) as { requests: number; duration_us: number; p50_us: number; p99_us: number; non2xx: number; errors: number };
  const row: Row = {
    scenario,
    rps: Math.round(r.requests / (r.duration_us / 1e6)),
    p50: Math.round(r.p50_us / 100) / 10,
    p99: Math.round(r.p99_us / 100) / 10,
    requests: r.requests,
    non2xx: r.non2xx,
    errors: r.errors,
  };
  console.log(JSON.stringify(row));
  return row;
}

async function run(scenario: string, opts: autocannon.Options): Promise<Row> {
  const result = await autocannon({ connections, duration, ...opts });
  const row: Row = {
    scenario,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
  console.log(JSON.stringify(row));
  return row;
}

/**
 * Batch issuance: POST /v1/invoice-batches with BATCH_SIZE invoices (JSON Lines) for `duration` seconds, two batches
 * in flight, then waits until every batch completes. The rate is invoices issued per second from the first POST to
 * the last completion, comparable with the issue scenario's requests per second; p50/p99 are batch completion times.
 */
async function runBatches(): Promise<Row> {
  const size = Number(process.env.BENCH_BATCH_SIZE ?? 500);
  const run = randomUUID().slice(0, 8);
  let n = 0;
  const ndjson = () => Array.from({ length: size }, () => JSON.stringify(sampleInvoice({ externalId: `bench-${run}-${n++}` }))).join('\n');
  const started = Date.now();
  const times: number[] = [];
  let issued = 0;
  let failed = 0;
  const one = async () => {
    const t0 = Date.now();
    const res = await request(`${server.url}/v1/invoice-batches`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/x-ndjson' }, body: ndjson(), dispatcher: server.agent,
    });
    if (res.statusCode !== 202) throw new Error(`batch refused: ${res.statusCode} ${await res.body.text()}`);
    const { id } = (await res.body.json()) as { id: string };
    for (;;) {
      const v = await request(`${server.url}/v1/invoice-batches/${id}?limit=1`, { headers, dispatcher: server.agent });
      const view = (await v.body.json()) as { status: string; progress: { issued: number; failed: number; invalid: number } };
      if (view.status === 'completed') {
        issued += view.progress.issued;
        failed += view.progress.failed + view.progress.invalid;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    times.push(Date.now() - t0);
  };
  const lane = async () => {
    while (Date.now() - started < duration * 1000) await one();
  };
  await Promise.all([lane(), lane()]);
  const seconds = (Date.now() - started) / 1000;
  times.sort((a, b) => a - b);
  const row: Row = {
    scenario: `batch issue (POST /v1/invoice-batches, ${size} per batch; invoices/s)`,
    rps: Math.round(issued / seconds),
    p50: times[Math.floor(times.length / 2)] ?? 0,
    p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] ?? 0,
    requests: issued,
    non2xx: failed,
    errors: 0,
  };
  console.log(JSON.stringify(row));
  return row;
}

const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-bench-'));
// The public anti-enumeration limits would answer 429 to a single-IP load generator; lift them for the measurement.
const env: Record<string, string> = {
  FAPIAO_LOG_LEVEL: 'info', FAPIAO_VERIFY_PER_IP_PER_MINUTE: '1000000', FAPIAO_VERIFY_PER_INVOICE_PER_DAY: '1000000',
  FAPIAO_PUBLIC_RATE_PER_MINUTE: '100000000', FAPIAO_TENANT_RATE_PER_MINUTE: '100000000',
};
// The server runs as in production: from dist/ when that build is current (bin/fapiao.js decides), else the sources.
env.FAPIAO_RUN = 'auto';
if (process.env.BENCH_SIGNER_THREADS) env.FAPIAO_SIGNER_THREADS = process.env.BENCH_SIGNER_THREADS;
else env.FAPIAO_SIGNER_THREADS = '2';
const server = await spawnServer(dataDir, env);
const serverRuns = server.output.some((l) => l.includes('running the sources')) || !distBuilt() ? 'sources (tsx)' : 'dist/';
const ca = readFileSync(join(dataDir, 'tls', 'ca.pem'));
const tlsOptions = { ca, servername: 'localhost' };
const headers = { authorization: `Bearer ${server.demoKey}`, 'content-type': 'application/json' };
const body = JSON.stringify(sampleInvoice());

/** PDFs rendered per second without the cache, in this process on one core (the work of a cache miss). */
async function pdfRenderRate(): Promise<Row> {
  const { invoiceToPdf } = await import('../src/modules/documents/domain/to-pdf.ts');
  const { blueSpecial } = await import('../test/fixtures/sample-invoice.ts');
  await invoiceToPdf(blueSpecial(), { attachXml: true });
  const times: number[] = [];
  const until = performance.now() + Math.min(duration, 5) * 1000;
  while (performance.now() < until) {
    const t = performance.now();
    await invoiceToPdf(blueSpecial(), { attachXml: true });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  const q = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))]! * 10) / 10;
  return { scenario: 'render a PDF without the cache (in process, one core: a cache miss)', rps: Math.round(times.length / (total / 1000)), p50: q(0.5), p99: q(0.99), requests: times.length, non2xx: 0, errors: 0 };
}

/** The server's resident set size now, bytes (Linux /proc), or undefined. */
function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Overload: issue requests from 16 times as many connections as the other scenarios (at least 256), so that more is
 * asked than can be done and requests queue up. With wrk each connection sends its next request as soon as the last
 * is answered, so a refusal answered at once is followed by another request at once: the offered rate is whatever the
 * client manages, reported beside the issue scenario's sustained rate. autocannon (where wrk is missing) offers four
 * times that rate (overallRate). The server must shed (503 + Retry-After: issuing.maxQueued and
 * issuing.maxQueueWaitMs; http.maxEventLoopDelayMs when set) rather than let latency grow without bound, keep its
 * memory bounded (RSS sampled every 250 ms), and lose nothing it acknowledged: every 201's number is read back
 * afterwards.
 */
async function runOverload(sustained: number, on: Spawned = server, onDir = dataDir, setting = ''): Promise<{ row: Row; note: string }> {
  const server = on;
  const headers = { authorization: `Bearer ${on.demoKey}`, 'content-type': 'application/json' };
  const tlsOptions = { ca: readFileSync(join(onDir, 'tls', 'ca.pem')), servername: 'localhost' };
  const pid = server.proc.pid!;
  const rssBefore = rssBytes(pid);
  let rssMax = rssBefore ?? 0;
  const sampler = setInterval(() => {
    const r = rssBytes(pid);
    if (r !== undefined && r > rssMax) rssMax = r;
  }, 250);
  const conns = Math.max(connections * 16, 256);
  let numbers: string[] = [];
  let shed = 0;
  let shedWithRetryAfter = 0;
  let r: { requests: number; seconds: number; p50: number; p99: number; max: number; non2xx: number; errors: number };
  let offeredText: string;
  if (useWrk) {
    // Each 201's number and each 503 (with or without Retry-After) written to a file by wrk's Lua, one line each.
    const outFile = join(luaDir, `overload-${randomUUID()}.txt`);
    const lua = `${issueLua(body, headers, 'overload')}
local out = io.open(${luaString(outFile)}, "a")
response = function(status, hdrs, b)
  if status == 201 then
    local n = string.match(b, '"number":"(%d+)"')
    if n then out:write(n, "\\n") end
  elseif status == 503 then
    out:write(hdrs["retry-after"] and "S1\\n" or "S0\\n")
  end
  out:flush()
end
`;
    const file = join(luaDir, `${randomUUID()}.lua`);
    writeFileSync(file, lua + LUA_DONE_MAX);
    const { stdout: out, stderr } = await promisify(execFile)('wrk', ['-t1', `-c${conns}`, `-d${duration}s`, '--timeout', '10s', '-s', file, `${server.url}/v1/invoices`], { encoding: 'utf8' });
    const m = /RESULT (\{.*\})/.exec(out);
    if (!m) throw new Error(`wrk printed no result:\n${out}\n${stderr}`);
    const w = JSON.parse(m[1]!) as { requests: number; duration_us: number; p50_us: number; p99_us: number; max_us: number; non2xx: number; errors: number };
    const lines = readFileSync(outFile, 'utf8').split('\n').filter(Boolean);
    numbers = lines.filter((l) => !l.startsWith('S'));
    shed = lines.length - numbers.length;
    shedWithRetryAfter = lines.filter((l) => l === 'S1').length;
    r = { requests: w.requests, seconds: w.duration_us / 1e6, p50: w.p50_us / 1000, p99: w.p99_us / 1000, max: w.max_us / 1000, non2xx: w.non2xx, errors: w.errors };
    offeredText = `${Math.round(w.requests / r.seconds)} requests/s answered from ${conns} connections, ${Math.round((w.requests / r.seconds / sustained) * 10) / 10}× the issue rate`;
  } else {
    const offered = Math.max(100, sustained * 4);
    const result = await autocannon({
      url: server.url, tlsOptions, duration, connections: conns, overallRate: offered,
      requests: [{
        method: 'POST', path: '/v1/invoices', headers, body,
        setupRequest: (req) => ({ ...req, headers: { ...headers, 'idempotency-key': randomUUID() } }),
        onResponse: (status, resBody, _ctx, resHeaders) => {
          if (status === 201) numbers.push((JSON.parse(resBody) as { number: string }).number);
          else if (status === 503) {
            shed++;
            if (resHeaders?.['retry-after']) shedWithRetryAfter++;
          }
        },
      }],
    });
    r = { requests: result.requests.total, seconds: result.duration, p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max, non2xx: result.non2xx, errors: result.errors + result.timeouts };
    offeredText = `offered at 4× the issue rate, ${offered}/s, from ${conns} connections`;
  }
  clearInterval(sampler);
  // Every acknowledged invoice is there.
  let found = 0;
  for (let k = 0; k < numbers.length; k += 32) {
    const got = await Promise.all(numbers.slice(k, k + 32).map(async (n) => {
      const res = await request(`${server.url}/v1/invoices/${n}`, { headers, dispatcher: server.agent });
      await res.body.dump();
      return res.statusCode === 200;
    }));
    found += got.filter(Boolean).length;
  }
  const mib = (b: number | undefined) => (b === undefined ? '?' : `${Math.round(b / 2 ** 20)} MiB`);
  const ms = (v: number) => Math.round(v * 10) / 10;
  const row: Row = {
    scenario: `overload (POST /v1/invoices, ${offeredText}${setting}; req/s = 201s per second)`,
    rps: Math.round(numbers.length / r.seconds),
    p50: ms(r.p50),
    p99: ms(r.p99),
    requests: r.requests,
    non2xx: r.non2xx,
    errors: r.errors,
  };
  const other = r.non2xx - shed;
  const note = `Overload (${offeredText}${setting}): ${numbers.length} acknowledged (201), ${found} of them read back (lost: ${numbers.length - found}); ` +
    `${shed} shed with 503 (${shedWithRetryAfter} with Retry-After), ${other} other non-2xx, ${r.errors} errors/timeouts; ` +
    `latency of all answers p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, max ${ms(r.max)} ms; ` +
    `server RSS ${mib(rssBefore)} before, ${mib(rssMax)} at most.`;
  console.log(JSON.stringify(row));
  console.log(note);
  if (numbers.length !== found) throw new Error(`overload lost acknowledged invoices: ${numbers.length - found}`);
  return { row, note };
}

/** POST /v1/invoices on `s` with a new Idempotency-Key per request. */
function issueScenario(s: Spawned, dir: string, name: string, key = s.demoKey): Promise<Row> {
  const h = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  if (useWrk) {
    return runWrk(name, `${s.url}/v1/invoices`, issueLua(body, h));
  }
  return run(name, {
    url: s.url, tlsOptions: { ca: readFileSync(join(dir, 'tls', 'ca.pem')), servername: 'localhost' },
    requests: [{ method: 'POST', path: '/v1/invoices', headers: h, body,
      setupRequest: (req) => ({ ...req, headers: { ...h, 'idempotency-key': randomUUID() } }) }],
  });
}

const luaList = (items: string[]) => `{${items.map(luaString).join(',')}}`;
const cycle = (list: string, field: string) => `local items = ${list}\nlocal i = 0\nrequest = function()\n  i = i % #items + 1\n  return wrk.format(nil, ${field === 'path' ? 'items[i]' : 'nil, nil, items[i]'})\nend\n`;

interface Listed { number: string; issueDate: string; totals: { total: string } }

/** Up to 100 invoices of the key's tenant on `s`. */
async function listInvoices(s: Spawned, key: string): Promise<Listed[]> {
  const res = await request(`${s.url}/v1/invoices?limit=100`, { headers: { authorization: `Bearer ${key}` }, dispatcher: s.agent });
  const items = ((await res.body.json()) as { items: Listed[] }).items;
  if (items.length === 0) throw new Error('no invoices were issued');
  return items;
}

/** get, verify and search (wrk) against `s`, the scenarios named `${prefix}get …` and so on. */
async function readScenarios(rows: Row[], s: Spawned, key: string, prefix: string): Promise<void> {
  const h = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const invoices = await listInvoices(s, key);
  const pid = s.proc.pid!;
  await measured(rows, () => runWrk(`${prefix}get (GET /v1/invoices/{number})`, s.url, `${luaHeaders(h)}\n${cycle(luaList(invoices.map((v) => `/v1/invoices/${v.number}`)), 'path')}`), pid);
  await measured(rows, () => runWrk(`${prefix}verify (POST /v1/verify)`, `${s.url}/v1/verify`, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n${cycle(
    luaList(invoices.map((v) => JSON.stringify({ number: v.number, issueDate: v.issueDate, total: v.totals.total }))), 'body')}`), pid);
  // A page of 20 by issue date (the day of the invoices above), as an ERP lists the day's invoices.
  const day = invoices[0]!.issueDate;
  await measured(rows, () => runWrk(`${prefix}search (GET /v1/invoices, a page of 20 by issue date)`, `${s.url}/v1/invoices?issuedFrom=${day}&issuedTo=${day}&limit=20`, luaHeaders(h)), pid);
}

interface PgResult {
  /** PostgreSQL row of each scenario beside SQLite's, by the scenario's name without the prefix. */
  rows: Row[];
  /** Issuing from two processes on the one database, each its own tenant and series: the sum of both. */
  twoProcesses: Row;
}

const PG_PREFIX = 'PostgreSQL: ';

/**
 * The core scenarios on PostgreSQL: two server processes of one installation (one data directory copied, one master
 * key) on a database of their own. Issue, get, verify and search on the first alone; then issuing on both at once,
 * half the connections each, each for a tenant of its own in another region (a number series has one writer at a time
 * across nodes, docs/cluster.md, so nodes scale issuing over several series), read as the sum of the two.
 */
async function postgresScenarios(): Promise<PgResult | undefined> {
  if (process.env.BENCH_NO_PG) return undefined;
  const db = await pgTestUrl().catch((e: Error) => (console.log(`PostgreSQL scenarios skipped: ${e.message}`), undefined));
  if (!db) {
    console.log('PostgreSQL scenarios skipped: not reachable');
    return undefined;
  }
  const pgEnv = { ...env, FAPIAO_DATABASE_URL: db.url, FAPIAO_MASTER_KEY: randomBytes(32).toString('base64') };
  const inst = await fapiaoNodes(2, pgEnv);
  try {
    const [n1, n2] = inst.nodes as [typeof inst.nodes[0], typeof inst.nodes[0]];
    const s1 = await n1.start();
    if (!s1.demoKey) throw new Error('the PostgreSQL node printed no demo key');
    const rows: Row[] = [];
    await measured(rows, () => issueScenario(s1, n1.dataDir, `${PG_PREFIX}issue (POST /v1/invoices, new Idempotency-Key each)`, s1.demoKey), s1.proc.pid);
    await readScenarios(rows, s1, s1.demoKey, PG_PREFIX);

    const made = await runCli(['tenant', 'create', '--name', '北京基准测试有限公司', '--tax-id', '91110000600037341L', '--region', '11', '--json'],
      { ...pgEnv, FAPIAO_DATA_DIR: n2.dataDir });
    if (made.code !== 0) throw new Error(`tenant create failed: ${made.stderr}`);
    const key2 = (JSON.parse(made.stdout) as { apiKey: string }).apiKey;
    const s2 = await n2.start();
    const half = Math.max(1, Math.floor(connections / 2));
    const cpu0 = [processCpuMs(s1.proc.pid!), processCpuMs(s2.proc.pid!)];
    const busy0 = machineCpu();
    const [a, b] = await Promise.all([
      runWrk('PostgreSQL: issue, node 1 of 2', `${s1.url}/v1/invoices`, issueLua(body, { authorization: `Bearer ${s1.demoKey}`, 'content-type': 'application/json' }), half),
      runWrk('PostgreSQL: issue, node 2 of 2', `${s2.url}/v1/invoices`, issueLua(body, { authorization: `Bearer ${key2}`, 'content-type': 'application/json' }), half),
    ]);
    const cpu1 = [processCpuMs(s1.proc.pid!), processCpuMs(s2.proc.pid!)];
    const busy1 = machineCpu();
    const cpu = cpu0.every((x) => x !== undefined) && cpu1.every((x) => x !== undefined)
      ? (cpu1[0]! - cpu0[0]! + cpu1[1]! - cpu0[1]!) / Math.max(1, a.requests + b.requests) : undefined;
    const twoProcesses: Row = {
      scenario: `${PG_PREFIX}issue from two server processes on one database (${half} connections each, a tenant and series each; the sum)`,
      rps: a.rps + b.rps, p50: Math.max(a.p50, b.p50), p99: Math.max(a.p99, b.p99),
      requests: a.requests + b.requests, non2xx: a.non2xx + b.non2xx, errors: a.errors + b.errors,
      ...(cpu !== undefined ? { cpuMs: Math.round(cpu * 1000) / 1000 } : {}),
      ...(busy0 && busy1 && busy1.total > busy0.total ? { busy: (busy1.busy - busy0.busy) / (busy1.total - busy0.total) } : {}),
    };
    console.log(JSON.stringify(twoProcesses));
    return { rows, twoProcesses };
  } finally {
    await inst.close();
    await db.drop().catch(() => undefined);
  }
}

/** Runs one product scenario and adds the server's CPU time per request. */
async function measured(rows: Row[], go: () => Promise<Row>, pid = server.proc.pid!): Promise<void> {
  const before = processCpuMs(pid);
  const busy0 = machineCpu();
  const row = await go();
  const after = processCpuMs(pid);
  const busy1 = machineCpu();
  if (before !== undefined && after !== undefined && row.requests > 0) row.cpuMs = Math.round(((after - before) / row.requests) * 1000) / 1000;
  if (busy0 && busy1 && busy1.total > busy0.total) row.busy = (busy1.busy - busy0.busy) / (busy1.total - busy0.total);
  rows.push(row);
}

/** The machine's CPU time so far, all cores (Linux /proc/stat, clock ticks): busy (not idle or iowait) and total. */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - f[3]! - f[4]!, total };
  } catch {
    return undefined;
  }
}

try {
  if (!useWrk) console.log('wrk missing: the HTTP ceilings are skipped (they need wrk: Debian package `wrk`)');
  const ceilings = await measureCeilings({
    seconds: duration,
    tls: { key: readFileSync(join(dataDir, 'tls', 'server.key')), cert: readFileSync(join(dataDir, 'tls', 'server.pem')) },
    ...(useWrk ? { load: (name: string, url: string, lua: string) => runWrk(name, url, lua) } : {}),
  });
  const rows: Row[] = [];
  const issueName = 'issue (POST /v1/invoices, new Idempotency-Key each)';
  // Issuing without the ledger's integrator (ledger.integrator=false: leaves are still sequenced, nothing integrates
  // them), on a server of its own started the same way and measured just before the one with it: issue 11 asks the
  // two to stay within 10 % of each other.
  const bareDir = mkdtempSync(join(tmpdir(), 'fapiao-bench-bare-'));
  const bare = await spawnServer(bareDir, { ...env, FAPIAO_LEDGER_INTEGRATOR: 'false' });
  try {
    await measured(rows, () => issueScenario(bare, bareDir, 'issue without the ledger integrator (ledger.integrator=false, a server of its own)'), bare.proc.pid);
  } finally {
    await bare.stop('SIGTERM');
    await bare.agent.close();
    rmSync(bareDir, { recursive: true, force: true });
  }
  await measured(rows, () => issueScenario(server, dataDir, issueName));

  const sustained = rows.find((r) => r.scenario === issueName)!.rps;
  const overload = await runOverload(sustained);
  rows.push(overload.row);
  // The same with a tighter wait limit than the default's 2 s, on a server of its own: the limit is what bounds an
  // admitted request's latency when the connections alone would not.
  const tightDir = mkdtempSync(join(tmpdir(), 'fapiao-bench-tight-'));
  const tight = await spawnServer(tightDir, { ...env, FAPIAO_ISSUE_QUEUE_WAIT_MS: '250' });
  let overloadTight: { row: Row; note: string };
  try {
    overloadTight = await runOverload(sustained, tight, tightDir, ', issuing.maxQueueWaitMs=250');
    rows.push(overloadTight.row);
  } finally {
    await tight.stop('SIGTERM');
    await tight.agent.close();
    rmSync(tightDir, { recursive: true, force: true });
  }

  rows.push(await runBatches());

  const invoices = await listInvoices(server, server.demoKey!);
  let i = 0;
  if (useWrk) {
    await readScenarios(rows, server, server.demoKey!, '');
    // The 100 invoices rendered once each, then answered from the render cache (documents.renderCacheMb).
    await measured(rows, () => runWrk('pdf (GET /v1/invoices/{number}?format=pdf, 100 invoices, render cache)', server.url, `${luaHeaders(headers)}\n${cycle(luaList(invoices.map((v) => `/v1/invoices/${v.number}?format=pdf`)), 'path')}`));
    rows.push(await pdfRenderRate());
    // Inclusion proofs of the same 100 invoices against the served checkpoint, once the integrator has covered them.
    for (const v of invoices) {
      for (let tries = 0; ; tries++) {
        // The first request may meet a keep-alive connection the server closed while the PDFs rendered here.
        const status = await request(`${server.url}/v1/ledger/proof/${v.number}`, { headers, dispatcher: server.agent })
          .then(async (r) => (await r.body.dump(), r.statusCode), () => 0);
        if (status === 200) break;
        if ((status !== 202 && status !== 0) || tries > 300) throw new Error(`no proof of ${v.number}: ${status}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    await measured(rows, () => runWrk('proof (GET /v1/ledger/proof/{number}, 100 invoices)', server.url, `${luaHeaders(headers)}\n${cycle(luaList(invoices.map((v) => `/v1/ledger/proof/${v.number}`)), 'path')}`));
  } else {
  await measured(rows, () => run('get (GET /v1/invoices/{number})', {
    url: server.url, tlsOptions,
    requests: [{ method: 'GET', headers, setupRequest: (req) => ({ ...req, path: `/v1/invoices/${invoices[i++ % invoices.length]!.number}` }) }],
  }));
  let j = 0;
  await measured(rows, () => run('verify (POST /v1/verify)', {
    url: server.url, tlsOptions,
    requests: [{ method: 'POST', path: '/v1/verify', headers: { 'content-type': 'application/json' },
      setupRequest: (req) => {
        const inv = invoices[j++ % invoices.length]!;
        return { ...req, body: JSON.stringify({ number: inv.number, issueDate: inv.issueDate, total: inv.totals.total }) };
      } }],
  }));
  }

  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  await server.stop('SIGTERM');

  // The international signing profile (signing.algorithm=ECDSA-P256) on a server of its own, fresh data directory.
  if (useWrk) {
    const intlDir = mkdtempSync(join(tmpdir(), 'fapiao-bench-intl-'));
    const intl = await spawnServer(intlDir, { ...env, FAPIAO_SIGNING_ALGORITHM: 'ECDSA-P256' });
    try {
      await measured(rows, () => issueScenario(intl, intlDir, 'issue-intl (POST /v1/invoices signed with ECDSA P-256, signing.algorithm=ECDSA-P256)'), intl.proc.pid);
    } finally {
      await intl.stop('SIGTERM');
      await intl.agent.close();
      rmSync(intlDir, { recursive: true, force: true });
    }
  }
  const pgResult = useWrk ? await postgresScenarios() : undefined;
  if (pgResult) rows.push(...pgResult.rows, pgResult.twoProcesses);
  const startup = await measureStartup(quick ? 1 : 3);
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  const ceilingTable = [
    '| ceiling | rate | p50 ms | p99 ms |',
    '|---|---|---|---|',
    ...ceilings.map((c) => `| ${c.name} | ${c.rate} ${c.unit} | ${c.p50 ?? ''} | ${c.p99 ?? ''} |`),
  ].join('\n');
  const table = [
    '| scenario | req/s | ceiling (lowest that bounds it) | ratio | p50 ms | p99 ms | server CPU ms/req | machine CPU busy | requests | non-2xx | errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => {
      const c = ceilingOf(r, ceilings);
      return `| ${r.scenario} | ${r.rps} | ${c ? `${c.name}: ${c.rate} ${c.unit}` : ''} | ${c ? pct(r.rps / c.rate) : ''} | ${r.p50} | ${r.p99} | ${r.cpuMs ?? ''} | ${r.busy !== undefined ? pct(r.busy) : ''} | ${r.requests} | ${r.non2xx} | ${r.errors} |`;
    }),
  ].join('\n');
  const bySqlite = (name: string) => rows.find((r) => r.scenario === name);
  const pgTable = pgResult ? [
    '| on PostgreSQL | SQLite req/s | PostgreSQL req/s | PostgreSQL / SQLite (target ≥ 50 %) | server CPU ms/req, SQLite → PostgreSQL | machine CPU busy, SQLite → PostgreSQL |',
    '|---|---|---|---|---|---|',
    ...pgResult.rows.map((p) => {
      const name = p.scenario.slice(PG_PREFIX.length);
      const q = bySqlite(name);
      return `| ${name.split(' (')[0]} | ${q?.rps ?? ''} | ${p.rps} | ${q ? pct(p.rps / q.rps) : ''} | ${q?.cpuMs ?? ''} → ${p.cpuMs ?? ''} | ${q?.busy !== undefined ? pct(q.busy) : ''} → ${p.busy !== undefined ? pct(p.busy) : ''} |`;
    }),
    `| issue, 1 → 2 server processes on one database | ${pgResult.rows[0]!.rps} (1 process) | ${pgResult.twoProcesses.rps} (2 processes) | ${pct(pgResult.twoProcesses.rps / pgResult.rows[0]!.rps)} of one process | ${pgResult.rows[0]!.cpuMs ?? ''} → ${pgResult.twoProcesses.cpuMs ?? ''} (1 → 2 processes) | ${pgResult.rows[0]!.busy !== undefined ? pct(pgResult.rows[0]!.busy) : ''} → ${pgResult.twoProcesses.busy !== undefined ? pct(pgResult.twoProcesses.busy) : ''} |`,
  ].join('\n') : 'PostgreSQL scenarios: not run (not reachable, or BENCH_NO_PG).';
  const startupTable = [
    '| start-up, initialised data directory, to `ready` | median ms | min ms | runs |',
    '|---|---|---|---|',
    ...startup.map((s) => `| ${s.run === 'dist' ? 'compiled (dist/)' : 'sources through tsx'} | ${s.medianMs} | ${s.minMs} | ${s.runs} |`),
  ].join('\n');
  const section = `<!-- bench:start -->\nLast run: ${new Date().toISOString().slice(0, 10)} · ${machine} · ${connections} connections · ${duration} s per scenario · server from ${serverRuns} · signer threads ${env.FAPIAO_SIGNER_THREADS} · client ${useWrk ? 'wrk (1 thread)' : 'autocannon'} (overload: ${useWrk ? 'wrk' : 'autocannon'})\n\n${ceilingTable}\n\n${table}\n\n${overload.note}\n\n${overloadTight.note}\n\n${pgTable}\n\n${startupTable}\n<!-- bench:end -->`;
  console.log(`\n${section}`);
  if (!noWrite) {
    const path = new URL('../BENCHMARKS.md', import.meta.url);
    const doc = readFileSync(path, 'utf8');
    writeFileSync(path, doc.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, section));
    console.log('updated BENCHMARKS.md');
  }
} finally {
  await server.stop('SIGTERM');
  await server.agent.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(luaDir, { recursive: true, force: true });
}
