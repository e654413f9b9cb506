// The batch tables (migration 0013): batches, their items, leases on pending items. Rows only: what is validated,
// audited and announced is the use cases' (app/batch-service.ts, app/batch-job.ts). An item's input holds buyer
// personal data: with field keys it is encrypted under the tenant's data key (AAD: table, column, batch/index) and
// cleared as soon as the item settles, since the invoice then holds what is kept.
import { sql } from 'kysely';
import type { DataKey } from '../../../platform/crypto/field-cipher.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { ItemProblem } from '../domain/problem.ts';

export type BatchState = 'accepted' | 'completed';
export type ItemState = 'pending' | 'issued' | 'failed' | 'invalid';
export type BatchFormat = 'json' | 'ndjson' | 'csv';

/** A refusal as stored with an item (domain/problem.ts). */
export type StoredProblem = ItemProblem;

export interface Batch {
  tenantId: string;
  id: string;
  state: BatchState;
  format: BatchFormat;
  total: number;
  invalid: number;
  actor: string;
  ip?: string;
  /** The request that submitted it (migration 0018): its items' audit entries and events name it too. */
  requestId?: string;
  createdAt: string;
  completedAt?: string;
}

export interface BatchCounts {
  pending: number;
  issued: number;
  failed: number;
  invalid: number;
}

export interface BatchItem {
  index: number;
  line?: number;
  externalId?: string;
  state: ItemState;
  number?: string;
  problem?: StoredProblem;
}

export interface NewBatchItem {
  index: number;
  line?: number;
  externalId?: string;
  /** The validated request as JSON (pending items), or the refusal (invalid items). */
  input?: string;
  problem?: StoredProblem;
}

/** A pending item leased to this node: its request, decrypted. */
export interface ClaimedItem {
  tenantId: string;
  batchId: string;
  index: number;
  externalId?: string;
  attempts: number;
  input: string;
}

const ROWS_PER_INSERT = 400;
const ctx = (tenantId: string, batchId: string, index: number) => ({ tenantId, table: 'invoice_batch_items', column: 'input', rowId: `${batchId}/${index}` });

export class BatchRepository {
  constructor(private readonly scope: Scope) {}

  private get db() {
    return this.scope.db;
  }

