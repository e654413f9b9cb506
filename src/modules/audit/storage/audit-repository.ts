// The audit log: a hash chain over audit_events (migration 0002). Every writer appends inside the unit of work of the
// change it records and moves the single audit_state row with UPDATE … RETURNING: that assigns gap-free seqs and hands
// over the previous head hash, and its row lock (PostgreSQL) or the write lock taken by `begin immediate` (SQLite)
// serialises audit writers until commit, so the chain never forks. Which entries, with which action, is the use
// case's; the purge policy (minimum retention, the `audit.purge` entry) is AuditService's.
import { sql, type Selectable } from 'kysely';
import { AUDIT_GENESIS_HASH, auditEntryHash } from '../domain/audit-chain.ts';
import type { AuditEventsTable } from '../../../platform/storage/database.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { AuditCheckpoint, AuditEntry, AuditHead, AuditQuery, NewAuditEntry } from './audit-contract.ts';

/** Rows per multi-row INSERT: 500 × 13 columns stays well under both engines' parameter limits. */
const ROWS_PER_INSERT = 500;

export class AuditRepository {
  constructor(private readonly scope: Scope) {}

  /**
   * Appends entries to the chain, stamped with the unit of work's time. Takes the audit_state row, so call it as late
   * as possible in the transaction: audit writers wait for it until commit.
   */
  async append(entries: readonly NewAuditEntry[]): Promise<AuditEntry[]> {
    const at = stampOf(this.scope);
    const n = entries.length;
    if (n === 0) return [];
    const trx = this.scope.db;
    const state = await trx
      .updateTable('audit_state')
      .set({ head_seq: sql<number>`head_seq + ${n}` })
      .where('id', '=', 1)
      .returning(['head_seq', 'head_hash'])
      .executeTakeFirstOrThrow();
    const first = toSafeInteger(state.head_seq) - n + 1;
    let prevHash = state.head_hash;
    const chained = entries.map((e, i): AuditEntry => {
      const seq = first + i;
      const details = e.details === undefined ? null : JSON.stringify(e.details);
      const hash = auditEntryHash({
        seq, prevHash, at, tenantId: e.tenantId ?? null, actor: e.actor, action: e.action, target: e.target,
        outcome: e.outcome, ip: e.ip ?? null, details, requestId: e.requestId ?? null,
      });
      const entry: AuditEntry = { seq, at, actor: e.actor, action: e.action, target: e.target, outcome: e.outcome, prevHash, hash };
      if (e.tenantId !== undefined) entry.tenantId = e.tenantId;
      if (e.ip !== undefined) entry.ip = e.ip;
      if (e.requestId !== undefined) entry.requestId = e.requestId;
      if (details !== null) entry.details = details;
      prevHash = hash;
      return entry;
    });
    for (let i = 0; i < n; i += ROWS_PER_INSERT) {
      await trx
        .insertInto('audit_events')
        .values(
          chained.slice(i, i + ROWS_PER_INSERT).map((e) => ({
            seq: e.seq, at: e.at, tenant_id: e.tenantId ?? null, actor: e.actor, action: e.action, target: e.target,
            outcome: e.outcome, ip: e.ip ?? null, request_id: e.requestId ?? null, details: e.details ?? null, prev_hash: e.prevHash, hash: e.hash,
          })),
        )
        .execute();
    }
    await trx.updateTable('audit_state').set({ head_hash: prevHash }).where('id', '=', 1).execute();
    return chained;
  }

  async list(query: AuditQuery): Promise<AuditEntry[]> {
    let q = this.scope.db.selectFrom('audit_events').selectAll();
    if (query.from !== undefined) q = q.where('at', '>=', query.from);
    if (query.to !== undefined) q = q.where('at', '<', query.to);
    if (query.tenantId !== undefined) q = q.where('tenant_id', '=', query.tenantId);
    if (query.action !== undefined) q = q.where('action', '=', query.action);
    if (query.requestId !== undefined) q = q.where('request_id', '=', query.requestId);
    if (query.afterSeq !== undefined) q = q.where('seq', '>', query.afterSeq);
    if (query.beforeSeq !== undefined) q = q.where('seq', '<', query.beforeSeq);
    const rows = await q.orderBy('seq', query.order ?? 'asc').limit(query.limit).execute();
    return rows.map(toEntry);
  }

