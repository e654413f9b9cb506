// The re-encryption job's storage side (modules/keys/app/reencrypt-job.ts): moves invoice documents and idempotency bodies still
// under an older data-key version — or never protected (written before migration 0003) or never labelled (before
// 0005) — to the tenant's current data key, while the server keeps issuing and reading.
//
// Finding work never scans a table: unlabelled rows come from the partial index `<table>_unprotected_ix` (empty once
// done), rows under old versions from `<table>_data_key_version_ix` probed only for tenants that have a non-active key.
// Each scope is walked in index order with a keyset cursor, so a row that does not open is skipped for the rest of
// the pass instead of being retried forever, and a restarted job simply starts a new pass (progress is in the rows).
//
// Concurrency: every row is written with a compare-and-set on the exact bytes read (`document = <old>`), so a write
// by anyone else in between makes the update match nothing (counted as a conflict, retried next pass). On PostgreSQL
// the batch is read `FOR UPDATE SKIP LOCKED` in the transaction that writes it: jobs on several nodes take disjoint
// batches instead of doing the same work twice. On SQLite (one writer) rows are read and re-encrypted outside the
// write lock and only the updates run in a transaction, so issuing waits for milliseconds, not for the crypto.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../../platform/storage/database.ts';
import { FieldCipherError } from '../../../platform/crypto/field-cipher.ts';
import type { FieldProtector } from '../../../platform/storage/field-protector.ts';
import type { ReencryptBatch, ReencryptFailure } from './data-keys.ts';
import type { EngineTraits } from '../../../platform/storage/engine-traits.ts';

type Table = 'invoices' | 'idempotency_keys';

/** Unlabelled rows of every tenant, or one tenant's rows under versions below its current one. */
interface Scope {
  table: Table;
  stale?: { tenantId: string; current: number };
}

interface Row {
  tenantId: string;
  id: string;
  version: number | null;
  stored: string;
}

interface Cursor {
  tenantId: string;
  version: number | null;
  id: string;
}

type Plan =
  | { row: Row; ok: true; set: Record<string, string | number | null> }
  | { row: Row; ok: false; failure: ReencryptFailure };

const ID: Record<Table, 'number' | 'key'> = { invoices: 'number', idempotency_keys: 'key' };
const STORED: Record<Table, 'document' | 'body'> = { invoices: 'document', idempotency_keys: 'body' };

export async function* reencryptRows(
  db: Kysely<Database>,
  traits: EngineTraits,
  protector: FieldProtector,
  batchSize: number,
): AsyncGenerator<ReencryptBatch> {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`bad batch size: ${batchSize}`);
  // Tenants with a replaced key, and their current version, as of the start of the pass.
  const rotated = await db
    .selectFrom('tenant_data_keys')
    .select(['tenant_id', 'version'])
    .where('status', '=', 'active')
    .where('tenant_id', 'in', db.selectFrom('tenant_data_keys').select('tenant_id').where('status', '<>', 'active'))
    .orderBy('tenant_id')
    .execute();
  for (const table of ['invoices', 'idempotency_keys'] as const) {
    yield* walk(db, traits, protector, { table }, batchSize);
    for (const r of rotated) yield* walk(db, traits, protector, { table, stale: { tenantId: r.tenant_id, current: Number(r.version) } }, batchSize);
  }
}

async function* walk(db: Kysely<Database>, traits: EngineTraits, protector: FieldProtector, scope: Scope, n: number): AsyncGenerator<ReencryptBatch> {
  let cursor: Cursor | undefined;
  for (;;) {
    let rows: Row[];
    let result: ReencryptBatch;
    if (traits.engine === 'postgres') {
      [rows, result] = await db.transaction().execute(async (trx) => {
        const read = await select(trx, scope, cursor, n, true);
        return [read, await apply(trx, scope.table, await plan(db, protector, scope, read))] as const;
      });
    } else {
      rows = await select(db, scope, cursor, n, false);
      const plans = await plan(db, protector, scope, rows);
      result = await db.transaction().execute((trx) => apply(trx, scope.table, plans));
    }
    if (rows.length > 0) yield result;
    if (rows.length < n) return;
    const last = rows.at(-1)!;
    cursor = { tenantId: last.tenantId, version: last.version, id: last.id };
  }
}

