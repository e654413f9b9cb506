// Limits on what clients may send and hold open: HTTP body, header and timeout limits with the trusted proxies, the
// abuse policy (rate limits, bans, blocks), the live event stream's budgets, and the 发票查验 limits against
// enumeration.
import { resolveAbusePolicy, type AbusePolicy, type AbusePolicyInput } from '../modules/abuse/http/abuse-control.ts';
import type { Config } from './config.ts';
import { cidrList, ConfigError, int, isObject, type Env, type Json } from './read.ts';

export interface HttpTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

/** Read apart from the other http limits so their errors keep their order among the other settings. */
export function httpTimeouts(file: Json): HttpTimeouts {
  const http = isObject(file.http) ? file.http : {};
  const headersTimeoutMs = int(http.headersTimeoutMs, 'http.headersTimeoutMs', 100, 600_000) ?? 10_000;
  const requestTimeoutMs = int(http.requestTimeoutMs, 'http.requestTimeoutMs', 100, 3_600_000) ?? 30_000;
  // Node refuses a headers timeout longer than the request timeout when it creates the server: say so here instead.
  if (headersTimeoutMs > requestTimeoutMs) throw new ConfigError('http.headersTimeoutMs', 'must not exceed http.requestTimeoutMs');
  return { headersTimeoutMs, requestTimeoutMs };
}

export function httpLimits(file: Json, timeouts: HttpTimeouts): Config['http'] {
  const http = isObject(file.http) ? file.http : {};
  return {
    bodyLimit: int(http.bodyLimit, 'http.bodyLimit', 1024, 64 * 1024 * 1024) ?? 1024 * 1024,
    maxPageSize: int(http.maxPageSize, 'http.maxPageSize', 1, 1000) ?? 100,
    trustedProxies: cidrList(http.trustedProxies, 'http.trustedProxies'),
    headersTimeoutMs: timeouts.headersTimeoutMs,
    requestTimeoutMs: timeouts.requestTimeoutMs,
    maxHeaderSize: int(http.maxHeaderSize, 'http.maxHeaderSize', 1024, 1024 * 1024) ?? 16 * 1024,
  };
}

export function abusePolicy(v: unknown, env: Env): AbusePolicy {
  if (v !== undefined && !isObject(v)) throw new ConfigError('abuse', 'must be an object');
  const input = { ...(v ?? {}) } as AbusePolicyInput & Json;
  const pub = int(env.FAPIAO_PUBLIC_RATE_PER_MINUTE, 'FAPIAO_PUBLIC_RATE_PER_MINUTE', 1, 100_000_000);
  if (pub !== undefined) input.public = { ...(input.public ?? {}), limit: pub, windowSec: 60 };
  const ten = int(env.FAPIAO_TENANT_RATE_PER_MINUTE, 'FAPIAO_TENANT_RATE_PER_MINUTE', 1, 100_000_000);
  if (ten !== undefined) input.tenant = { ...(input.tenant ?? {}), limit: ten, windowSec: 60 };
  if (input.blockedCidrs !== undefined) input.blockedCidrs = cidrList(input.blockedCidrs, 'abuse.blockedCidrs');
  if (input.exemptCidrs !== undefined) input.exemptCidrs = cidrList(input.exemptCidrs, 'abuse.exemptCidrs');
  try {
    return resolveAbusePolicy(input);
  } catch (err) {
    throw new ConfigError('abuse', err instanceof Error ? err.message : 'invalid');
  }
}

export function eventLimits(file: Json): Config['events'] {
  const events = isObject(file.events) ? file.events : {};
  return {
    pollIntervalMs: int(events.pollIntervalMs, 'events.pollIntervalMs', 10, 60_000) ?? 250,
    heartbeatSec: int(events.heartbeatSec, 'events.heartbeatSec', 1, 300) ?? 15,
    maxStreamsPerTenant: int(events.maxStreamsPerTenant, 'events.maxStreamsPerTenant', 1, 100_000) ?? 20,
    maxStreams: int(events.maxStreams, 'events.maxStreams', 1, 1_000_000) ?? 1000,
    maxBufferedBytes: int(events.maxBufferedBytes, 'events.maxBufferedBytes', 1024, 64 * 1024 * 1024) ?? 1024 * 1024,
    gapTimeoutMs: int(events.gapTimeoutMs, 'events.gapTimeoutMs', 0, 600_000) ?? 5000,
  };
}

export function verifyLimits(file: Json, env: Env): Config['verify'] {
  const verify = isObject(file.verify) ? file.verify : {};
  return {
    perInvoicePerDay:
      int(env.FAPIAO_VERIFY_PER_INVOICE_PER_DAY ?? verify.perInvoicePerDay, 'verify.perInvoicePerDay', 1, 1_000_000) ?? 5,
    perIpPerMinute: int(env.FAPIAO_VERIFY_PER_IP_PER_MINUTE ?? verify.perIpPerMinute, 'verify.perIpPerMinute', 1, 1_000_000) ?? 50,
  };
}
