// The hash-chained audit log's value types: entries, queries, head, purge checkpoints and the minimum retention.

/** Who did an audited change and from where; the storage writes the audit entry in the change's transaction. */
export interface AuditStamp {
  actor: string;
  ip?: string;
  /** The HTTP request the change was made for (its `X-Request-Id`, checked, or the id generated for it). */
  requestId?: string;
}

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface NewAuditEntry {
  /** The tenant concerned; undefined for actions outside any tenant (bans, failed authentications, exports). */
  tenantId?: string;
  /** Who: `apikey:<id>`, `admin`, `cli`, `system`, `anonymous`. */
  actor: string;
  /** What: `invoice.issue`, `tenant.create`, `apikey.revoke`, `auth.fail`, `ban.add`, `audit.export`, … */
  action: string;
  /** What it acted on (an invoice number, tenant id, key id, CIDR, file); `-` when nothing. */
  target: string;
  outcome: AuditOutcome;
  /** Where from: the client address. */
  ip?: string;
  /** The HTTP request it was written for; absent for jobs, the CLI and entries from before migration 0018. */
  requestId?: string;
  /** Extra facts, stored as JSON text. Never secrets or buyer personal data. */
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  /** Position in the chain: 1, 2, 3, … without gaps (a purge removes a prefix). */
  seq: number;
  /** When, ISO 8601 UTC. */
  at: string;
  tenantId?: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  ip?: string;
  requestId?: string;
  /** The stored JSON text of the details, verbatim (it is what the hash covers). */
  details?: string;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  /** Inclusive lower bound on `at` (ISO 8601 UTC, or a `YYYY-MM-DD` UTC day). */
  from?: string;
  /** Exclusive upper bound on `at`. */
  to?: string;
  tenantId?: string;
  action?: string;
  /** Only the entries of one HTTP request. */
  requestId?: string;
  /** Only entries with seq > afterSeq (paging in ascending order). */
  afterSeq?: number;
  /** Only entries with seq < beforeSeq (paging in descending order). */
  beforeSeq?: number;
  /** Default `asc` (oldest first). */
  order?: 'asc' | 'desc';
  limit: number;
}

/** The chain's head: the last entry's seq and hash (seq 0 and the genesis hash when empty). */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** A purge's record: entries up to and including `seq` were deleted; `hash` is entry `seq`'s hash. */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  /** The cutoff asked for: entries before it were eligible. */
  cutoff: string;
  purgedAt: string;
  /** Entries deleted by this purge. */
  count: number;
}

export interface AuditPurgeResult {
  purged: number;
  /** The newest checkpoint (this purge's, or the previous one when nothing was old enough). */
  checkpoint?: AuditCheckpoint;
  /** The `audit.purge` entry recording this purge. */
  entry: AuditEntry;
}

/** The minimum age of audit entries a purge may delete (docs/invoice-rules.md, "Retention": never below 180 days). */
export const AUDIT_MIN_RETENTION_DAYS = 180;

/** Thrown by AuditService.purgeBefore for a cutoff inside the minimum retention period (map to 400/422). */
export class AuditRetentionViolation extends Error {
  constructor(
    readonly cutoff: string,
    readonly earliestAllowed: string,
  ) {
    super(`audit entries are kept at least ${AUDIT_MIN_RETENTION_DAYS} days: cutoff ${cutoff} is after ${earliestAllowed}`);
    this.name = 'AuditRetentionViolation';
  }
}
