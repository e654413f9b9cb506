// The read scenarios alone, repeated: get, verify (查验) and search, each with a key that has `pii:read` and, for get
// and search, with one that lacks it (answers masked). Starts `fapiao serve` the way `npm run bench` does (embedded
// SQLite, synchronous=FULL, 2 signer threads, from dist/ when built, the public limits lifted), issues 100 invoices,
// then runs wrk (one thread, 64 connections, HTTPS keep-alive) on each scenario `--rounds` times in turn, after a
// short warm-up, printing the rate, p50/p99 and the server's CPU time per request (all threads, /proc/<pid>/stat),
// with the load average: CPU per request is the figure to compare between builds on a shared machine.
// `--prof` runs the server under `node --cpu-prof` and leaves the profile of the main thread for
// `node bench/profile-summary.mjs <file>` (run one scenario with `--only`, so the profile is of it alone).
// Not a test; needs wrk (Debian package `wrk`).
//
// `--pg` runs the server on PostgreSQL (a database of its own on BENCH_PG_URL's server, made and dropped); the CPU per
// request is then the server's alone, PostgreSQL's backend beside it on the same cores.
//
//   npx tsx bench/reads.ts [--seconds 10] [--rounds 3] [--only get,verify,search,get-masked,search-masked] [--prof] [--pg]
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { spawnServer } from '../test/helpers/spawn-server.ts';
import { sampleInvoice } from '../test/helpers/test-app.ts';
import { processCpuMs } from './ceilings.ts';
import { pgTestUrl } from '../test/helpers/pg.ts';
import { luaHeaders, luaString } from './wrk-scripts.ts';

