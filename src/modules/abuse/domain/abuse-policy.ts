// The abuse policy as data: rate limits, tiered bans, blocks and exemptions, with their defaults and the resolution
// of a partial policy (configuration, tests) into a whole one. Pure: abuse control (http/abuse-control.ts) enforces it,
// the configuration (config/limits.ts) reads it.

export interface AbusePolicy {
  /** Per client address (IPv6 by /64) on public routes; past the limit the address is banned for `banSec`. */
  public: { limit: number; windowSec: number; banSec: number };
  /** Per tenant on tenant routes, counted once the request is authenticated; past it 429 until the window ends. */
  tenant: { limit: number; windowSec: number };
  /** Failed authentications (401 answers) per client address; past the limit the address is banned for `banSec`. */
  authFailures: { limit: number; windowSec: number; banSec: number };
  /** Ban after a request matching an exploit signature. */
  exploitBanSec: number;
  /** Addresses or blocks refused permanently (403 BLOCKED). */
  blockedCidrs: readonly string[];
  /** Addresses or blocks never rate limited nor banned automatically (monitoring, a partner's fixed egress). */
  exemptCidrs: readonly string[];
  /** Paths outside every limit (probes of the load balancer and orchestrator). */
  exemptPaths: readonly string[];
  /** Path prefixes of the tenant routes; every other path is public. */
  tenantPathPrefixes: readonly string[];
  /** Methods served at all; others (TRACE, CONNECT, WebDAV…) answer 405. */
  allowedMethods: readonly string[];
}

export const DEFAULT_ABUSE_POLICY: Readonly<AbusePolicy> = Object.freeze({
  public: Object.freeze({ limit: 50, windowSec: 60, banSec: 300 }),
  tenant: Object.freeze({ limit: 6000, windowSec: 60 }),
  authFailures: Object.freeze({ limit: 10, windowSec: 300, banSec: 900 }),
  exploitBanSec: 3600,
  blockedCidrs: Object.freeze([]),
  exemptCidrs: Object.freeze([]),
  exemptPaths: Object.freeze(['/healthz', '/readyz', '/metrics']),
  tenantPathPrefixes: Object.freeze([
    '/v1/invoices', '/v1/red-letter-requests', '/v1/statements', '/v1/reconciliations', '/v1/webhooks', '/v1/invoice-batches', '/v1/received-invoices',
    '/v1/ledger/proof', '/v1/events', '/v1/email-settings', '/v1/document-settings']),
  allowedMethods: Object.freeze(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']),
});

export type AbusePolicyInput = {
  [K in keyof AbusePolicy]?: AbusePolicy[K] extends readonly string[] | number ? AbusePolicy[K] : Partial<AbusePolicy[K]>;
};

/** Defaults filled in (one level deep) and checked; throws RangeError naming the setting. */
export function resolveAbusePolicy(input: AbusePolicyInput = {}): AbusePolicy {
  const d = DEFAULT_ABUSE_POLICY;
  const p: AbusePolicy = {
    ...d,
    ...input,
    public: { ...d.public, ...input.public },
    tenant: { ...d.tenant, ...input.tenant },
    authFailures: { ...d.authFailures, ...input.authFailures },
  };
  const counts: [string, number][] = [
    ['public.limit', p.public.limit], ['public.windowSec', p.public.windowSec], ['public.banSec', p.public.banSec],
    ['tenant.limit', p.tenant.limit], ['tenant.windowSec', p.tenant.windowSec],
    ['authFailures.limit', p.authFailures.limit], ['authFailures.windowSec', p.authFailures.windowSec],
    ['authFailures.banSec', p.authFailures.banSec], ['exploitBanSec', p.exploitBanSec],
  ];
  for (const [name, v] of counts) if (!Number.isInteger(v) || v < 1) throw new RangeError(`abuse policy ${name} must be a positive integer`);
  return p;
}
