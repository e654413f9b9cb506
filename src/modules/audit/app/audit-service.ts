// The audit log as a use case: record entries, search them, verify the hash chain, export JSON lines, purge old ones.
// Storage assigns seqs and hashes (audit-repository.ts); this service recomputes them to verify, never trusting the
// stored hash of an entry to check that same entry. The purge policy (minimum retention, the `audit.purge` entry that
// records each purge) is decided here, in the purge's own unit of work.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { AppError } from '../../../shared/errors.ts';
import { AUDIT_GENESIS_HASH, auditEntryHash } from '../domain/audit-chain.ts';
import {
  AUDIT_MIN_RETENTION_DAYS,
  AuditRetentionViolation,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditPurgeResult,
  type AuditQuery,
  type AuditStamp,
  type NewAuditEntry,
} from '../storage/audit-contract.ts';
import type { AuditRepository } from '../storage/audit-repository.ts';
import { stampFields } from '../storage/audit-stamp.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';

/** What the audit use cases need of a unit of work. */
export interface AuditTx {
  audit: AuditRepository;
}

export type AuditProblem = 'edited' | 'missing' | 'reordered' | 'broken-link';

export type VerifyChainResult =
  | { ok: true; count: number; head: string }
  /** `seq`: the first entry at fault. */
  | { ok: false; seq: number; problem: AuditProblem };

export type AuditFilter = Omit<AuditQuery, 'limit' | 'afterSeq' | 'beforeSeq' | 'order'>;

export interface AuditServiceDeps {
  uow: UnitOfWork<AuditTx>;
  clock: Clock;
  /** Days entries are kept before purgeExpired() may delete them; at least 180 (the default). */
  retentionDays?: number;
  /** Largest page search() returns. */
  maxPageSize?: number;
}

/** How far either side of a broken entry verifyChain looks for the place the entry's content belongs. */
const REORDER_WINDOW = 1000;
const DAY_MS = 86_400_000;
const EXPORT_PAGE = 1000;

export class AuditService {
  private readonly retentionDays: number;
  private readonly maxPageSize: number;

  constructor(private readonly deps: AuditServiceDeps) {
    this.retentionDays = deps.retentionDays ?? AUDIT_MIN_RETENTION_DAYS;
    if (!Number.isInteger(this.retentionDays) || this.retentionDays < AUDIT_MIN_RETENTION_DAYS) {
      throw new RangeError(`audit retention must be at least ${AUDIT_MIN_RETENTION_DAYS} days`);
    }
    this.maxPageSize = deps.maxPageSize ?? 1000;
  }

  private get audit(): AuditRepository {
    return this.deps.uow.read.audit;
  }

