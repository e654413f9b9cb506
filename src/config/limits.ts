// Limits on what clients may send and hold open: HTTP body, header and timeout limits with the trusted proxies, the
// abuse policy (rate limits, bans, blocks), the live event stream's budgets, and the 发票查验 limits against
// enumeration. Their schema, and the rule it cannot say (the headers timeout within the request timeout).
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { DEFAULT_ABUSE_POLICY, resolveAbusePolicy, type AbusePolicy } from '../modules/abuse/domain/abuse-policy.ts';
import type { Config } from './config.ts';
import { cidrList, ConfigError, int, list, section, type SettingNames } from './read.ts';

const MiB = 1024 * 1024;

export const HTTP_SCHEMA = section(
  {
    bodyLimit: int(1024, 64 * MiB, { default: MiB, description: 'Bytes of a request body; more is answered 413.' }),
    maxPageSize: int(1, 1000, { default: 100, description: 'Cap on `limit` of list endpoints.' }),
    trustedProxies: cidrList({
      description: 'Proxies whose `X-Forwarded-For` / `X-Real-IP` is believed (addresses or CIDR blocks); nobody else\'s is.',
    }),
    headersTimeoutMs: int(100, 600_000, {
      default: 10_000,
      description: 'A request whose headers are not complete by then is answered 408 and closed (slowloris); at most `requestTimeoutMs`.',
    }),
    requestTimeoutMs: int(100, 3_600_000, { default: 30_000, description: 'The whole request, body included, must arrive within this.' }),
    maxHeaderSize: int(1024, MiB, { default: 16 * 1024, description: 'Bytes of request line and headers together; more is answered 431.' }),
    maxEventLoopDelayMs: int(0, 60_000, {
      default: 0,
      env: 'FAPIAO_MAX_EVENT_LOOP_DELAY_MS',
      description:
        'Mean event-loop lag (the typical length of a turn of the loop) over a window of `eventLoopWindowMs` above which the api, partner and push listeners answer a share of new requests 503 `SERVICE_UNAVAILABLE` with Retry-After (load shedding; admin, metrics and the probes are never shed). The share follows the lag each window (half the relative excess over this limit is added, or taken off when below), so it settles where the lag is about this limit. 0 (the default): never. The lag also grows with the number of open connections (a turn serves every socket that has data), so set it above what the node shows at full speed under its usual connection count (`fapiao_event_loop_lag_window_seconds` while it is set, or `fapiao_nodejs_eventloop_lag_mean_seconds`), e.g. 250.',
    }),
    eventLoopWindowMs: int(50, 60_000, {
      default: 1000,
      env: 'FAPIAO_EVENT_LOOP_WINDOW_MS',
      description: 'Window over which the event-loop lag is measured: the shed share changes at most this often, and Retry-After is its length in seconds (at least 1).',
    }),
    shutdownDelayMs: int(0, 120_000, {
      default: 0,
      env: 'FAPIAO_SHUTDOWN_DELAY_MS',
      description:
        'On SIGTERM, how long the listeners keep serving before they close: `/readyz` answers 503 at once and every ' +
        'answer says `Connection: close`, so a load balancer takes the node out and its clients move to other nodes ' +
        'without a refused request. Behind a balancer set it above its check interval × fall count (docs/cluster.md).',
    }),
  },
  { title: 'HTTP limits', description: 'Request limits of every listener; see [operations.md, "Abuse control"](operations.md#abuse-control).' },
);

/** The http limits from the validated file, with the rule between the two timeouts. */
export function httpLimits(v: Static<typeof HTTP_SCHEMA>, names: SettingNames): Config['http'] {
  // Node refuses a headers timeout longer than the request timeout when it creates the server: say so here instead.
  if (v.headersTimeoutMs > v.requestTimeoutMs) throw names.report('http.headersTimeoutMs', 'must not exceed http.requestTimeoutMs');
  return {
    bodyLimit: v.bodyLimit,
    maxPageSize: v.maxPageSize,
    trustedProxies: v.trustedProxies,
    headersTimeoutMs: v.headersTimeoutMs,
    requestTimeoutMs: v.requestTimeoutMs,
    maxHeaderSize: v.maxHeaderSize,
    maxEventLoopDelayMs: v.maxEventLoopDelayMs,
    eventLoopWindowMs: v.eventLoopWindowMs,
    shutdownDelayMs: v.shutdownDelayMs,
  };
}

const d = DEFAULT_ABUSE_POLICY;
const positive = (value: number, description: string) => int(1, undefined, { default: value, description });

