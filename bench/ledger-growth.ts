// Growth of the ledger (docs/ledger.md): how long the integrator takes to integrate N sequenced leaves, and how many
// inclusion proofs per second the ledger service answers (LedgerService.proof: the leaf row by number, the served
// checkpoint, the proof from the stored tiles) once the tree holds N leaves: warm (the server's service, to which the
// integrator handed the tiles it stored) and cold (a fresh service: another node, or after a restart). Not a test.
//
//   npx tsx bench/ledger-growth.ts [--leaves 100000,1000000] [--proofs 20000] [--issues 2000] [--db sqlite|postgres]
//
// The leaves are seeded in bulk, outside the API, straight into `ledger_leaves` and `ledger_state` (well-formed
// entries of made-up invoices: issuing a million invoices through the API would measure issuing, not the ledger).
// Then the integrator's rounds run back to back (`integrateOnce`, up to 16,384 leaves a round, as in a server) until
// the checkpoint covers all of them, and `--proofs` proofs of random leaves are asked one after another.
// SQLite uses a file in a temporary data directory; `--db postgres` the database at FAPIAO_BENCH_PG_URL (default
// postgres://postgres@127.0.0.1:5432/test), whose ledger tables are emptied first.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig } from '../src/config/config.ts';
import { buildContainer, type ServerContainer } from '../src/container.ts';
import { ledgerLeafOf } from '../src/modules/ledger/app/leaf.ts';
import { LedgerService } from '../src/modules/ledger/app/ledger-service.ts';
import type { Tenant } from '../src/modules/tenants/storage/tenant-contract.ts';
import { draft } from '../test/usecases/kit.ts';

interface Row {
  leaves: number;
  seedSec: number;
  integrateSec: number;
  rounds: number;
  leavesPerSec: number;
  proofs: number;
  /** Through the server's ledger service, which the integrator's rounds handed the tiles they stored. */
  warm: ProofRun;
  /** Through a fresh ledger service that keeps nothing yet (another node, or after a restart). */
  cold: ProofRun;
  tiles: number;
  /** Invoices issued per second in process (SM2 inline, synchronous=FULL) on the empty log, and with N leaves. */
  issueEmpty: number;
  issueGrown: number;
}

interface ProofRun {
  proofsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const SIGNATURE = randomBytes(71).toString('base64');

/** `count` invoices issued through the use case from 32 concurrent callers; invoices per second. */
async function issueRate(app: ServerContainer, tenant: Tenant, count: number): Promise<number> {
  if (count === 0) return 0;
  let started = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (started < count) {
      started++;
      await app.services.invoices.issue(tenant, draft(), { replayStatus: 201 });
    }
  }));
  return count / ((performance.now() - t) / 1000);
}
const numberOf = (i: number) => `2631${String(i).padStart(16, '0')}`;

