// The issue writer in process, without HTTP: `npx tsx bench/issue-writer.ts [seconds] [database URL]` keeps 64
// requests in flight (as 64 connections would, each sending its next request 0–2 ms after its answer), through the
// same IssueWriter, signer pool (2 threads) and issuing transaction as the server, on a SQLite file with
// synchronous=FULL (or the PostgreSQL URL given), field protection on (a random master key, as `fapiao init` makes
// one). Prints invoices/s, the main thread's CPU time per invoice (/proc/self/task/<pid>/stat: what is left for HTTP
// when the writer runs beside it), the whole process's, and the mean batch size and commit time. What it leaves out
// (TLS, Fastify, validation, tax math, the jobs woken by a commit) is what bench/profile-issue.ts sees.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStorage } from '../src/platform/storage/create-storage.ts';
import { unitOfWork } from '../src/repositories.ts';
import { createSignerPool } from '../src/platform/crypto/signer-pool.ts';
import { generateSm2KeyPair } from '../src/platform/crypto/sm2.ts';
import { IssueWriter, type WriteRequest } from '../src/modules/invoicing/app/issue-writer.ts';
import { computeInvoice } from '../src/modules/invoicing/domain/tax.ts';
import { systemClock } from '../src/shared/clock.ts';
import { processCpuMs, threadCpuMs } from './ceilings.ts';

const seconds = Number(process.argv[2] ?? 10);
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const dir = mkdtempSync(join(tmpdir(), 'fapiao-writer-'));
const url = process.argv[3] ?? `sqlite:${join(dir, 'fapiao.db')}`;
const storage = createStorage(url, { masterKey: new Uint8Array(randomBytes(32)) });
const key = generateSm2KeyPair();
const pool = createSignerPool({ size: 2, privateKeyHex: key.privateKey, publicKeyHex: key.publicKey });
try {
  await storage.migrate();
  const uow = unitOfWork(storage);
  const tenant = { id: `t-bench-${Date.now()}`, name: '上海演示科技有限公司', taxId: '91310000775785552L', regionCode: '31', channel: '0' };
  await uow.run(new Date(), (tx) => tx.tenants.insert(tenant));
  let batches = 0;
  let committedSeconds = 0;
  const writer = new IssueWriter({
    uow, quotas: uow.read.quotaUsage, clock: systemClock, verifyUrl: () => 'https://127.0.0.1:8443/verify', batchMax: 256,
    signer: { keyId: 'k-bench', publicKey: key.publicKey, sign: (m) => pool.sign(m) },
    observe: { signed: () => undefined, committed: (_n, s) => { batches++; committedSeconds += s; } },
  });
  const input = {
    type: 'normal' as const,
    buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', phone: '13812345678', email: 'buyer@example.com' },
    lines: [{ name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '1', unitPrice: '100.00', amount: '100.00', taxRate: '0.13' }],
    issuer: '张三',
  };
  const { lines, totals } = computeInvoice(input);
  let n = 0;
  const request = (): WriteRequest => ({
    tenantId: tenant.id, regionCode: tenant.regionCode, channel: tenant.channel,
    draft: { type: 'normal', kind: 'blue', seller: { name: tenant.name, taxId: tenant.taxId }, buyer: { ...input.buyer }, lines, priceIncludesTax: false, totals, issuer: '张三' },
    idempotency: { key: `bench-${n++}`, requestHash: 'h'.repeat(64), statusCode: 201 },
    audit: { actor: 'apikey:bench', ip: '127.0.0.1', requestId: `req-${n}` },
  });
  // Warm-up, then the measured run.
  const run = async (ms: number) => {
    const end = performance.now() + ms;
    let issued = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (performance.now() < end) {
        await writer.write(request());
        issued++;
        // Answers reach clients, and their next requests the server, spread over a moment, not all in one tick.
        await new Promise((r) => setTimeout(r, Math.random() * 2));
      }
    }));
    return issued;
  };
  await run(1000);
  batches = 0;
  committedSeconds = 0;
  const cpu0 = processCpuMs(process.pid)!;
  const main0 = threadCpuMs(process.pid)!;
  const t0 = performance.now();
  const issued = await run(seconds * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = processCpuMs(process.pid)! - cpu0;
  const main = threadCpuMs(process.pid)! - main0;
  console.log(JSON.stringify({
    engine: storage.engine, issued, perSecond: Math.round(issued / elapsed),
    mainCpuMsPerInvoice: round(main / issued, 3), processCpuMsPerInvoice: round(cpu / issued, 3),
    meanBatch: round(issued / batches, 1), meanCommitMs: round((committedSeconds * 1000) / batches, 2),
  }));
} finally {
  await pool.close();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
}
