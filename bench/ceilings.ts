// The machine's ceilings, measured in the same run as the product scenarios (bench/run.ts): what the hardware and the
// runtime give for each layer the product stacks up, so that each scenario is reported as a ratio to its ceiling.
// - https: a node:https keep-alive hello world, driven by wrk like the product;
// - fastify: one Fastify route over HTTPS taking a ~1 KB JSON body validated by a TypeBox schema;
// - sm2: our signer's signatures per second on one core (inline) and through the worker pool;
// - ecdsa / ed25519: ECDSA P-256 and Ed25519 signatures per second through node:crypto on one core (the
//   international signing profile);
// - sqlite: synchronous=FULL commits per second in WAL mode, one row per commit and 64 rows per commit;
// - postgres: the same against 127.0.0.1:5432 (user postgres, db test, or BENCH_PG_URL) when it answers, one connection.
import { generateKeyPairSync, sign } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import pg from 'pg';
import { Type } from 'typebox';
import { generateSm2KeyPair } from '../src/platform/crypto/sm2.ts';
import { createSm2Signer } from '../src/platform/crypto/sm2-signer.ts';
import { createSignerPool } from '../src/platform/crypto/signer-pool.ts';

export interface Ceiling {
  name: string;
  /** Operations per second. */
  rate: number;
  unit: string;
  p50?: number;
  p99?: number;
}

/** An HTTP load run (wrk) against a URL with a Lua script; returns req/s and latency in ms. */
export type LoadRun = (scenario: string, url: string, lua: string) => Promise<{ rps: number; p50: number; p99: number }>;

const BODY = {
  seller: { name: '上海演示科技有限公司', taxId: '91310000775785552L' },
  buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T' },
  lines: Array.from({ length: 6 }, (_, i) => ({ name: `软件开发费 ${i}`, taxCode: '3040201000000000000', quantity: '2', unitPrice: '50.00', amount: '100.00', taxRate: '0.13' })),
  remark: 'x'.repeat(200),
};
const Money = Type.String({ pattern: '^-?[0-9]{1,15}(\\.[0-9]{1,2})?$' });
const Party = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }), taxId: Type.String({ pattern: '^[0-9A-Z]{15,20}$' }) }, { additionalProperties: false });
const BODY_SCHEMA = Type.Object({
  seller: Party, buyer: Party,
  lines: Type.Array(Type.Object({
    name: Type.String({ minLength: 1, maxLength: 100 }), taxCode: Type.String({ pattern: '^[0-9]{19}$' }),
    quantity: Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?$' }), unitPrice: Money, amount: Money, taxRate: Type.String({ pattern: '^0(\\.[0-9]{1,3})?$' }),
  }, { additionalProperties: false }), { minItems: 1, maxItems: 100 }),
  remark: Type.String({ maxLength: 500 }),
}, { additionalProperties: false });

const luaString = (s: string) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

/** Calls `op` for `ms` milliseconds, returns calls per second (op returns how many operations it did). */
async function forDuration(ms: number, op: () => number | Promise<number>): Promise<number> {
  const end = performance.now() + ms;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() < end) n += await op();
  return n / ((performance.now() - t0) / 1000);
}

/** Without `load` (no wrk) the two HTTP ceilings are skipped. */
export async function measureCeilings(opts: { seconds: number; tls: { key: Buffer; cert: Buffer }; load?: LoadRun }): Promise<Ceiling[]> {
  const out: Ceiling[] = [];
  const ms = opts.seconds * 1000;
  const push = (c: Ceiling) => {
    console.log(JSON.stringify(c));
    out.push(c);
  };

  if (opts.load) await httpCeilings(opts.load, opts.tls, push);
  await cpuAndStorageCeilings(ms, push);
  return out;
}

async function httpCeilings(load: LoadRun, tls: { key: Buffer; cert: Buffer }, push: (c: Ceiling) => void): Promise<void> {
  const opts = { tls, load };
  // HTTPS keep-alive hello world.
  const hello = createServer({ ...opts.tls, minVersion: 'TLSv1.2' }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('hello');
  });
  hello.listen(0, '127.0.0.1');
  await once(hello, 'listening');
  try {
    const r = await opts.load('ceiling-https', `https://127.0.0.1:${(hello.address() as AddressInfo).port}/`, '');
    push({ name: 'https hello world (node:https)', rate: r.rps, unit: 'req/s', p50: r.p50, p99: r.p99 });
  } finally {
    hello.closeAllConnections();
    hello.close();
  }

  // Fastify + schema-validated ~1 KB JSON body over HTTPS.
  const app = Fastify({ https: { ...opts.tls, minVersion: 'TLSv1.2' }, logger: false });
  app.post('/echo', { schema: { body: BODY_SCHEMA } }, (req) => ({ ok: true, lines: (req.body as typeof BODY).lines.length }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const body = JSON.stringify(BODY);
    const r = await opts.load('ceiling-fastify', `https://127.0.0.1:${(app.server.address() as AddressInfo).port}/echo`,
      `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${luaString(body)}\n`);
    push({ name: `fastify POST, ${Buffer.byteLength(body)} B JSON body, schema-validated (HTTPS)`, rate: r.rps, unit: 'req/s', p50: r.p50, p99: r.p99 });
  } finally {
    await app.close();
  }

}

