// Reads of invoices with and without the buyer's personal data: `GET /v1/invoices/{number}` for an API key with
// `pii:read` and for one without, each over HTTPS keep-alive with wrk (one thread, 64 connections) against
// `fapiao serve` run as its own process on 100 invoices whose buyer is a natural person with every personal field,
// reporting the server's CPU time per request (user + system of the server process from /proc/<pid>/stat, as
// `npm run bench` does); then, in this process, the microseconds one read of a stored document costs, in the layout of
// one envelope per invoice and in the one before it (one envelope per field), as plaintext (opened cold, and again from
// the memo of opened envelopes) and masked.
//
// Usage: node --import tsx bench/pii-reads.ts [--seconds 10] [--rounds 2] [--http-only | --in-process-only]
// The two keys are measured alternately, `--rounds` times each, after a warm-up of the server; needs wrk.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { runCli, spawnServer } from '../test/helpers/spawn-server.ts';
import { sampleInvoice } from '../test/helpers/test-app.ts';
import { processCpuMs } from './ceilings.ts';
import { LUA_DONE, luaHeaders, luaString } from './wrk-scripts.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const seconds = arg('--seconds', 10);
const rounds = arg('--rounds', 2);
const httpOnly = process.argv.includes('--http-only');
const inProcessOnly = process.argv.includes('--in-process-only');

const BUYER = {
  name: '李四', taxId: '11010519491231002X', address: '北京市朝阳区建国路88号', phone: '13912345678', bankName: '工商银行',
  bankAccount: '6222021234567891234', email: 'li.si@example.com',
};

interface WrkResult { requests: number; duration_us: number; p50_us: number; p99_us: number; non2xx: number; errors: number }