export const ABUSE_SCHEMA = section(
  {
    public: section({
      limit: int(1, undefined, {
        default: d.public.limit,
        env: 'FAPIAO_PUBLIC_RATE_PER_MINUTE',
        envSets: { windowSec: 60 },
        description: 'Requests per client address (IPv6 by /64) and window on public routes; past it the address is banned for `banSec`.',
      }),
      windowSec: positive(d.public.windowSec, 'Window of `limit`, seconds.'),
      banSec: positive(d.public.banSec, 'Ban of an address past the limit, seconds.'),
    }),
    tenant: section({
      limit: int(1, undefined, {
        default: d.tenant.limit,
        env: 'FAPIAO_TENANT_RATE_PER_MINUTE',
        envSets: { windowSec: 60 },
        description: 'Requests per tenant and window on tenant routes, counted once authenticated; past it 429 until the window ends.',
      }),
      windowSec: positive(d.tenant.windowSec, 'Window of `limit`, seconds.'),
    }),
    authFailures: section({
      limit: positive(d.authFailures.limit, 'Failed authentications (401 answers) per client address and window; past it the address is banned for `banSec`.'),
      windowSec: positive(d.authFailures.windowSec, 'Window of `limit`, seconds.'),
      banSec: positive(d.authFailures.banSec, 'Ban of an address past the limit, seconds.'),
    }),
    exploitBanSec: positive(d.exploitBanSec, 'Ban after a request matching an exploit signature, seconds.'),
    blockedCidrs: cidrList({ default: [...d.blockedCidrs], description: 'Addresses or blocks refused permanently (403 `BLOCKED`).' }),
    exemptCidrs: cidrList({
      default: [...d.exemptCidrs],
      description: 'Addresses or blocks never rate limited nor banned automatically (monitoring, a partner\'s fixed egress).',
    }),
    exemptPaths: list(Type.String(), { default: [...d.exemptPaths], description: 'Paths outside every limit (probes of the load balancer and orchestrator).' }),
    tenantPathPrefixes: list(Type.String(), { default: [...d.tenantPathPrefixes], description: 'Path prefixes of the tenant routes; every other path is public.' }),
    allowedMethods: list(Type.String(), { default: [...d.allowedMethods], description: 'Methods served at all; others (TRACE, CONNECT, WebDAV…) answer 405.' }),
  },
  {
    title: 'Abuse control',
    description:
      'Rate limits, tiered bans and blocks ([operations.md, "Abuse control"](operations.md#abuse-control)). A rate ' +
      'variable sets the limit per minute: it also sets that window to 60 seconds. With `redisUrl` the counters and ' +
      'bans are shared between nodes.',
  },
);

/** The abuse policy from the validated file (unknown keys dropped). */
export function abusePolicy(v: Static<typeof ABUSE_SCHEMA>): AbusePolicy {
  try {
    return resolveAbusePolicy(Value.Clean(ABUSE_SCHEMA, Value.Clone(v)) as typeof v);
  } catch (err) {
    throw new ConfigError('abuse', err instanceof Error ? err.message : 'invalid');
  }
}

export const EVENTS_SCHEMA = section(
  {
    pollIntervalMs: int(10, 60_000, { default: 250, description: 'How often new outbox rows are looked for while at least one stream is open.' }),
    heartbeatSec: int(1, 300, { default: 15, description: 'A comment line on idle streams, so proxies and clients see the connection alive.' }),
    maxStreamsPerTenant: int(1, 100_000, { default: 20, description: 'Open streams of one tenant.' }),
    maxStreams: int(1, 1_000_000, { default: 1000, description: 'Open streams of the node.' }),
    maxBufferedBytes: int(1024, 64 * MiB, {
      default: MiB,
      description: 'Bytes waiting for one slow client before its stream is dropped (it resumes with `Last-Event-ID`).',
    }),
    gapTimeoutMs: int(0, 600_000, {
      default: 5000,
      description: 'How long a hole in the outbox ids (a transaction still committing) may hold streams back.',
    }),
  },
  { title: 'Live events', description: 'The live event stream (route group `push`, modules/events/app/event-stream.ts).' },
);

export const VERIFY_SCHEMA = section(
  {
    perInvoicePerDay: int(1, 1_000_000, {
      default: 5,
      env: 'FAPIAO_VERIFY_PER_INVOICE_PER_DAY',
      envReportsPath: true,
      description: 'Checks naming one invoice number per day (UTC+8), matched or not; the public service allows 5.',
    }),
    perIpPerMinute: int(1, 1_000_000, {
      default: 50,
      env: 'FAPIAO_VERIFY_PER_IP_PER_MINUTE',
      envReportsPath: true,
      description: 'Requests to the verify page and API per client address per minute.',
    }),
  },
  { title: 'Verification limits', description: '发票查验 limits against enumeration ([invoice-rules.md](invoice-rules.md), "Verification").' },
);