  /** Every entry with seq ≥ fromSeq in ascending seq order, read `batch` rows at a time. */
  async *scan(fromSeq: number, batch = 1000): AsyncIterable<AuditEntry> {
    let after = fromSeq - 1;
    for (;;) {
      const rows = await this.scope.db.selectFrom('audit_events').selectAll().where('seq', '>', after).orderBy('seq').limit(batch).execute();
      for (const row of rows) yield toEntry(row);
      if (rows.length < batch) return;
      after = toSafeInteger(rows[rows.length - 1]!.seq);
    }
  }

  async head(): Promise<AuditHead> {
    const row = await this.scope.db.selectFrom('audit_state').select(['head_seq', 'head_hash']).where('id', '=', 1).executeTakeFirst();
    return row ? { seq: toSafeInteger(row.head_seq), hash: row.head_hash } : { seq: 0, hash: AUDIT_GENESIS_HASH };
  }

  /** The newest purge checkpoint: verification starts after it. */
  async checkpoint(): Promise<AuditCheckpoint | undefined> {
    const row = await this.scope.db.selectFrom('audit_purges').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row && {
      seq: toSafeInteger(row.seq), hash: row.hash, cutoff: row.cutoff, purgedAt: row.purged_at, count: toSafeInteger(row.count),
    };
  }

  /** Takes the chain's lock (a no-op update of the head row) and answers the head's seq: no writer moves meanwhile. */
  async lockHead(): Promise<number> {
    stampOf(this.scope);
    const row = await this.scope.db
      .updateTable('audit_state')
      .set({ head_seq: sql<number>`head_seq` })
      .where('id', '=', 1)
      .returning('head_seq')
      .executeTakeFirstOrThrow();
    return toSafeInteger(row.head_seq);
  }

  /** The seq of the first entry at or after `at` (ISO UTC), if any. */
  async firstSeqAtOrAfter(at: string): Promise<number | undefined> {
    const row = await this.scope.db.selectFrom('audit_events').select('seq').where('at', '>=', at).orderBy('seq').limit(1).executeTakeFirst();
    return row ? toSafeInteger(row.seq) : undefined;
  }

  /** The hash of entry `seq`, if it is stored. */
  async hashOf(seq: number): Promise<string | undefined> {
    const row = await this.scope.db.selectFrom('audit_events').select('hash').where('seq', '=', seq).executeTakeFirst();
    return row?.hash ?? undefined;
  }

  /** Deletes the prefix of the chain through `seq` and records the purge's checkpoint; answers how many went. */
  async deleteThrough(checkpoint: Omit<AuditCheckpoint, 'count'>): Promise<number> {
    stampOf(this.scope);
    const deleted = await this.scope.db.deleteFrom('audit_events').where('seq', '<=', checkpoint.seq).executeTakeFirst();
    const count = Number(deleted.numDeletedRows);
    await this.scope.db.insertInto('audit_purges').values({
      seq: checkpoint.seq, hash: checkpoint.hash, cutoff: checkpoint.cutoff, purged_at: checkpoint.purgedAt, count,
    }).execute();
    return count;
  }
}

function toEntry(row: Selectable<AuditEventsTable>): AuditEntry {
  const entry: AuditEntry = {
    seq: toSafeInteger(row.seq),
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    prevHash: row.prev_hash ?? '',
    hash: row.hash ?? '',
  };
  if (row.tenant_id !== null) entry.tenantId = row.tenant_id;
  if (row.ip !== null) entry.ip = row.ip;
  if (row.request_id !== null) entry.requestId = row.request_id;
  if (row.details !== null) entry.details = row.details;
  return entry;
}