async function wrk(url: string, lua: string, secs: number): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-pii-lua-'));
  const file = join(dir, 'get.lua');
  writeFileSync(file, lua + LUA_DONE);
  try {
    const { stdout } = await promisify(execFile)('wrk', ['-t1', '-c64', `-d${secs}s`, '--timeout', '10s', '-s', file, url], { encoding: 'utf8' });
    const m = /RESULT (\{.*\})/.exec(stdout);
    if (!m) throw new Error(`wrk printed no result:\n${stdout}`);
    return JSON.parse(m[1]!) as WrkResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function overHttp(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-pii-'));
  const env: Record<string, string> = {
    FAPIAO_LOG_LEVEL: 'info', FAPIAO_TENANT_RATE_PER_MINUTE: '100000000', FAPIAO_PUBLIC_RATE_PER_MINUTE: '100000000',
    FAPIAO_RUN: process.env.FAPIAO_RUN ?? 'auto', FAPIAO_SIGNER_THREADS: '2',
  };
  const server = await spawnServer(dataDir, env, 120_000);
  try {
    const tenant = server.output.map((l) => /^demo tenant (\S+)/.exec(l)?.[1]).find(Boolean);
    if (!tenant || !server.demoKey) throw new Error('no demo tenant or key');
    const created = await runCli(['apikey', 'create', '--tenant', tenant, '--scopes', 'invoices:issue,invoices:read'], { ...env, FAPIAO_DATA_DIR: dataDir });
    const maskedKey = /^api key (\S+)/m.exec(created.stdout)?.[1];
    if (!maskedKey) throw new Error(`no API key created: ${created.stderr}`);
    const full = { authorization: `Bearer ${server.demoKey}` };
    const numbers: string[] = [];
    const body = JSON.stringify(sampleInvoice({ buyer: BUYER }));
    for (let i = 0; i < 100; i++) {
      const res = await request(`${server.url}/v1/invoices`, { method: 'POST', headers: { ...full, 'content-type': 'application/json', 'idempotency-key': `pii-${i}` }, body, dispatcher: server.agent });
      const got = (await res.body.json()) as { number: string };
      if (res.statusCode !== 201) throw new Error(`issue answered ${res.statusCode}`);
      numbers.push(got.number);
    }
    const paths = `{${numbers.map((n) => luaString(`/v1/invoices/${n}`)).join(',')}}`;
    const lua = (h: Record<string, string>) => `${luaHeaders(h)}\nlocal items = ${paths}\nlocal i = 0\nrequest = function()\n  i = i % #items + 1\n  return wrk.format(nil, items[i])\nend\n`;
    const keys = { 'pii:read': full, 'no pii:read': { authorization: `Bearer ${maskedKey}` } };
    const pid = server.proc.pid!;
    for (const h of Object.values(keys)) await wrk(server.url, lua(h), 3);
    for (let r = 0; r < rounds; r++) {
      for (const [name, h] of Object.entries(keys)) {
        const before = processCpuMs(pid)!;
        const w = await wrk(server.url, lua(h), seconds);
        const cpu = processCpuMs(pid)! - before;
        console.log(JSON.stringify({
          scenario: `GET /v1/invoices/{number}, key ${name}`, round: r + 1, rps: Math.round(w.requests / (w.duration_us / 1e6)),
          p50ms: w.p50_us / 1000, p99ms: w.p99_us / 1000, serverCpuUsPerReq: Math.round((cpu / w.requests) * 1000 * 10) / 10,
          requests: w.requests, non2xx: w.non2xx, errors: w.errors, loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
        }));
      }
    }
  } finally {
    await server.stop('SIGTERM');
    await server.agent.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** µs of this process's CPU time per call of `fn(i)` for i in [from, to). */
async function perCall(from: number, to: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const t = process.cpuUsage();
  for (let i = from; i < to; i++) await fn(i);
  const d = process.cpuUsage(t);
  return Math.round(((d.user + d.system) / (to - from)) * 100) / 100;
}

async function inProcess(): Promise<void> {
  const { createStorage } = await import('../src/platform/storage/create-storage.ts');
  const { InvoiceProtection, isPersonalTaxId } = await import('../src/modules/invoicing/storage/invoice-protection.ts');
  const { encryptField } = await import('../src/platform/crypto/field-cipher.ts');
  const { FieldKeys } = await import('../src/platform/storage/field-keys.ts');
  const { makeInvoice, invoiceNumber } = await import('../test/helpers/invoice-factory.ts');
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-pii-inproc-'));
  const masterKey = new Uint8Array(randomBytes(32));
  const storage = createStorage(`sqlite:${join(dir, 'fapiao.db')}`, { masterKey });
  try {
    await storage.migrate();
    const tenantId = 't-bench';
    const key = await storage.fields!.dataKeyFor(storage.db, tenantId);
    const n = 20_000;
    const invoices = Array.from({ length: n }, (_, i) => ({ ...makeInvoice(invoiceNumber('26510', i + 1)), buyer: { ...BUYER }, ledger: { index: i } }));
    const writer = new InvoiceProtection(storage.fields!);
    const envelope = invoices.map((inv) => writer.protect(key, tenantId, inv));
    const perField = invoices.map((inv) => {
      const buyer: Record<string, string | undefined> = { ...inv.buyer };
      for (const f of ['address', 'phone', 'bankAccount', 'email', 'taxId']) {
        const v = buyer[f];
        if (v !== undefined && (f !== 'taxId' || isPersonalTaxId(v))) buyer[f] = encryptField(key, v, { tenantId, table: 'invoices', column: `buyer.${f}`, rowId: inv.number });
      }
      return JSON.stringify({ ...inv, buyer });
    });
    const results: Record<string, number> = {};
    for (const [layout, docs] of [['one envelope per invoice', envelope], ['one envelope per field (before)', perField]] as const) {
      // A fresh FieldKeys: an empty memo, so the first pass over the documents decrypts every one (cold); the second
      // answers them from the memo (warm).
      // The first 2,000 documents warm the code up; each of the rest is opened once.
      const protection = new InvoiceProtection(new FieldKeys(masterKey));
      await perCall(0, 2000, (i) => protection.reveal(storage.db, tenantId, docs[i]!));
      results[`${layout}: plaintext, cold (decrypted)`] = await perCall(2000, docs.length, (i) => protection.reveal(storage.db, tenantId, docs[i]!));
      // The last 100 opened, again and again: answered from the memo.
      const recent = (i: number) => docs[docs.length - 100 + (i % 100)]!;
      await perCall(0, 2000, (i) => protection.reveal(storage.db, tenantId, recent(i)));
      results[`${layout}: plaintext, memo`] = await perCall(0, 20_000, (i) => protection.reveal(storage.db, tenantId, recent(i)));
      await perCall(0, 2000, (i) => protection.revealMasked(storage.db, tenantId, recent(i)));
      results[`${layout}: masked`] = await perCall(0, 20_000, (i) => protection.revealMasked(storage.db, tenantId, recent(i)));
      const counts = protection.keys.envelopeCounts();
      results[`${layout}: decryptions done`] = counts.decrypted;
    }
    results['JSON.parse of the stored document alone (one envelope per invoice)'] = await perCall(0, 20_000, (i) => Promise.resolve(JSON.parse(envelope[i % 100]!)));
    for (const [k, v] of Object.entries(results)) console.log(JSON.stringify({ inProcess: k, [k.endsWith('done') ? 'count' : 'cpuUsPerRead']: v }));
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(JSON.stringify({ machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}`, loadavg: loadavg() }));
if (!inProcessOnly) await overHttp();
if (!httpOnly) await inProcess();
