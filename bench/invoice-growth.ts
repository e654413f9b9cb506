// Growth of the invoice store (issue 14, "Growth"): do issuing and get stay flat from an empty database to millions
// of stored invoices on SQLite? Not a test.
//
//   npx tsx bench/invoice-growth.ts [--sizes 0,1000000,10000000] [--seconds 10] [--data-dir DIR] [--seed-only]
//
// A server (the production build when current, as `npm run bench`) starts on a fresh data directory and issues 100
// invoices through the API: they are the templates. For each size the server is stopped and the invoices table grows
// to that many rows in bulk, outside the API: copies of the templates' rows (invoices and their lines) under numbers
// of another year (2025, so they never meet the numbers the server issues), spread over that year's days, with the
// templates' documents and indexes' columns (with the copy's number written into its document: these rows are
// ballast for the tables and indexes, not invoices anyone verifies; the templates' buyer has no personal fields, so
// a copy's document, with its own number written in, answers a get like any invoice). Then the server starts again on the grown file and
// wrk measures issue (POST /v1/invoices, a new Idempotency-Key each) and get (GET /v1/invoices/{number}, numbers of
// both templates and copies) for `--seconds` each, 64 connections. Prints seeding time, database size and each rate
// with its ratio to the empty database's.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { spawnServer, type Spawned } from '../test/helpers/spawn-server.ts';
import { sampleInvoice } from '../test/helpers/test-app.ts';
import { issueLua, luaHeaders, luaString } from './wrk-scripts.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const sizes = arg('sizes', '0,1000000').split(',').map(Number);
const seconds = Number(arg('seconds', '10'));
const connections = 64;
// --data-dir DIR: grow and keep the database there (a later run on the same DIR measures without seeding again);
// --seed-only: grow to the largest size and stop, measuring nothing (seed at any time, measure in a quiet window).
const keptDir = arg('data-dir', '');
const seedOnly = process.argv.includes('--seed-only');
const dataDir = keptDir || mkdtempSync(join(tmpdir(), 'fapiao-growth-'));
const luaDir = mkdtempSync(join(tmpdir(), 'fapiao-growth-lua-'));
const dbFile = join(dataDir, 'fapiao.db');
const env = {
  FAPIAO_RUN: 'auto', FAPIAO_SIGNER_THREADS: '2', FAPIAO_LOG_LEVEL: 'info',
  FAPIAO_PUBLIC_RATE_PER_MINUTE: '100000000', FAPIAO_TENANT_RATE_PER_MINUTE: '100000000',
};

// The templates' buyer is a company with no personal fields: a copy's document is the template's with the copy's
// number in it, which a get answers like any invoice (personal fields would be sealed to the template's number, so a
// copy could not open them). Get therefore measures the lookup and the answer without decryption at every size.
const TEMPLATE = sampleInvoice({ buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T' } });

const LUA_DONE = `
done = function(summary, latency, requests)
  io.write(string.format('\\nRESULT {"requests":%d,"duration_us":%d,"p99_us":%d,"non2xx":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`;

interface Rate { rps: number; p99Ms: number; non2xx: number; errors: number }

async function wrk(name: string, url: string, script: string): Promise<Rate> {
  const file = join(luaDir, `${name}.lua`);
  writeFileSync(file, script + LUA_DONE);
  const { stdout } = await promisify(execFile)('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', file, url], { encoding: 'utf8' });
  const r = JSON.parse(/RESULT (\{.*\})/.exec(stdout)![1]!) as { requests: number; duration_us: number; p99_us: number; non2xx: number; errors: number };
  return { rps: Math.round(r.requests / (r.duration_us / 1e6)), p99Ms: Math.round(r.p99_us / 100) / 10, non2xx: r.non2xx, errors: r.errors };
}

async function measure(server: Spawned, key: string, numbers: string[]): Promise<{ issue: Rate; get: Rate }> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const issue = await wrk('issue', `${server.url}/v1/invoices`, issueLua(JSON.stringify(TEMPLATE), headers, 'growth'));
  for (const n of numbers) {
    const res = await request(`${server.url}/v1/invoices/${n}`, { headers, dispatcher: server.agent });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`GET /v1/invoices/${n}: ${res.statusCode} ${text.slice(0, 300)}`);
  }
  const paths = numbers.map((n) => luaString(`/v1/invoices/${n}`)).join(',');
  const get = await wrk('get', server.url, `${luaHeaders(headers)}
local items = {${paths}}
local i = 0
request = function()
  i = i % #items + 1
  return wrk.format(nil, items[i])
end
`);
  return { issue, get };
}

