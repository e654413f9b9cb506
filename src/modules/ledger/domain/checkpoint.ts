// The checkpoint body (https://c2sp.org/tlog-checkpoint "Note text"): origin, decimal tree size, base64 root hash,
// then optional non-empty extension lines, each line ending in a newline.
//
// The ledger uses one extension line to commit to the head of the audit log's hash chain (src/modules/audit/domain/audit-chain.ts)
// at the time the checkpoint is signed:
//   fapiao-audit-head <seq> <hash>
// seq is the decimal sequence number of the last audit entry (0 while the audit log is empty), hash its lower-case
// hex SHA-256 (64 zeros for seq 0, AUDIT_GENESIS_HASH). Witnesses cosign the line with the rest of the body
// (cosignature/v1 signs the whole text) but vouch only for the first three lines (https://c2sp.org/tlog-cosignature
// "Ed25519 signed message"); the line lets anyone holding an exported audit log check that its chain passed through
// that head before the checkpoint's time.
import { HASH_SIZE } from './merkle.ts';
import { decodeBase64Strict, encodeBase64, hasControlCharacter, isValidKeyName } from './signed-note.ts';

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  /** Extension lines, without their newlines. */
  extensions: string[];
}

export class CheckpointFormatError extends Error {
  override readonly name = 'CheckpointFormatError';
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/** Parses a decimal with no leading zeros into a safe integer; undefined otherwise. */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text) || text.length > 16) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function formatCheckpoint(c: Checkpoint): string {
  // The log's own origin follows the recommended form (no spaces, no `+`), so it can double as its key name.
  if (!isValidKeyName(c.origin) || c.origin.includes('\n')) throw new CheckpointFormatError('the origin is a non-empty line without spaces or +');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new CheckpointFormatError('the size is a non-negative safe integer');
  if (c.rootHash.length !== HASH_SIZE) throw new CheckpointFormatError('the root hash is 32 bytes');
  for (const e of c.extensions) {
    if (e.length === 0 || e.includes('\n')) throw new CheckpointFormatError('an extension line is non-empty');
  }
  return [c.origin, String(c.size), encodeBase64(c.rootHash), ...c.extensions].map((l) => `${l}\n`).join('');
}

/** Parses a checkpoint body (a note's text) strictly. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new CheckpointFormatError('a checkpoint ends in a newline');
  if (hasControlCharacter(text)) throw new CheckpointFormatError('a checkpoint has no control characters');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointFormatError('a checkpoint has an origin, a size and a root hash');
  if (lines.some((l) => l.length === 0)) throw new CheckpointFormatError('checkpoint lines are non-empty');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  const size = parseDecimal(sizeText);
  if (size === undefined) throw new CheckpointFormatError('the size is a decimal without leading zeros');
  const rootHash = decodeBase64Strict(rootText);
  if (rootHash === undefined || rootHash.length !== HASH_SIZE) throw new CheckpointFormatError('the root hash is base64 of 32 bytes');
  return { origin, size, rootHash, extensions };
}

export const AUDIT_HEAD_EXTENSION = 'fapiao-audit-head';

export interface AuditHead {
  /** Sequence number of the last audit entry; 0 for an empty audit log. */
  seq: number;
  /** Its lower-case hex hash; 64 zeros for seq 0. */
  hash: string;
}

export function formatAuditHeadExtension(head: AuditHead): string {
  if (!Number.isSafeInteger(head.seq) || head.seq < 0) throw new CheckpointFormatError('the audit seq is a non-negative integer');
  if (!/^[0-9a-f]{64}$/.test(head.hash)) throw new CheckpointFormatError('the audit hash is 64 lower-case hex digits');
  if (head.seq === 0 && !/^0{64}$/.test(head.hash)) throw new CheckpointFormatError('an empty audit log has the genesis hash');
  return `${AUDIT_HEAD_EXTENSION} ${head.seq} ${head.hash}`;
}

/**
 * The audit head a checkpoint commits to: undefined when it has no such line; throws when the line is malformed
 * or appears twice.
 */
export function auditHeadOf(c: Checkpoint): AuditHead | undefined {
  const mine = c.extensions.filter((e) => e === AUDIT_HEAD_EXTENSION || e.startsWith(`${AUDIT_HEAD_EXTENSION} `));
  if (mine.length === 0) return undefined;
  if (mine.length > 1) throw new CheckpointFormatError('a checkpoint commits to one audit head');
  const parts = mine[0]!.split(' ');
  const seq = parts.length === 3 ? parseDecimal(parts[1]!) : undefined;
  if (seq === undefined) throw new CheckpointFormatError('malformed audit head line');
  const head = { seq, hash: parts[2]! };
  formatAuditHeadExtension(head);
  return head;
}
