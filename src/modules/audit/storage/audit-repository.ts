// The audit log: a hash chain over audit_events (migration 0002). Every writer, in its own transaction or in the
// transaction of the change it records (appendAuditInTx), moves the single audit_state row with UPDATE … RETURNING:
// that assigns gap-free seqs and hands over the previous head hash, and its row lock (PostgreSQL) or the write lock
// taken by `begin immediate` (SQLite) serialises audit writers until commit, so the chain never forks.
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { AUDIT_GENESIS_HASH, auditEntryHash } from '../domain/audit-chain.ts';
import type { AuditEventsTable, Database } from '../../../platform/storage/database.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import {
  AUDIT_MIN_RETENTION_DAYS,
  AuditRetentionViolation,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditHead,
  type AuditPurgeResult,
  type AuditQuery,
  type AuditRepository,
  type AuditStamp,
  type NewAuditEntry,
} from '../../../platform/storage/storage.ts';
import { rethrow, type EngineTraits } from '../../../platform/storage/engine-traits.ts';

/** Rows per multi-row INSERT: 500 × 12 columns stays well under both engines' parameter limits. */
const ROWS_PER_INSERT = 500;
const DAY_MS = 86_400_000;

/**
 * Appends entries to the chain inside the caller's transaction (the transaction of the change they record). Takes the
 * audit_state row, so call it as late as possible in the transaction: audit writers wait for it until commit.
 * Entries get `at` = now (UTC) unless the caller gives one entry timestamp for the batch.
 */
export async function appendAuditInTx(trx: Transaction<Database>, entries: NewAuditEntry[], at = new Date().toISOString()): Promise<AuditEntry[]> {
  const n = entries.length;
  if (n === 0) return [];
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
      outcome: e.outcome, ip: e.ip ?? null, details,
    });
    const entry: AuditEntry = { seq, at, actor: e.actor, action: e.action, target: e.target, outcome: e.outcome, prevHash, hash };
    if (e.tenantId !== undefined) entry.tenantId = e.tenantId;
    if (e.ip !== undefined) entry.ip = e.ip;
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
          outcome: e.outcome, ip: e.ip ?? null, details: e.details ?? null, prev_hash: e.prevHash, hash: e.hash,
        })),
      )
      .execute();
  }
  await trx.updateTable('audit_state').set({ head_hash: prevHash }).where('id', '=', 1).execute();
  return chained;
}

/** The entry an AuditStamp stands for: an administrative change that succeeded. */
export function stampEntry(stamp: AuditStamp, action: string, target: string, tenantId?: string, outcome: NewAuditEntry['outcome'] = 'success'): NewAuditEntry {
  return { actor: stamp.actor, action, target, outcome, ...(stamp.ip !== undefined ? { ip: stamp.ip } : {}), ...(tenantId !== undefined ? { tenantId } : {}) };
}