/** Grows the invoices table to `target` rows with copies of the templates; returns the copies' numbers (a sample). */
function grow(target: number, templates: string[]): { seconds: number; sample: string[] } {
  const db = new Database(dbFile);
  db.pragma('synchronous = OFF');
  try {
    const have = (db.prepare('select count(*) as n from invoices').get() as { n: number }).n;
    const rows = templates.map((n) => db.prepare('select * from invoices where number = ?').get(n) as Record<string, unknown>);
    const lines = templates.map((n) => db.prepare('select * from invoice_lines where number = ?').all(n) as Record<string, unknown>[]);
    const docs = rows.map((r) => String(r.document));
    const invCols = Object.keys(rows[0]!);
    const lineCols = Object.keys(lines[0]![0]!);
    const insInv = db.prepare(`insert into invoices (${invCols.join(',')}) values (${invCols.map((c) => `@${c}`).join(',')})`);
    const insLine = db.prepare(`insert into invoice_lines (${lineCols.join(',')}) values (${lineCols.map((c) => `@${c}`).join(',')})`);
    const start = performance.now();
    const sample: string[] = [];
    const copies = Math.max(0, target - have);
    const already = (db.prepare("select count(*) as n from invoices where number like '25%'").get() as { n: number }).n;
    const chunk = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const t = i % rows.length;
        const number = `2531${String(already + i + 1).padStart(16, '0')}`;
        const day = new Date(Date.UTC(2025, 0, 1) + ((already + i) % 365) * 86_400_000).toISOString().slice(0, 10);
        insInv.run({ ...rows[t], number, document: docs[t]!.replaceAll(templates[t]!, number), issue_date: day, issued_at: `${day}T02:00:00.000Z`, external_id: null, created_at: `${day}T02:00:00.000Z`, updated_at: `${day}T02:00:00.000Z` });
        for (const l of lines[t]!) insLine.run({ ...l, number });
        if (i % Math.max(1, Math.floor(copies / 50)) === 0) sample.push(number);
      }
    });
    for (let from = 0; from < copies; from += 20_000) {
      chunk(from, Math.min(copies, from + 20_000));
      process.stdout.write(`\rseeding ${Math.min(copies, from + 20_000).toLocaleString('en')} / ${copies.toLocaleString('en')}`);
    }
    if (copies > 0) process.stdout.write('\n');
    // Grown before (--data-dir): a sample of the copies already there, spread over the table.
    if (copies === 0 && already > 0) {
      const step = Math.max(1, Math.floor(already / 100));
      for (let k = 1; k <= already && sample.length < 100; k += step) sample.push(`2531${String(k).padStart(16, '0')}`);
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { seconds: (performance.now() - start) / 1000, sample };
  } finally {
    db.close();
  }
}

const fileSize = () => (existsSync(dbFile) ? statSync(dbFile).size : 0) + (existsSync(`${dbFile}-wal`) ? statSync(`${dbFile}-wal`).size : 0);

try {
  const reused = existsSync(dbFile);
  let server = await spawnServer(dataDir, env, 120_000);
  const key = server.demoKey ?? readFileSync(join(dataDir, 'demo-api-key'), 'utf8').trim();
  const templates: string[] = [];
  if (reused) {
    // The first 100 invoices issued through the API on this directory are its templates.
    const db = new Database(dbFile, { readonly: true });
    templates.push(...(db.prepare("select number from invoices where number not like '2531%' order by rowid limit 100").all() as { number: string }[]).map((r) => r.number));
    db.close();
  }
  for (let i = templates.length; i < 100; i++) {
    const res = await request(`${server.url}/v1/invoices`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'idempotency-key': `template-${i}` },
      body: JSON.stringify(TEMPLATE), dispatcher: server.agent,
    });
    templates.push(((await res.body.json()) as { number: string }).number);
  }
  const rows: string[] = [];
  let base: { issue: Rate; get: Rate } | undefined;
  let sample: string[] = [];
  for (const size of seedOnly ? [Math.max(...sizes)] : sizes) {
    await server.stop('SIGTERM');
    await server.agent.close();
    const seeded = grow(size, templates);
    if (seedOnly) {
      console.log(`seeded ${size.toLocaleString('en')} invoices in ${Math.round(seeded.seconds)} s, ${Math.round((fileSize() / 2 ** 30) * 100) / 100} GiB, in ${dataDir}`);
      process.exit(0);
    }
    sample = [...sample, ...seeded.sample].slice(-100);
    server = await spawnServer(dataDir, env, 300_000);
    const got = await measure(server, key, [...templates, ...sample]);
    base ??= got;
    const pct = (a: number, b: number) => `${Math.round((a / b) * 100)} %`;
    const line = `| ${size.toLocaleString('en')} | ${Math.round(seeded.seconds * 10) / 10} s | ${Math.round((fileSize() / 2 ** 30) * 100) / 100} GiB | ${got.issue.rps} | ${pct(got.issue.rps, base.issue.rps)} | ${got.issue.p99Ms} | ${got.get.rps} | ${pct(got.get.rps, base.get.rps)} | ${got.get.p99Ms} | ${got.issue.non2xx} / ${got.get.non2xx} |`;
    console.log(line);
    rows.push(line);
  }
  await server.stop('SIGTERM');
  await server.agent.close();
  console.log(`\n| stored invoices | seeding | database | issue/s | vs empty | p99 ms | get/s | vs empty | p99 ms | non-2xx (issue / get) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n${rows.join('\n')}`);
} finally {
  if (!keptDir) rmSync(dataDir, { recursive: true, force: true });
  rmSync(luaDir, { recursive: true, force: true });
}