async function measure(leaves: number, proofs: number, db: 'sqlite' | 'postgres'): Promise<Row> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-ledger-growth-'));
  const env: Record<string, string> = { FAPIAO_DATA_DIR: dataDir, FAPIAO_SIGNER_THREADS: '0', FAPIAO_LISTEN_API: '127.0.0.1:0' };
  if (db === 'postgres') env.FAPIAO_DATABASE_URL = process.env.FAPIAO_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const config = loadConfig(env, dataDir);
  const app = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }) });
  try {
    await app.start();
    await app.services.integrator.stop();
    const kdb = app.storage.db;
    if (db === 'postgres') {
      for (const t of ['ledger_leaves', 'ledger_tiles', 'ledger_bundles', 'ledger_checkpoints'] as const) await kdb.deleteFrom(t).execute();
      await kdb.updateTable('ledger_state').set({ size: 0 }).where('id', '=', 1).execute();
    }
    const tenant = (await app.services.tenants.create({ name: '增长测试有限公司', taxId: '91310000775785552L', regionCode: '31' })).tenant;
    // Issuing on the empty log, then again once it holds N leaves: the leaf insert and the ledger_state counter are
    // in every issuing transaction, so a log that grows must not slow issuing (another region: the seeded leaves'
    // made-up numbers are of region 31).
    const seller = (await app.services.tenants.create({ name: '增长开票有限公司', taxId: '91110000600037341L', regionCode: '11' })).tenant;
    await issueRate(app, seller, Math.min(200, issues)); // warm-up: compiled code and caches, not the log's size
    const issueEmpty = await issueRate(app, seller, issues);
    const base = Number((await kdb.selectFrom('ledger_state').select('size').where('id', '=', 1).executeTakeFirstOrThrow()).size);

    // Seed: rows of 1,000 per INSERT (6 columns: under SQLite's 32,766 parameters), 50 INSERTs per transaction.
    const t0 = performance.now();
    const at = new Date().toISOString();
    const hash = randomBytes(32).toString('hex');
    for (let from = 0; from < leaves; from += 50_000) {
      await kdb.transaction().execute(async (trx) => {
        for (let i = from; i < Math.min(leaves, from + 50_000); i += 1000) {
          const rows = [];
          for (let j = i; j < Math.min(leaves, i + 1000, from + 50_000); j++) {
            const number = numberOf(j);
            const leaf = ledgerLeafOf({ number, kind: 'blue', hash, signature: { keyId: 'sm2-0123456789abcdef', value: SIGNATURE } });
            rows.push({ idx: base + j, tenant_id: tenant.id, number, leaf_hash: leaf.leafHash, entry: leaf.entry, created_at: at });
          }
          await trx.insertInto('ledger_leaves').values(rows).execute();
        }
      });
    }
    await kdb.updateTable('ledger_state').set({ size: base + leaves }).where('id', '=', 1).execute();
    const seedSec = (performance.now() - t0) / 1000;

    // Integrate.
    const t1 = performance.now();
    let rounds = 0;
    for (;;) {
      const r = await app.services.integrator.integrateOnce();
      rounds++;
      if (r.outcome !== 'signed') throw new Error(`integration round ${rounds}: ${r.outcome}`);
      if (r.checkpoint.size >= base + leaves) break;
    }
    const integrateSec = (performance.now() - t1) / 1000;
    const tiles = Number((await kdb.selectFrom('ledger_tiles').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

    // Proofs of random leaves, one at a time: through the server's ledger service, then through a fresh one.
    const run = async (ledger: LedgerService): Promise<ProofRun> => {
      const times: number[] = [];
      const t2 = performance.now();
      for (let k = 0; k < proofs; k++) {
        const i = Math.floor(Math.random() * leaves);
        const s = performance.now();
        const r = await ledger.proof(tenant.id, numberOf(i));
        times.push(performance.now() - s);
        if (r.status !== 'integrated' || r.proof.leafIndex !== base + i) throw new Error(`leaf ${i}: no proof`);
      }
      const proofSec = (performance.now() - t2) / 1000;
      times.sort((a, b) => a - b);
      return { proofsPerSec: proofs / proofSec, p50Ms: times[Math.floor(times.length * 0.5)]!, p99Ms: times[Math.floor(times.length * 0.99)]! };
    };
    // The leaves issued above come first in the log (indexes below `base`), the seeded ones after them.
    const warm = await run(app.services.ledger);
    const cold = await run(new LedgerService(app.uow, { tileCacheBytes: config.ledger.proofCacheMb * 1024 * 1024 }));
    const issueGrown = await issueRate(app, seller, issues);
    return { leaves, seedSec, integrateSec, rounds, leavesPerSec: leaves / integrateSec, proofs, warm, cold, tiles, issueEmpty, issueGrown };
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const sizes = arg('leaves', '100000,1000000').split(',').map((s) => Number(s.replace(/_/g, '')));
if (sizes.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new Error('--leaves is a comma-separated list of positive integers');
const proofs = Number(arg('proofs', '20000'));
const issues = Number(arg('issues', '2000'));
const db = arg('db', 'sqlite') === 'postgres' ? 'postgres' : 'sqlite';
const rows: Row[] = [];
for (const n of sizes) {
  rows.push(await measure(n, proofs, db));
  process.stderr.write(`${n} leaves done\n`);
}
const f = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
process.stdout.write(`ledger growth (${db}, node ${process.version}, load average ${loadavg().map((l) => f(l, 1)).join(' ')} at the end)\n`);
process.stdout.write('| leaves | seed s | integrate s | rounds | leaves/s integrated | tiles | proofs | proofs/s warm | p50 ms | p99 ms | proofs/s cold | p50 ms | p99 ms | issue/s, empty log → N leaves |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n');
for (const r of rows) {
  const p = (x: ProofRun) => `${f(x.proofsPerSec)} | ${f(x.p50Ms, 3)} | ${f(x.p99Ms, 3)}`;
  process.stdout.write(`| ${f(r.leaves)} | ${f(r.seedSec, 1)} | ${f(r.integrateSec, 1)} | ${r.rounds} | ${f(r.leavesPerSec)} | ${f(r.tiles)} | ${f(r.proofs)} | ${p(r.warm)} | ${p(r.cold)} | ${f(r.issueEmpty)} → ${f(r.issueGrown)} (${f((r.issueGrown / r.issueEmpty) * 100)} %) |\n`);
}
