// The audit log's hash chain: each entry's hash covers its own fields and the previous entry's hash, so an edit,
// a deletion or a reordering anywhere breaks the chain at that entry. Pure and synchronous; storage computes the hashes
// when it appends and the audit service recomputes them to verify.
import { createHash } from 'node:crypto';

/** The previous hash of the very first entry (there is no entry 0). */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/** The hashed fields of one entry, exactly as stored (details as its stored JSON text, absent values as null). */
export interface AuditHashInput {
  seq: number;
  prevHash: string;
  /** ISO 8601 UTC (`toISOString()`). */
  at: string;
  tenantId: string | null;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  ip: string | null;
  /** The stored JSON text of the details, or null. Hashed as text, never re-serialised. */
  details: string | null;
  /** The HTTP request's id (migration 0018); null or absent when none. */
  requestId?: string | null;
}

/**
 * The canonical encoding: a JSON array of the fields in a fixed order. JSON.stringify of strings, nulls and a safe
 * integer is deterministic (no keys to order, no floats), so the same fields always give the same bytes.
 *
 * The request id (added by migration 0018) is an eleventh element only when the entry has one: an entry without one
 * encodes exactly as every entry written before it existed, so those keep verifying, and an entry with one cannot
 * lose it (or gain one) without breaking its hash.
 */
export function canonicalAuditEncoding(e: AuditHashInput): string {
  if (!Number.isSafeInteger(e.seq) || e.seq < 1) throw new RangeError(`bad audit seq: ${e.seq}`);
  const fields: (string | number | null)[] = [e.seq, e.prevHash, e.at, e.tenantId, e.actor, e.action, e.target, e.outcome, e.ip, e.details];
  if (e.requestId !== undefined && e.requestId !== null) fields.push(e.requestId);
  return JSON.stringify(fields);
}

/** Hex SHA-256 of the canonical encoding (UTF-8). */
export function auditEntryHash(e: AuditHashInput): string {
  return createHash('sha256').update(canonicalAuditEncoding(e), 'utf8').digest('hex');
}