  /** Appends one entry in its own transaction (for changes that are not in the database, e.g. a ban). */
  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    const [stored] = await this.deps.uow.run(this.deps.clock.now(), (tx) => tx.audit.append([entry]));
    return stored!;
  }

  /** Appends entries in one transaction (the batched audit of failed authentications). */
  append(entries: NewAuditEntry[]): Promise<AuditEntry[]> {
    return this.deps.uow.run(this.deps.clock.now(), (tx) => tx.audit.append(entries));
  }

  search(query: AuditQuery): Promise<AuditEntry[]> {
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > this.maxPageSize) {
      throw new AppError('VALIDATION_FAILED', { field: '/limit', detail: `limit is 1…${this.maxPageSize}` });
    }
    return this.audit.list({ ...query, ...normaliseRange(query) });
  }

  /**
   * Walks the chain in seq order from the last purge checkpoint (or the genesis) to the head, recomputing each hash:
   * - a seq gap → `missing` at the first missing seq (a deleted entry; a deleted tail is caught against the head row);
   * - a hash that does not match the entry's own fields → `reordered` when those fields hash correctly at another
   *   position nearby, else `edited`;
   * - a self-consistent entry whose previous hash is not its predecessor's hash → `broken-link` (an entry was rewritten
   *   together with its hash, or its link was).
   */
  async verifyChain(): Promise<VerifyChainResult> {
    const head = await this.audit.head();
    const checkpoint = await this.audit.checkpoint();
    let expected = (checkpoint?.seq ?? 0) + 1;
    let prevHash = checkpoint?.hash ?? AUDIT_GENESIS_HASH;
    let count = 0;
    for await (const e of this.audit.scan(expected)) {
      if (e.seq > head.seq) break; // appended after we started: the next run covers it
      if (e.seq > expected) return { ok: false, seq: expected, problem: 'missing' };
      if (e.seq < expected) return { ok: false, seq: e.seq, problem: 'reordered' };
      if (hashOf(e, e.seq, e.prevHash) !== e.hash) {
        return { ok: false, seq: e.seq, problem: (await this.belongsElsewhere(e)) ? 'reordered' : 'edited' };
      }
      if (e.prevHash !== prevHash) return { ok: false, seq: e.seq, problem: 'broken-link' };
      prevHash = e.hash;
      expected += 1;
      count += 1;
    }
    const last = expected - 1;
    if (head.seq > last) return { ok: false, seq: expected, problem: 'missing' };
    // The head row anchors the tail: a last entry rewritten with a recomputed hash no longer matches it.
    if (head.seq > 0 && head.hash !== prevHash) return { ok: false, seq: last, problem: 'edited' };
    return { ok: true, count, head: head.hash };
  }

  /**
   * Writes the entries matching `query` as JSON lines (one AuditEntry per line, oldest first; `details` as the stored
   * JSON text the hash covers), then records the export itself. Returns how many lines were written.
   */
  async exportJsonLines(out: Writable, query: AuditFilter = {}, by: AuditStamp = { actor: 'admin' }): Promise<number> {
    const range = normaliseRange(query);
    let count = 0;
    let afterSeq: number | undefined;
    for (;;) {
      const page = await this.audit.list({ ...query, ...range, ...(afterSeq !== undefined ? { afterSeq } : {}), limit: EXPORT_PAGE });
      for (const e of page) {
        if (!out.write(`${JSON.stringify(e)}\n`)) await once(out, 'drain');
      }
      count += page.length;
      if (page.length < EXPORT_PAGE) break;
      afterSeq = page[page.length - 1]!.seq;
    }
    await this.record({
      ...stampFields(by), action: 'audit.export', target: '-', outcome: 'success',
      ...(query.tenantId !== undefined ? { tenantId: query.tenantId } : {}),
      details: {
        ...range, ...(query.action !== undefined ? { action: query.action } : {}),
        ...(query.requestId !== undefined ? { requestId: query.requestId } : {}), count,
      },
    });
    return count;
  }

  /** Deletes entries older than the configured retention (never fewer than 180 days); nothing calls it on its own. */
  purgeExpired(by: AuditStamp = { actor: 'system' }): Promise<AuditPurgeResult> {
    const now = this.deps.clock.now();
    return this.purgeBefore(new Date(now.getTime() - this.retentionDays * DAY_MS).toISOString(), by);
  }

  async purgeBefore(cutoff: string, by: AuditStamp = { actor: 'admin' }): Promise<AuditPurgeResult> {
    if (Number.isNaN(Date.parse(cutoff))) throw new AppError('VALIDATION_FAILED', { field: '/before', detail: 'not an ISO 8601 date' });
    try {
      return await this.purge(cutoff, by, this.deps.clock.now());
    } catch (error) {
      if (error instanceof AuditRetentionViolation) {
        throw new AppError('VALIDATION_FAILED', { field: '/before', detail: error.message, cause: error });
      }
      throw error;
    }
  }

  /**
   * Deletes the longest prefix of the chain whose entries are all older than `cutoff` and records a checkpoint, plus
   * an `audit.purge` entry, in one transaction. Throws AuditRetentionViolation when `cutoff` is newer than
   * AUDIT_MIN_RETENTION_DAYS before `now`. Nothing else ever deletes audit entries.
   */
  private async purge(cutoff: string, by: AuditStamp, now: Date): Promise<AuditPurgeResult> {
    const cutoffMs = Date.parse(cutoff);
    if (Number.isNaN(cutoffMs)) throw new RangeError(`bad cutoff: ${cutoff}`);
    const cutoffIso = new Date(cutoffMs).toISOString();
    const earliest = new Date(now.getTime() - AUDIT_MIN_RETENTION_DAYS * DAY_MS).toISOString();
    if (cutoffIso > earliest) throw new AuditRetentionViolation(cutoffIso, earliest);
    const purgedAt = now.toISOString();
    return this.deps.uow.run(now, async (tx): Promise<AuditPurgeResult> => {
      // The chain's lock first: no audit writer moves while we cut.
      const headSeq = await tx.audit.lockHead();
      const previous = await tx.audit.checkpoint();
      const fromSeq = previous?.seq ?? 0;
      // The prefix to delete ends just before the first entry at or after the cutoff (timestamps from several nodes
      // need not be monotonic in seq; the chain stays contiguous).
      const firstKept = await tx.audit.firstSeqAtOrAfter(cutoffIso);
      const through = firstKept !== undefined ? firstKept - 1 : headSeq;
      let checkpoint: AuditCheckpoint | undefined;
      let purged = 0;
      if (through > fromSeq) {
        const hash = await tx.audit.hashOf(through);
        if (!hash) throw new Error(`audit entry ${through} is missing; run \`fapiao audit verify\` before purging`);
        purged = await tx.audit.deleteThrough({ seq: through, hash, cutoff: cutoffIso, purgedAt });
        checkpoint = { seq: through, hash, cutoff: cutoffIso, purgedAt, count: purged };
      }
      const [entry] = await tx.audit.append([{
        ...stampFields(by), action: 'audit.purge', target: cutoffIso, outcome: 'success',
        details: { throughSeq: checkpoint ? through : null, purged },
      }]);
      checkpoint ??= previous;
      return { purged, entry: entry!, ...(checkpoint ? { checkpoint } : {}) };
    });
  }

  /** True when the entry's fields hash correctly at another position: its own stored hash at another seq, or the hash
   * stored at another nearby seq with that row's link. */
  private async belongsElsewhere(e: AuditEntry): Promise<boolean> {
    const from = Math.max(1, e.seq - REORDER_WINDOW);
    for (let seq = from; seq <= e.seq + REORDER_WINDOW; seq++) {
      if (seq !== e.seq && hashOf(e, seq, e.prevHash) === e.hash) return true;
    }
    for await (const other of this.audit.scan(from)) {
      if (other.seq > e.seq + REORDER_WINDOW) break;
      if (other.seq !== e.seq && hashOf(e, other.seq, other.prevHash) === other.hash) return true;
    }
    return false;
  }
}

function hashOf(e: AuditEntry, seq: number, prevHash: string): string {
  return auditEntryHash({
    seq, prevHash, at: e.at, tenantId: e.tenantId ?? null, actor: e.actor, action: e.action, target: e.target,
    outcome: e.outcome, ip: e.ip ?? null, details: e.details ?? null, requestId: e.requestId ?? null,
  });
}

/** Timestamps with an offset become UTC ISO strings (entries are stored in UTC); bare `YYYY-MM-DD` days are kept. */
function normaliseRange(q: { from?: string; to?: string }): { from?: string; to?: string } {
  const out: { from?: string; to?: string } = {};
  for (const k of ['from', 'to'] as const) {
    const v = q[k];
    if (v === undefined) continue;
    if (/^\d{4}-\d{2}-\d{2}$/.test(v)) out[k] = v;
    else {
      const ms = Date.parse(v);
      if (Number.isNaN(ms)) throw new AppError('VALIDATION_FAILED', { field: `/${k}`, detail: 'not an ISO 8601 date' });
      out[k] = new Date(ms).toISOString();
    }
  }
  return out;
}