async function select(db: Kysely<Database> | Transaction<Database>, scope: Scope, after: Cursor | undefined, n: number, lock: boolean): Promise<Row[]> {
  const { table } = scope;
  // The two tables differ only in the names of their row id and stored text: one query shape for both.
  const idCol = ID[table] as 'key';
  const storedCol = STORED[table] as 'body';
  let q = (db as Kysely<Database>)
    .selectFrom(table as 'idempotency_keys')
    .select(['tenant_id', idCol, storedCol, 'data_key_version']);
  if (scope.stale) {
    const { tenantId, current } = scope.stale;
    q = q.where('tenant_id', '=', tenantId).where('data_key_version', '<', current);
    if (after) {
      const v = after.version ?? 0;
      q = q.where((eb) => eb.or([eb('data_key_version', '>', v), eb.and([eb('data_key_version', '=', v), eb(idCol, '>', after.id)])]));
    }
    q = q.orderBy('data_key_version').orderBy(idCol);
  } else {
    q = q.where('data_key_version', 'is', null);
    if (after) {
      q = q.where((eb) => eb.or([eb('tenant_id', '>', after.tenantId), eb.and([eb('tenant_id', '=', after.tenantId), eb(idCol, '>', after.id)])]));
    }
    q = q.orderBy('tenant_id').orderBy(idCol);
  }
  q = q.limit(n);
  if (lock) q = q.forUpdate().skipLocked();
  const rows = await q.execute();
  return rows.map((r) => ({
    tenantId: r.tenant_id,
    id: r[idCol],
    version: r.data_key_version === null || r.data_key_version === undefined ? null : Number(r.data_key_version),
    stored: r[storedCol],
  }));
}

/** Re-encrypts in memory; a row that does not open (or does not parse) becomes a failure, never an exception. */
async function plan(db: Kysely<Database>, protector: FieldProtector, scope: Scope, rows: Row[]): Promise<Plan[]> {
  const minVersion = scope.stale?.current ?? 0;
  const plans: Plan[] = [];
  for (const row of rows) {
    try {
      if (scope.table === 'invoices') {
        const r = await protector.reprotect(db, row.tenantId, row.stored, minVersion);
        plans.push({
          row, ok: true,
          set: { document: r.document, data_key_version: r.version, buyer_tax_id: r.buyerTaxId, ...r.indexes },
        });
      } else {
        const r = await protector.reprotectBody(db, row.tenantId, row.id, row.stored, minVersion);
        plans.push({ row, ok: true, set: { body: r.body, data_key_version: r.version } });
      }
    } catch (error) {
      if (!(error instanceof FieldCipherError) && !(error instanceof SyntaxError)) throw error;
      const reason = error instanceof FieldCipherError ? error.reason : 'malformed';
      plans.push({
        row, ok: false,
        failure: { tenantId: row.tenantId, table: scope.table, ...(scope.table === 'invoices' ? { number: row.id } : {}), reason },
      });
    }
  }
  return plans;
}

async function apply(trx: Transaction<Database>, table: Table, plans: Plan[]): Promise<ReencryptBatch> {
  const result: ReencryptBatch = { table, scanned: plans.length, moved: 0, conflicts: 0, failures: [] };
  const idCol = ID[table] as 'key';
  const storedCol = STORED[table] as 'body';
  for (const p of plans) {
    if (!p.ok) {
      result.failures.push(p.failure);
      continue;
    }
    const updated = await trx
      .updateTable(table as 'idempotency_keys')
      .set(p.set as never)
      .where('tenant_id', '=', p.row.tenantId)
      .where(idCol, '=', p.row.id)
      .where(storedCol, '=', p.row.stored)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 1n) result.moved++;
    else result.conflicts++;
  }
  return result;
}