export class KyselyAuditRepository implements AuditRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly traits: EngineTraits,
  ) {}

  async append(entries: NewAuditEntry[]): Promise<AuditEntry[]> {
    if (entries.length === 0) return [];
    try {
      return await this.db.transaction().execute((trx) => appendAuditInTx(trx, entries));
    } catch (error) {
      rethrow(this.traits, error);
    }
  }

  async list(query: AuditQuery): Promise<AuditEntry[]> {
    let q = this.db.selectFrom('audit_events').selectAll();
    if (query.from !== undefined) q = q.where('at', '>=', query.from);
    if (query.to !== undefined) q = q.where('at', '<', query.to);
    if (query.tenantId !== undefined) q = q.where('tenant_id', '=', query.tenantId);
    if (query.action !== undefined) q = q.where('action', '=', query.action);
    if (query.afterSeq !== undefined) q = q.where('seq', '>', query.afterSeq);
    if (query.beforeSeq !== undefined) q = q.where('seq', '<', query.beforeSeq);
    const rows = await q.orderBy('seq', query.order ?? 'asc').limit(query.limit).execute();
    return rows.map(toEntry);
  }

  async *scan(fromSeq: number, batch = 1000): AsyncIterable<AuditEntry> {
    let after = fromSeq - 1;
    for (;;) {
      const rows = await this.db.selectFrom('audit_events').selectAll().where('seq', '>', after).orderBy('seq').limit(batch).execute();
      for (const row of rows) yield toEntry(row);
      if (rows.length < batch) return;
      after = toSafeInteger(rows[rows.length - 1]!.seq);
    }
  }

  async head(): Promise<AuditHead> {
    const row = await this.db.selectFrom('audit_state').select(['head_seq', 'head_hash']).where('id', '=', 1).executeTakeFirst();
    return row ? { seq: toSafeInteger(row.head_seq), hash: row.head_hash } : { seq: 0, hash: AUDIT_GENESIS_HASH };
  }

  async checkpoint(): Promise<AuditCheckpoint | undefined> {
    const row = await this.db.selectFrom('audit_purges').selectAll().orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row && {
      seq: toSafeInteger(row.seq), hash: row.hash, cutoff: row.cutoff, purgedAt: row.purged_at, count: toSafeInteger(row.count),
    };
  }

  async purgeBefore(cutoff: string, by: AuditStamp = { actor: 'system' }, now = new Date()): Promise<AuditPurgeResult> {
    const cutoffMs = Date.parse(cutoff);
    if (Number.isNaN(cutoffMs)) throw new RangeError(`bad cutoff: ${cutoff}`);
    const cutoffIso = new Date(cutoffMs).toISOString();
    const earliest = new Date(now.getTime() - AUDIT_MIN_RETENTION_DAYS * DAY_MS).toISOString();
    if (cutoffIso > earliest) throw new AuditRetentionViolation(cutoffIso, earliest);
    const purgedAt = now.toISOString();
    try {
      return await this.db.transaction().execute(async (trx): Promise<AuditPurgeResult> => {
        // Take the chain's lock first (a no-op update of the head row): no audit writer moves while we cut.
        const headBefore = await trx
          .updateTable('audit_state')
          .set({ head_seq: sql<number>`head_seq` })
          .where('id', '=', 1)
          .returning('head_seq')
          .executeTakeFirstOrThrow();
        const previous = await trx.selectFrom('audit_purges').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirst();
        const fromSeq = previous ? toSafeInteger(previous.seq) : 0;
        // The prefix to delete ends just before the first entry at or after the cutoff (timestamps from several nodes
        // need not be monotonic in seq; the chain stays contiguous).
        const firstKept = await trx.selectFrom('audit_events').select('seq').where('at', '>=', cutoffIso).orderBy('seq').limit(1).executeTakeFirst();
        const through = firstKept ? toSafeInteger(firstKept.seq) - 1 : toSafeInteger(headBefore.head_seq);
        let checkpoint: AuditCheckpoint | undefined;
        let purged = 0;
        if (through > fromSeq) {
          const last = await trx.selectFrom('audit_events').select('hash').where('seq', '=', through).executeTakeFirst();
          if (!last?.hash) throw new Error(`audit entry ${through} is missing; run \`fapiao audit verify\` before purging`);
          const deleted = await trx.deleteFrom('audit_events').where('seq', '<=', through).executeTakeFirst();
          purged = Number(deleted.numDeletedRows);
          checkpoint = { seq: through, hash: last.hash, cutoff: cutoffIso, purgedAt, count: purged };
          await trx.insertInto('audit_purges').values({ seq: through, hash: last.hash, cutoff: cutoffIso, purged_at: purgedAt, count: purged }).execute();
        }
        const [entry] = await appendAuditInTx(trx, [{
          actor: by.actor, action: 'audit.purge', target: cutoffIso, outcome: 'success',
          ...(by.ip !== undefined ? { ip: by.ip } : {}),
          details: { throughSeq: checkpoint ? through : null, purged },
        }], purgedAt);
        if (!checkpoint && previous) {
          const row = await trx.selectFrom('audit_purges').selectAll().where('seq', '=', previous.seq).executeTakeFirstOrThrow();
          checkpoint = { seq: toSafeInteger(row.seq), hash: row.hash, cutoff: row.cutoff, purgedAt: row.purged_at, count: toSafeInteger(row.count) };
        }
        return { purged, entry: entry!, ...(checkpoint ? { checkpoint } : {}) };
      });
    } catch (error) {
      rethrow(this.traits, error);
    }
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
  if (row.details !== null) entry.details = row.details;
  return entry;
}