function opt(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
function num(name: string, fallback: number): number {
  const v = Number(opt(name) ?? fallback);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${name} is a positive integer`);
  return v;
}

const seconds = num('seconds', 10);
const rounds = num('rounds', 3);
const connections = num('connections', 64);
const prof = process.argv.includes('--prof');
const SCENARIOS = ['get', 'verify', 'search', 'get-masked', 'search-masked'] as const;
type Scenario = (typeof SCENARIOS)[number];
const only = (opt('only')?.split(',') ?? [...SCENARIOS]) as Scenario[];
for (const s of only) if (!SCENARIOS.includes(s)) throw new Error(`--only takes ${SCENARIOS.join(', ')}`);
if (spawnSync('wrk', ['-v']).error !== undefined) throw new Error('wrk is missing (Debian package `wrk`)');

const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-reads-'));
const luaDir = mkdtempSync(join(tmpdir(), 'fapiao-reads-lua-'));
const profDir = prof ? mkdtempSync(join(tmpdir(), 'fapiao-reads-cpuprof-')) : undefined;
const pgDb = process.argv.includes('--pg') ? await pgTestUrl() : undefined;
if (process.argv.includes('--pg') && !pgDb) throw new Error('--pg: PostgreSQL is not reachable');
const spawnedAt = performance.now();
const server = await spawnServer(dataDir, {
  ...(pgDb ? { FAPIAO_DATABASE_URL: pgDb.url } : {}),
  FAPIAO_LOG_LEVEL: 'info', FAPIAO_RUN: process.env.FAPIAO_RUN ?? 'auto', FAPIAO_SIGNER_THREADS: '2',
  FAPIAO_VERIFY_PER_IP_PER_MINUTE: '1000000', FAPIAO_VERIFY_PER_INVOICE_PER_DAY: '1000000',
  FAPIAO_PUBLIC_RATE_PER_MINUTE: '100000000', FAPIAO_TENANT_RATE_PER_MINUTE: '100000000',
  ...(prof ? { NODE_OPTIONS: '' } : {}),
}, 120_000, profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);

const LUA_DONE = `
done = function(summary, latency, requests)
  io.write(string.format('\\nRESULT %d %d %d %d %d\\n', summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status))
end
`;

async function wrk(name: string, url: string, lua: string, secs = seconds): Promise<{ rate: number; p50: number; p99: number; requests: number }> {
  const file = join(luaDir, `${name}.lua`);
  writeFileSync(file, lua + LUA_DONE);
  const { stdout } = await promisify(execFile)('wrk', ['-t1', `-c${connections}`, `-d${secs}s`, '--timeout', '10s', '-s', file, url], { encoding: 'utf8' });
  const m = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(stdout);
  if (!m) throw new Error(`wrk printed no result:\n${stdout}`);
  const [requests, us, p50, p99, non2xx] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (non2xx > 0) throw new Error(`${name}: ${non2xx} answers were not 2xx`);
  return { rate: requests / (us / 1e6), p50: p50 / 1000, p99: p99 / 1000, requests };
}

try {
  const headers = { authorization: `Bearer ${server.demoKey}`, 'content-type': 'application/json' };
  // 100 invoices, 8 requests at a time.
  const body = JSON.stringify(sampleInvoice());
  for (let k = 0; k < 100; k += 8) {
    await Promise.all(Array.from({ length: 8 }, async (_, j) => {
      const res = await request(`${server.url}/v1/invoices`, { method: 'POST', headers: { ...headers, 'idempotency-key': `reads-${k + j}` }, body, dispatcher: server.agent });
      if (res.statusCode !== 201) throw new Error(`issue: ${res.statusCode} ${await res.body.text()}`);
      await res.body.dump();
    }));
  }
  const list = await request(`${server.url}/v1/invoices?limit=100`, { headers, dispatcher: server.agent });
  const invoices = ((await list.body.json()) as { items: { number: string; issueDate: string; totals: { total: string } }[] }).items;
  // A key of the same tenant without pii:read (the admin API; the demo key is the tenant's first, with every scope).
  const tenantId = /^demo tenant (\S+)/m.exec(server.output.join('\n'))?.[1];
  const admin = server.urls.get('admin');
  if (!tenantId || !admin) throw new Error('no demo tenant or admin listener');
  const made = await request(`${admin}/admin/v1/tenants/${tenantId}/api-keys`, {
    method: 'POST', dispatcher: server.agent, body: JSON.stringify({ scopes: ['invoices:read'] }),
    headers: { authorization: `Bearer ${readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()}`, 'content-type': 'application/json' },
  });
  if (made.statusCode !== 201) throw new Error(`api key: ${made.statusCode} ${await made.body.text()}`);
  const masked = { ...headers, authorization: `Bearer ${((await made.body.json()) as { secret: string }).secret}` };

  const luaList = (items: string[]) => `{${items.map(luaString).join(',')}}`;
  const cycle = (items: string[], field: 'path' | 'body') =>
    `local items = ${luaList(items)}\nlocal i = 0\nrequest = function()\n  i = i % #items + 1\n  return wrk.format(nil, ${field === 'path' ? 'items[i]' : 'nil, nil, items[i]'})\nend\n`;
  const day = invoices[0]!.issueDate;
  const paths = invoices.map((v) => `/v1/invoices/${v.number}`);
  const search = `${server.url}/v1/invoices?issuedFrom=${day}&issuedTo=${day}&limit=20`;
  const plan: Record<Scenario, [url: string, lua: string]> = {
    get: [server.url, `${luaHeaders(headers)}\n${cycle(paths, 'path')}`],
    'get-masked': [server.url, `${luaHeaders(masked)}\n${cycle(paths, 'path')}`],
    verify: [`${server.url}/v1/verify`, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n${cycle(
      invoices.map((v) => JSON.stringify({ number: v.number, issueDate: v.issueDate, total: v.totals.total })), 'body')}`],
    search: [search, luaHeaders(headers)],
    'search-masked': [search, luaHeaders(masked)],
  };
  const f = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const pid = server.proc.pid!;
  const results = new Map<Scenario, { rate: number; cpuMs: number }[]>();
  for (let r = 0; r < rounds; r++) {
    for (const s of only) {
      const [url, lua] = plan[s];
      // A first pass of two seconds warms the JIT and the caches; not counted.
      if (r === 0) await wrk(`${s}-warm`, url, lua, 2);
      const before = processCpuMs(pid)!;
      const from = (performance.now() - spawnedAt) / 1000;
      const x = await wrk(s, url, lua);
      const cpuMs = (processCpuMs(pid)! - before) / x.requests;
      const window = `${f(from, 1)}-${f((performance.now() - spawnedAt) / 1000, 1)}`;
      (results.get(s) ?? results.set(s, []).get(s)!).push({ rate: x.rate, cpuMs });
      console.log(`round ${r + 1} ${s}: ${f(x.rate)} req/s, p50 ${f(x.p50, 1)} ms, p99 ${f(x.p99, 1)} ms, server CPU ${f(cpuMs, 3)} ms/req, load average ${f(loadavg()[0]!, 1)}${prof ? `, profile window ${window} s` : ''}`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\n| scenario | runs | median req/s | median server CPU ms/req |\n|---|---:|---:|---:|`);
  for (const [s, xs] of results) console.log(`| ${s} | ${xs.length} × ${seconds} s | ${f(median(xs.map((x) => x.rate)))} | ${f(median(xs.map((x) => x.cpuMs)), 3)} |`);
} finally {
  await server.stop('SIGTERM');
  await server.agent.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(luaDir, { recursive: true, force: true });
  await pgDb?.drop();
}
if (profDir) console.log(`profiles in ${profDir}:\n${readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).join('\n')}`);