async function cpuAndStorageCeilings(ms: number, push: (c: Ceiling) => void): Promise<void> {
  // SM2 signatures: inline on this thread, then through the worker pool (as the server runs it).
  const key = generateSm2KeyPair();
  const msg = new Uint8Array(600).fill(7);
  const signer = createSm2Signer(key.privateKey, key.publicKey);
  push({ name: 'SM2 signatures, one core (inline)', rate: Math.round(await forDuration(ms, () => (signer.sign(msg), 1))), unit: 'sig/s' });
  // The opt-in base-point table (signing.sm2BaseMul: table; not constant-time), for comparison.
  const tabled = createSm2Signer(key.privateKey, key.publicKey, { baseMul: 'table' });
  tabled.sign(msg);
  push({ name: 'SM2 signatures, one core, base-point table (opt-in)', rate: Math.round(await forDuration(ms / 2, () => (tabled.sign(msg), 1))), unit: 'sig/s' });
  const threads = Math.min(2, availableParallelism());
  const pool = createSignerPool({ size: threads, privateKeyHex: key.privateKey, publicKeyHex: key.publicKey });
  try {
    const batch = Array.from({ length: 64 }, () => msg);
    // Two batches in flight, as the issue writer keeps the pool busy.
    const rate = await forDuration(ms, async () => (await Promise.all([pool.sign(batch), pool.sign(batch)])).length * 64);
    push({ name: `SM2 signatures, worker pool (${threads} threads, batches of 64)`, rate: Math.round(rate), unit: 'sig/s' });
  } finally {
    await pool.close();
  }

  // The international signing profile's algorithms through node:crypto, one core (what signing.algorithm offers
  // besides SM2).
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  push({ name: 'ECDSA P-256 signatures, one core (node:crypto)', rate: Math.round(await forDuration(ms / 2, () => (sign('sha256', msg, { key: p256, dsaEncoding: 'ieee-p1363' }), 1))), unit: 'sig/s' });
  const ed = generateKeyPairSync('ed25519').privateKey;
  push({ name: 'Ed25519 signatures, one core (node:crypto)', rate: Math.round(await forDuration(ms / 2, () => (sign(null, msg, ed), 1))), unit: 'sig/s' });

  // SQLite synchronous=FULL commits (WAL, as the server opens it).
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-ceiling-'));
  try {
    const db = new Database(join(dir, 'c.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const ins = db.prepare('INSERT INTO t (body) VALUES (?)');
    const row = 'x'.repeat(1500);
    const one = db.transaction(() => ins.run(row));
    const many = db.transaction(() => {
      for (let i = 0; i < 64; i++) ins.run(row);
    });
    push({ name: 'SQLite commits, synchronous=FULL, 1 row each', rate: Math.round(await forDuration(ms / 2, () => (one(), 1))), unit: 'commits/s' });
    const batches = await forDuration(ms / 2, () => (many(), 1));
    push({ name: 'SQLite commits, synchronous=FULL, 64 rows each', rate: Math.round(batches), unit: 'commits/s' });
    push({ name: 'SQLite rows committed in batches of 64', rate: Math.round(batches * 64), unit: 'rows/s' });
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // PostgreSQL commits, when reachable.
  const client = new pg.Client({ connectionString: process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test', connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
  } catch (e) {
    console.log(`PostgreSQL not reachable (${(e as Error).message}); its ceiling is skipped`);
    return;
  }
  try {
    await client.query('CREATE TEMP TABLE bench_ceiling (id bigserial PRIMARY KEY, body text NOT NULL)');
    const row = 'x'.repeat(1500);
    push({ name: 'PostgreSQL commits, 1 row each (one connection)', rate: Math.round(await forDuration(ms / 2, async () => {
      await client.query('INSERT INTO bench_ceiling (body) VALUES ($1)', [row]);
      return 1;
    })), unit: 'commits/s' });
    const rows = Array.from({ length: 64 }, () => row);
    const batches = await forDuration(ms / 2, async () => {
      await client.query('INSERT INTO bench_ceiling (body) SELECT unnest($1::text[])', [rows]);
      return 1;
    });
    push({ name: 'PostgreSQL commits, 64 rows each (one connection)', rate: Math.round(batches), unit: 'commits/s' });
    push({ name: 'PostgreSQL rows committed in batches of 64 (one connection)', rate: Math.round(batches * 64), unit: 'rows/s' });
  } finally {
    await client.end();
  }
}

/** CPU time (user + system, all threads) a process has used so far, in ms, from /proc/<pid>/stat; undefined off Linux. */
export function processCpuMs(pid: number): number | undefined {
  return cpuMsOf(`/proc/${pid}/stat`);
}

/** CPU time of one thread of a process (the main thread's id is the process id), from /proc/<pid>/task/<tid>/stat. */
export function threadCpuMs(pid: number, tid = pid): number | undefined {
  return cpuMsOf(`/proc/${pid}/task/${tid}/stat`);
}

function cpuMsOf(path: string): number | undefined {
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')': utime and stime are 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}