  async insertBatch(batch: Omit<Batch, 'createdAt' | 'completedAt'>, items: readonly NewBatchItem[], dataKey: DataKey | undefined): Promise<Batch> {
    const at = stampOf(this.scope);
    const done = items.every((i) => i.input === undefined);
    const state: BatchState = done ? 'completed' : batch.state;
    await this.db.insertInto('invoice_batches').values({
      tenant_id: batch.tenantId, id: batch.id, state, format: batch.format, total: batch.total, invalid: batch.invalid,
      actor: batch.actor, ip: batch.ip ?? null, request_id: batch.requestId ?? null, created_at: at, completed_at: done ? at : null,
    }).execute();
    const { fields } = this.scope;
    const rows = items.map((i) => ({
      batch_id: batch.id, idx: i.index, tenant_id: batch.tenantId, line: i.line ?? null, external_id: i.externalId ?? null,
      state: i.input !== undefined ? 'pending' : 'invalid',
      input: i.input === undefined ? null : fields && dataKey ? fields.encrypt(dataKey, i.input, ctx(batch.tenantId, batch.id, i.index)) : i.input,
      invoice_number: null, problem: i.problem ? JSON.stringify(i.problem) : null, attempts: 0, lease_until: null, updated_at: at,
    }));
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      await this.db.insertInto('invoice_batch_items').values(rows.slice(i, i + ROWS_PER_INSERT)).execute();
    }
    return { ...batch, state, createdAt: at, ...(done ? { completedAt: at } : {}) };
  }

  async get(tenantId: string, id: string): Promise<Batch | undefined> {
    const row = await this.db.selectFrom('invoice_batches').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row && toBatch(row);
  }

  /** The tenant's batches, newest first, after the id `before` (the last of the previous page). */
  async list(tenantId: string, limit: number, before?: string): Promise<Batch[]> {
    let q = this.db.selectFrom('invoice_batches').selectAll().where('tenant_id', '=', tenantId).orderBy('id', 'desc').limit(limit);
    if (before !== undefined) q = q.where('id', '<', before);
    return (await q.execute()).map(toBatch);
  }

  async counts(batchId: string): Promise<BatchCounts> {
    const rows = await this.db.selectFrom('invoice_batch_items').select(['state', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('batch_id', '=', batchId).groupBy('state').execute();
    const counts: BatchCounts = { pending: 0, issued: 0, failed: 0, invalid: 0 };
    for (const r of rows) if (r.state in counts) counts[r.state as ItemState] = toSafeInteger(r.n);
    return counts;
  }

  /** Items of a batch in index order from `from`. */
  async items(batchId: string, from: number, limit: number): Promise<BatchItem[]> {
    const rows = await this.db.selectFrom('invoice_batch_items')
      .select(['idx', 'line', 'external_id', 'state', 'invoice_number', 'problem'])
      .where('batch_id', '=', batchId).where('idx', '>=', from).orderBy('idx').limit(limit).execute();
    return rows.map((r) => ({
      index: toSafeInteger(r.idx),
      ...(r.line !== null ? { line: toSafeInteger(r.line) } : {}),
      ...(r.external_id !== null ? { externalId: r.external_id } : {}),
      state: r.state as ItemState,
      ...(r.invoice_number !== null ? { number: r.invoice_number } : {}),
      ...(r.problem !== null ? { problem: JSON.parse(r.problem) as StoredProblem } : {}),
    }));
  }

  /** Whether any pending item's lease is free or ran out at `at` (a read, so an idle node takes no write lock). */
  async anyClaimable(at: string): Promise<boolean> {
    const row = await this.db.selectFrom('invoice_batch_items').select('idx')
      .where('state', '=', 'pending')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', at)]))
      .limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Leases up to `limit` pending items whose lease is free or ran out (a dead node's), oldest batch first, until
   * `leaseUntil`; PostgreSQL skips rows another node is leasing right now (`FOR UPDATE SKIP LOCKED`), SQLite's write
   * transaction is the single writer anyway. Inputs come back decrypted.
   */
  async claim(limit: number, leaseUntil: string): Promise<ClaimedItem[]> {
    const at = stampOf(this.scope);
    let q = this.db.selectFrom('invoice_batch_items').select(['tenant_id', 'batch_id', 'idx', 'external_id', 'attempts', 'input'])
      .where('state', '=', 'pending')
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', at)]))
      .orderBy('batch_id').orderBy('idx').limit(limit);
    if (this.scope.traits.engine === 'postgres') q = q.forUpdate().skipLocked();
    const rows = await q.execute();
    const claimed: ClaimedItem[] = [];
    for (const r of rows) {
      await this.db.updateTable('invoice_batch_items').set({ lease_until: leaseUntil, attempts: sql`attempts + 1`, updated_at: at })
        .where('batch_id', '=', r.batch_id).where('idx', '=', r.idx).execute();
      const index = toSafeInteger(r.idx);
      const { fields } = this.scope;
      const input = r.input === null ? '' : fields && !r.input.startsWith('{') ? await fields.decrypt(this.db, r.tenant_id, r.input, ctx(r.tenant_id, r.batch_id, index)) : r.input;
      claimed.push({
        tenantId: r.tenant_id, batchId: r.batch_id, index, attempts: toSafeInteger(r.attempts) + 1, input,
        ...(r.external_id !== null ? { externalId: r.external_id } : {}),
      });
    }
    return claimed;
  }

  /** Marks a pending item issued with its invoice's number; false when it is no longer pending. */
  async markIssued(batchId: string, index: number, number: string): Promise<boolean> {
    return this.settle(batchId, index, { state: 'issued', invoice_number: number });
  }

  /** Marks a pending item failed with its refusal; false when it is no longer pending. */
  async markFailed(batchId: string, index: number, problem: StoredProblem): Promise<boolean> {
    return this.settle(batchId, index, { state: 'failed', problem: JSON.stringify(problem) });
  }

  /** Frees an item's lease so that it is taken again (after a refusal that is everyone's, e.g. storage down). */
  async release(batchId: string, index: number, retryAt: string): Promise<void> {
    const at = stampOf(this.scope);
    await this.db.updateTable('invoice_batch_items').set({ lease_until: retryAt, updated_at: at })
      .where('batch_id', '=', batchId).where('idx', '=', index).where('state', '=', 'pending').execute();
  }

  /** Moves the batch to `completed` when none of its items is pending; true for the one caller that did it. */
  async completeIfDone(batchId: string): Promise<Batch | undefined> {
    const at = stampOf(this.scope);
    const pending = await this.db.selectFrom('invoice_batch_items').select('idx').where('batch_id', '=', batchId).where('state', '=', 'pending').limit(1).executeTakeFirst();
    if (pending) return undefined;
    const r = await this.db.updateTable('invoice_batches').set({ state: 'completed', completed_at: at })
      .where('id', '=', batchId).where('state', '=', 'accepted').executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return undefined;
    const row = await this.db.selectFrom('invoice_batches').selectAll().where('id', '=', batchId).executeTakeFirstOrThrow();
    return toBatch(row);
  }

  private async settle(batchId: string, index: number, set: { state: ItemState; invoice_number?: string; problem?: string }): Promise<boolean> {
    const at = stampOf(this.scope);
    const r = await this.db.updateTable('invoice_batch_items').set({ ...set, input: null, lease_until: null, updated_at: at })
      .where('batch_id', '=', batchId).where('idx', '=', index).where('state', '=', 'pending').executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}

function toBatch(r: {
  tenant_id: string; id: string; state: string; format: string; total: number; invalid: number; actor: string; ip: string | null;
  request_id: string | null; created_at: string; completed_at: string | null;
}): Batch {
  return {
    tenantId: r.tenant_id, id: r.id, state: r.state as BatchState, format: r.format as BatchFormat,
    total: toSafeInteger(r.total), invalid: toSafeInteger(r.invalid), actor: r.actor,
    ...(r.ip !== null ? { ip: r.ip } : {}), ...(r.request_id !== null ? { requestId: r.request_id } : {}), createdAt: r.created_at, ...(r.completed_at !== null ? { completedAt: r.completed_at } : {}),
  };
}
