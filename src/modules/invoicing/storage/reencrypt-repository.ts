// The re-encryption job's storage side (modules/keys/app/reencrypt-job.ts): invoice documents and idempotency bodies still
// under an older data-key version — or never protected (written before migration 0003) or never labelled (before
// 0005), or invoices in the layout before 0020 (one envelope per buyer field) — found, re-encrypted under the
// tenant's current data key (an invoice in one envelope, invoice-protection.ts), and written back while the server
// keeps issuing and reading. The job owns the transactions (one per batch); this file owns the rows.
//
// Finding work never scans a table: invoices in an older layout come from the partial index `invoices_pii_layout_ix`
// (0020; the unlabelled ones are among them: a row is labelled and laid out by the same write), unlabelled
// idempotency records from `idempotency_keys_unprotected_ix` (both empty once done), rows under old versions from
// `<table>_data_key_version_ix` probed only for tenants that have a non-active key.
// Each scope is walked in index order with a keyset cursor, so a row that does not open is skipped for the rest of
// the pass instead of being retried forever, and a restarted job simply starts a new pass (progress is in the rows).
//
// Concurrency: every row is written with a compare-and-set on the exact bytes read (`document = <old>`), so a write
// by anyone else in between makes the update match nothing (counted as a conflict, retried next pass). On PostgreSQL
// the batch is read `FOR UPDATE SKIP LOCKED` in the transaction that writes it: jobs on several nodes take disjoint
// batches instead of doing the same work twice. On SQLite (one writer) rows are read and re-encrypted outside the
// write lock and only the updates run in a transaction, so issuing waits for milliseconds, not for the crypto.
import { sql } from 'kysely';
import type { Scope } from '../../../platform/storage/unit-of-work.ts';
import { FieldCipherError } from '../../../platform/crypto/field-cipher.ts';
import { InvoiceProtection } from './invoice-protection.ts';

export type ReencryptTable = 'invoices' | 'idempotency_keys';

/**
 * Rows of every tenant not yet in the current form (invoices: layout NULL, so per-field envelopes, plaintext or
 * unlabelled; idempotency records: unlabelled), or one tenant's rows under versions below its current one.
 */
export interface ReencryptScope {
  table: ReencryptTable;
  stale?: { tenantId: string; current: number };
}

export interface ReencryptRow {
  tenantId: string;
  id: string;
  version: number | null;
  stored: string;
}

export interface ReencryptCursor {
  tenantId: string;
  version: number | null;
  id: string;
}

export interface ReencryptFailure {
  tenantId: string;
  table: ReencryptTable;
  /** The invoice number (not personal data); absent for idempotency records, whose keys are client-chosen text. */
  number?: string;
  /** A FieldCipherError reason, e.g. authentication_failed. */
  reason: string;
}

/** One committed batch of the re-encryption job. */
export interface ReencryptBatch {
  table: ReencryptTable;
  /** Rows read. */
  scanned: number;
  /** Rows written under the current key. */
  moved: number;
  /** Rows that changed between read and write (compare-and-set lost): left for the next pass. */
  conflicts: number;
  /** Rows that did not open; skipped for the rest of the pass. */
  failures: ReencryptFailure[];
}

export type ReencryptPlan =
  | { row: ReencryptRow; ok: true; set: Record<string, string | number | null> }
  | { row: ReencryptRow; ok: false; failure: ReencryptFailure };

const ID: Record<ReencryptTable, 'number' | 'key'> = { invoices: 'number', idempotency_keys: 'key' };
const STORED: Record<ReencryptTable, 'document' | 'body'> = { invoices: 'document', idempotency_keys: 'body' };

export class ReencryptRepository {
  constructor(private readonly scope: Scope) {}

  private protection(): InvoiceProtection {
    if (!this.scope.fields) throw new Error('re-encryption needs field keys (a master key)');
    return new InvoiceProtection(this.scope.fields);
  }

  /** Tenants with a replaced key, and their current version (the scopes of old-version rows). */
  async rotatedTenants(): Promise<{ tenantId: string; current: number }[]> {
    const { db } = this.scope;
    const rows = await db
      .selectFrom('tenant_data_keys')
      .select(['tenant_id', 'version'])
      .where('status', '=', 'active')
      .where('tenant_id', 'in', db.selectFrom('tenant_data_keys').select('tenant_id').where('status', '<>', 'active'))
      .orderBy('tenant_id')
      .execute();
    return rows.map((r) => ({ tenantId: r.tenant_id, current: Number(r.version) }));
  }

  /** The next `n` rows of the scope after `after`; with `lock` (PostgreSQL, in a transaction) FOR UPDATE SKIP LOCKED. */
  async select(scope: ReencryptScope, after: ReencryptCursor | undefined, n: number, lock: boolean): Promise<ReencryptRow[]> {
    const { table } = scope;
    // The two tables differ only in the names of their row id and stored text: one query shape for both.
    const idCol = ID[table] as 'key';
    const storedCol = STORED[table] as 'body';
    let q = this.scope.db
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
      // Both tables' column names are spelled through the idempotency table's type (above); pii_layout is the invoices'.
      q = table === 'invoices' ? q.where(sql.ref('pii_layout'), 'is', null) : q.where('data_key_version', 'is', null);
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
  async plan(scope: ReencryptScope, rows: ReencryptRow[]): Promise<ReencryptPlan[]> {
    const protection = this.protection();
    const { db } = this.scope;
    const minVersion = scope.stale?.current ?? 0;
    const plans: ReencryptPlan[] = [];
    for (const row of rows) {
      try {
        if (scope.table === 'invoices') {
          const r = await protection.reprotect(db, row.tenantId, row.stored, minVersion);
          plans.push({
            row, ok: true,
            set: { document: r.document, data_key_version: r.version, pii_layout: r.layout, buyer_tax_id: r.buyerTaxId, ...r.indexes },
          });
        } else {
          const r = await protection.reprotectBody(db, row.tenantId, row.id, row.stored, minVersion);
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

  /** Writes the plans, each a compare-and-set on the exact bytes read. */
  async apply(table: ReencryptTable, plans: ReencryptPlan[]): Promise<ReencryptBatch> {
    const result: ReencryptBatch = { table, scanned: plans.length, moved: 0, conflicts: 0, failures: [] };
    const idCol = ID[table] as 'key';
    const storedCol = STORED[table] as 'body';
    for (const p of plans) {
      if (!p.ok) {
        result.failures.push(p.failure);
        continue;
      }
      const updated = await this.scope.db
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

  /** Rows of a tenant under one data-key version (null: unlabelled), through the 0005 indexes. */
  async count(table: ReencryptTable, tenantId: string, version: number | null): Promise<number> {
    const row = await this.scope.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('tenant_id', '=', tenantId)
      .where('data_key_version', version === null ? 'is' : '=', version)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Whether any row of the tenant is under the version (null: unlabelled). */
  async any(table: ReencryptTable, tenantId: string, version: number | null): Promise<boolean> {
    const row = await this.scope.db
      .selectFrom(table)
      .select('tenant_id')
      .where('tenant_id', '=', tenantId)
      .where('data_key_version', version === null ? 'is' : '=', version)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }
}
