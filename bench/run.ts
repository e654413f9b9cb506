// `npm run bench`: starts the server on free ports (embedded SQLite, synchronous=FULL, real SM2 signatures) and
// measures issue, get and verify over HTTPS keep-alive with autocannon; writes the figures into BENCHMARKS.md.
// Options (env): BENCH_DURATION seconds per scenario (default 15), BENCH_CONNECTIONS (default 64),
// BENCH_SIGNER_THREADS (default: the server's default), BENCH_NO_WRITE=1 to print without touching BENCHMARKS.md.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { request } from 'undici';
import { spawnServer } from '../test/helpers/spawn-server.ts';
import { sampleInvoice } from '../test/helpers/test-app.ts';

const duration = Number(process.env.BENCH_DURATION ?? 15);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);

interface Row {
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
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

const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-bench-'));
// The public anti-enumeration limits would answer 429 to a single-IP load generator; lift them for the measurement.
const env: Record<string, string> = { FAPIAO_LOG_LEVEL: 'info', FAPIAO_VERIFY_PER_IP_PER_MINUTE: '1000000', FAPIAO_VERIFY_PER_INVOICE_PER_DAY: '1000000' };
if (process.env.BENCH_SIGNER_THREADS) env.FAPIAO_SIGNER_THREADS = process.env.BENCH_SIGNER_THREADS;
else env.FAPIAO_SIGNER_THREADS = '2';
const server = await spawnServer(dataDir, env);
const ca = readFileSync(join(dataDir, 'tls', 'ca.pem'));
const tlsOptions = { ca, servername: 'localhost' };
const headers = { authorization: `Bearer ${server.demoKey}`, 'content-type': 'application/json' };
const body = JSON.stringify(sampleInvoice());

try {
  const rows: Row[] = [];
  rows.push(await run('issue (POST /v1/invoices, new Idempotency-Key each)', {
    url: server.url, tlsOptions,
    requests: [{ method: 'POST', path: '/v1/invoices', headers, body,
      setupRequest: (req) => ({ ...req, headers: { ...headers, 'idempotency-key': randomUUID() } }) }],
  }));

  const list = await request(`${server.url}/v1/invoices?limit=100`, { headers, dispatcher: server.agent });
  const invoices = ((await list.body.json()) as { items: { number: string; issueDate: string; totals: { total: string } }[] }).items;
  if (invoices.length === 0) throw new Error('no invoices were issued');
  let i = 0;
  rows.push(await run('get (GET /v1/invoices/{number})', {
    url: server.url, tlsOptions,
    requests: [{ method: 'GET', headers, setupRequest: (req) => ({ ...req, path: `/v1/invoices/${invoices[i++ % invoices.length]!.number}` }) }],
  }));
  let j = 0;
  rows.push(await run('verify (POST /v1/verify)', {
    url: server.url, tlsOptions,
    requests: [{ method: 'POST', path: '/v1/verify', headers: { 'content-type': 'application/json' },
      setupRequest: (req) => {
        const inv = invoices[j++ % invoices.length]!;
        return { ...req, body: JSON.stringify({ number: inv.number, issueDate: inv.issueDate, total: inv.totals.total }) };
      } }],
  }));

  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const table = [
    '| scenario | req/s | p50 ms | p99 ms | requests | non-2xx | errors |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.requests} | ${r.non2xx} | ${r.errors} |`),
  ].join('\n');
  const section = `<!-- bench:start -->\nLast run: ${new Date().toISOString().slice(0, 10)} · ${machine} · ${connections} connections · ${duration} s per scenario · signer threads ${env.FAPIAO_SIGNER_THREADS}\n\n${table}\n<!-- bench:end -->`;
  console.log(`\n${section}`);
  if (!process.env.BENCH_NO_WRITE) {
    const path = new URL('../BENCHMARKS.md', import.meta.url);
    const doc = readFileSync(path, 'utf8');
    writeFileSync(path, doc.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, section));
    console.log('updated BENCHMARKS.md');
  }
} finally {
  await server.stop('SIGTERM');
  await server.agent.close();
  rmSync(dataDir, { recursive: true, force: true });
}
