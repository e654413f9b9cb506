// One audit entry per failed authentication (API key, admin token, client certificate): who (the key's public
// prefix when the presented token is well formed, else `anonymous`), what (`auth.fail`), when (UTC, the batch's
// commit time), where from (the client address) and the outcome (`denied`). Entries go through the batching
// appender, so a flood of bad credentials costs a few transactions, not one each.
//
// Why an API key failed (unknown, revoked, expired) is decided at flush time by a lookup of the key's hash, after
// the 401 has been sent: the answer and its timing stay the same for every kind of bad key. Only the hash of a
// presented secret is kept, never the secret itself (invariant 10).
import { hashApiKey, parseApiKey } from '../../../platform/crypto/api-key-token.ts';
import type { ApiKeyRepository } from '../../tenants/index.ts';
import type { NewAuditEntry } from '../storage/audit-contract.ts';
import { BatchingAuditAppender, type AuditAppenderOptions } from './audit-appender.ts';
import type { Clock } from '../../../shared/clock.ts';

export const AUTH_FAILURE_REASONS = [
  'missing', 'malformed', 'unknown', 'revoked', 'expired', 'bad-certificate', 'bad-admin-token',
] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

export interface AuthFailure {
  listener: string;
  /** The route (`POST /v1/invoices`) or, for a refused TLS handshake, `tls`. */
  target: string;
  ip?: string;
  /** The refused HTTP request's id (none for a TLS handshake). */
  requestId?: string;
  reason: AuthFailureReason;
  /** Non-secret particulars, e.g. a certificate's fingerprint or the TLS error code. */
  details?: Record<string, string>;
}

interface Queued extends AuthFailure {
  actor: string;
  /** SHA-256 of a well-formed API key: classified as unknown, revoked or expired at flush time. */
  keyHash?: string;
}

export interface AuthFailureAuditDeps extends Pick<AuditAppenderOptions<Queued>, 'append' | 'flushMs' | 'maxBatch' | 'capacity' | 'onDrop' | 'onError'> {
  apiKeys: Pick<ApiKeyRepository, 'findByHash'>;
  clock: Clock;
  /** Called for each failure as it is recorded (the metrics count them). */
  onFailure?: (failure: Pick<AuthFailure, 'listener'>) => void;
}

export class AuthFailureAudit {
  private readonly appender: BatchingAuditAppender<Queued>;

  constructor(private readonly deps: AuthFailureAuditDeps) {
    this.appender = new BatchingAuditAppender<Queued>({ ...deps, toEntries: (items) => this.toEntries(items) });
  }

  /** A failure other than a bad API key (missing credentials, bad admin token, refused certificate). */
  record(failure: AuthFailure): void {
    this.deps.onFailure?.(failure);
    this.appender.add({ ...failure, actor: 'anonymous' });
  }

  /**
   * A presented API key that did not authenticate. A token that is not in the key format is `malformed`; a
   * well-formed one is audited under its public prefix and classified later by the hash of the whole token.
   */
  recordApiKey(failure: Omit<AuthFailure, 'reason'>, token: string): void {
    this.deps.onFailure?.(failure);
    const parsed = parseApiKey(token);
    if (!parsed) this.appender.add({ ...failure, reason: 'malformed', actor: 'anonymous' });
    else this.appender.add({ ...failure, reason: 'unknown', actor: parsed.prefix, keyHash: hashApiKey(token) });
  }

  flush(): Promise<void> {
    return this.appender.flush();
  }

  close(): Promise<void> {
    return this.appender.close();
  }

  private async toEntries(items: Queued[]): Promise<NewAuditEntry[]> {
    const now = this.deps.clock.now().toISOString();
    const known = new Map<string, { reason: AuthFailureReason; tenantId?: string }>();
    for (const hash of new Set(items.flatMap((i) => (i.keyHash ? [i.keyHash] : [])))) {
      const rec = await this.deps.apiKeys.findByHash(hash);
      // A key that looks valid now was not a moment ago (a cached refusal, or the tenant was missing): unknown.
      if (!rec) known.set(hash, { reason: 'unknown' });
      else if (rec.revokedAt) known.set(hash, { reason: 'revoked', tenantId: rec.tenantId });
      else if (rec.expiresAt && rec.expiresAt <= now) known.set(hash, { reason: 'expired', tenantId: rec.tenantId });
      else known.set(hash, { reason: 'unknown', tenantId: rec.tenantId });
    }
    return items.map((i): NewAuditEntry => {
      const k = i.keyHash ? known.get(i.keyHash) : undefined;
      return {
        actor: i.actor, action: 'auth.fail', target: i.target, outcome: 'denied',
        ...(i.ip !== undefined ? { ip: i.ip } : {}),
        ...(i.requestId !== undefined ? { requestId: i.requestId } : {}),
        ...(k?.tenantId !== undefined ? { tenantId: k.tenantId } : {}),
        details: { ...i.details, reason: k?.reason ?? i.reason, listener: i.listener },
      };
    });
  }
}
