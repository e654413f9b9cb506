// Abuse control for one listener (issue 3): blocklisted blocks, bans, exploit signatures, per-address limits on
// public routes, per-tenant budgets on tenant routes, failed-authentication bans, and a method guard. Limits are
// announced with the IETF RateLimit fields in their structured-field form (draft-ietf-httpapi-ratelimit-headers:
// `RateLimit-Policy: "public";q=50;w=60`, `RateLimit: "public";r=12;t=48`) and refusals carry Retry-After
// (RFC 9110 §10.2.3). A permanent block answers 403 with neither: it will not change by waiting.
//
// Register before any route: the hooks and the route table the method guard reads apply to routes added later.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../../shared/errors.ts';
import { CidrSet, clientSubject, parseIp } from '../../../shared/cidr.ts';
import type { Ban, BanService } from '../app/ban-service.ts';
import { ipRateKey, MemoryRateLimiter, tenantRateKey, type RateDecision, type RateLimiter } from '../app/rate-limiter.ts';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { ClientIpResolver } from './client-ip.ts';
import { createMethodGuard, findExploitSignature } from './exploit-guard.ts';
import { requestTargetProblem } from '../../../platform/http/request-target.ts';
import { resolveAbusePolicy, type AbusePolicy, type AbusePolicyInput } from '../domain/abuse-policy.ts';

// The policy's types, defaults and resolution are pure and live in the domain; re-exported for this file's importers.
export { DEFAULT_ABUSE_POLICY, resolveAbusePolicy, type AbusePolicy, type AbusePolicyInput } from '../domain/abuse-policy.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The client address after trusted-proxy resolution (client-ip.ts); set by abuse control. */
    clientIp?: string;
  }
  interface FastifyContextConfig {
    /** Overrides the path-based route group of abuse control for this route. */
    abuseGroup?: AbuseRouteGroup;
  }
}

export type AbuseRouteGroup = 'public' | 'tenant' | 'exempt';

export interface AbuseControlOptions {
  bans: BanService;
  limiter: RateLimiter;
  clientIp: ClientIpResolver;
  policy?: AbusePolicyInput;
  clock?: Clock;
  /** Route group of a request; default: `config.abuseGroup` of the route, else by path (see AbusePolicy). */
  routeGroup?: (req: FastifyRequest) => AbuseRouteGroup;
  /** Tenant of an authenticated request; default: `req.auth.tenant.id` as set by api-key-auth. */
  tenantOf?: (req: FastifyRequest) => string | undefined;
  /**
   * An operator listener (admin, metrics: every route behind its allowlist and admin token). It has no rate budget,
   * and the ban list, which public traffic fills, is neither checked nor added to: a ban earned on a public listener
   * (or a block covering loopback) must not lock the operator out of lifting it. Failed authentications are counted
   * here alone, and past `authFailures.limit` lock the address out of this listener for `authFailures.banSec`.
   * Configured blocks and exploit signatures still refuse.
   */
  operator?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    abuseControl?: AbuseControl;
  }
}

export interface AbuseControl {
  readonly policy: AbusePolicy;
  /** Counts one failed authentication of `ip`; bans it past the limit (the ban, or undefined). */
  recordAuthFailure(ip: string): Promise<Ban | undefined>;
  /**
   * Charges the tenant's budget; throws 429 RATE_LIMITED past it. Sets the RateLimit fields on `reply`. Runs by
   * itself for requests `tenantOf` names a tenant for; call it only where that hook cannot see the tenant.
   */
  chargeTenant(req: FastifyRequest, reply: FastifyReply, tenantId: string): Promise<void>;
}

/** The counters abuse control keeps of a client subject; an admin lifting its ban forgets them as well. */
export function abuseCounterKeys(subject: string): string[] {
  return [ipRateKey('public', subject), ipRateKey('auth', subject)];
}

function rateHeaders(name: string, quota: number, windowSec: number, d: Pick<RateDecision, 'remaining' | 'resetSec'>) {
  return { 'ratelimit-policy': `"${name}";q=${quota};w=${windowSec}`, ratelimit: `"${name}";r=${d.remaining};t=${d.resetSec}` };
}

function defaultTenantOf(req: FastifyRequest): string | undefined {
  const auth = (req as { auth?: { tenant?: { id?: unknown } } }).auth;
  return typeof auth?.tenant?.id === 'string' ? auth.tenant.id : undefined;
}

export function registerAbuseControl(app: FastifyInstance, opts: AbuseControlOptions): AbuseControl {
  const policy = resolveAbusePolicy(opts.policy);
  const clock = opts.clock ?? systemClock;
  const blocked = new CidrSet(policy.blockedCidrs);
  const exempt = new CidrSet(policy.exemptCidrs);
  const exemptPaths = new Set(policy.exemptPaths);
  const tenantOf = opts.tenantOf ?? defaultTenantOf;
  const methodGuard = createMethodGuard(app, policy.allowedMethods);
  const operator = opts.operator === true;
  // An operator listener's own failed authentications and lockouts, in this process: its allowlist keeps it local.
  const operatorFailures = operator ? new MemoryRateLimiter({ clock, maxKeys: 10_000 }) : undefined;
  const lockouts = new Map<string, number>();

  // The group of a path by the policy's lists, by its text (asked twice per request: onRequest and preParsing). Paths
  // up to 256 characters are remembered (bounded); the lists are fixed for the life of the server.
  const pathGroups = new Map<string, AbuseRouteGroup>();
  const groupOfPath = (path: string): AbuseRouteGroup => {
    let group = pathGroups.get(path);
    if (group === undefined) {
      group = exemptPaths.has(path) ? 'exempt'
        : policy.tenantPathPrefixes.some((p) => path === p || path.startsWith(`${p}/`)) ? 'tenant' : 'public';
      if (path.length <= 256) {
        if (pathGroups.size >= 10_000) pathGroups.clear();
        pathGroups.set(path, group);
      }
    }
    return group;
  };
  const routeGroup = operator ? () => 'exempt' as const : opts.routeGroup ?? ((req: FastifyRequest): AbuseRouteGroup => {
    // A target refused before any route sees it (request-target.ts) comes from nobody known: the address pays.
    if (requestTargetProblem(req)) return 'public';
    const configured = req.routeOptions.config?.abuseGroup;
    if (configured) return configured;
    // The normalised path, the one the router matched (request-target.ts): an encoded alias is classified alike.
    const q = req.url.indexOf('?');
    return groupOfPath(q < 0 ? req.url : req.url.slice(0, q));
  });

  let lastOutageLog = Number.NEGATIVE_INFINITY;
  /**
   * Runs a store operation, failing open: when Redis is unreachable the request is admitted (the blocklist from the
   * configuration still applies) rather than every request answering 500. Logged at most every 10 s.
   */
  async function guarded<T>(req: FastifyRequest, what: string, op: () => Promise<T>): Promise<T | undefined> {
    try {
      return await op();
    } catch (err) {
      const now = clock.now().getTime();
      if (now - lastOutageLog >= 10_000) {
        lastOutageLog = now;
        req.log.error({ err }, `abuse control store failed (${what}); request admitted`);
      }
      return undefined;
    }
  }

  /** Bans automatically; a failing audit hook or store is logged and does not change the answer. */
  async function autoBan(req: FastifyRequest | undefined, subject: string, reason: Ban['reason'], durationSec: number, note: string) {
    try {
      const ban = await opts.bans.ban({ target: subject, reason, durationSec, note, actor: 'system', extendOnly: true });
      req?.log.warn({ clientIp: subject, reason, note, until: ban.until }, 'client banned');
      return ban;
    } catch (err) {
      req?.log.error({ err, clientIp: subject, reason }, 'ban failed');
      return undefined;
    }
  }

  function banError(ban: Ban): AppError {
    if (ban.until === undefined) return new AppError('BLOCKED');
    const retry = String(Math.max(1, Math.ceil((Date.parse(ban.until) - clock.now().getTime()) / 1000)));
    if (ban.reason === 'rate-limit' || ban.reason === 'auth-failures') {
      const headers: Record<string, string> = { 'retry-after': retry };
      if (ban.reason === 'rate-limit') {
        Object.assign(headers, rateHeaders('public', policy.public.limit, policy.public.windowSec, { remaining: 0, resetSec: Number(retry) }));
      }
      return new AppError('RATE_LIMITED', { detail: `the client address is banned (${ban.reason})`, headers });
    }
    return new AppError('BANNED', { detail: `the client address is banned (${ban.reason})`, headers: { 'retry-after': retry } });
  }

  async function recordAuthFailure(ip: string): Promise<Ban | undefined> {
    const a = parseIp(ip);
    if (!a || exempt.has(a)) return undefined;
    const subject = clientSubject(a);
    const { limit, windowSec, banSec } = policy.authFailures;
    if (operatorFailures) {
      const d = await operatorFailures.hit(subject, limit, windowSec * 1000);
      if (!d.allowed) {
        const now = clock.now().getTime();
        if (lockouts.size >= 10_000) for (const [k, until] of lockouts) if (until <= now) lockouts.delete(k);
        if (lockouts.size < 10_000) lockouts.set(subject, now + banSec * 1000);
        app.log.warn({ clientIp: subject, until: new Date(now + banSec * 1000).toISOString() }, 'client locked out of this listener');
      }
      return undefined;
    }
    const d = await opts.limiter.hit(ipRateKey('auth', subject), limit, windowSec * 1000);
    if (d.allowed) return undefined;
    return autoBan(undefined, subject, 'auth-failures', banSec, `more than ${limit} failed authentications in ${windowSec} s`);
  }

  async function chargeTenant(req: FastifyRequest, reply: FastifyReply, tenantId: string): Promise<void> {
    const { limit, windowSec } = policy.tenant;
    // Invariant 7: the key names the tenant, so one tenant's traffic never spends another's budget.
    const d = await guarded(req, 'tenant limit', () => opts.limiter.hit(tenantRateKey('tenant', tenantId), limit, windowSec * 1000));
    if (!d) return;
    const headers = rateHeaders('tenant', limit, windowSec, d);
    void reply.headers(headers);
    if (!d.allowed) {
      throw new AppError('RATE_LIMITED', { detail: 'the tenant request budget is spent', headers: { ...headers, 'retry-after': String(d.resetSec) } });
    }
  }

  app.decorateRequest('clientIp', undefined);

  /**
   * What the fixed lists say about a client address, by its text: parsing and matching CIDR lists on every request
   * of a keep-alive client showed in profiles. Bounded; the lists are fixed for the life of the server.
   */
  const classified = new Map<string, { addr: ReturnType<typeof parseIp>; blocked: boolean; exempt: boolean; subject: string }>();
  function classify(ip: string) {
    let c = classified.get(ip);
    if (!c) {
      const addr = parseIp(ip);
      c = { addr, blocked: addr !== undefined && blocked.has(addr), exempt: addr !== undefined && exempt.has(addr), subject: addr ? clientSubject(addr) : ip };
      if (classified.size >= 10_000) classified.clear();
      classified.set(ip, c);
    }
    return c;
  }

  app.addHook('onRequest', async (req, reply) => {
    const ip = opts.clientIp(req);
    req.clientIp = ip;
    const { addr, blocked: isBlocked, exempt: isExempt, subject } = classify(ip);
    if (isBlocked) throw new AppError('BLOCKED');
    if (operator) {
      const until = lockouts.get(subject);
      if (until !== undefined && until > clock.now().getTime()) {
        const retry = String(Math.max(1, Math.ceil((until - clock.now().getTime()) / 1000)));
        throw new AppError('RATE_LIMITED', { detail: 'too many failed authentications on this listener', headers: { 'retry-after': retry } });
      }
    }
    const ban = addr && !operator ? await guarded(req, 'ban check', () => opts.bans.check(ip)) : undefined;
    if (ban) throw banError(ban);

    // The target as received, before request-target.ts normalised it: an encoding is part of what a probe looks like.
    const exploit = findExploitSignature({ method: req.method, url: req.originalUrl, headers: req.headers });
    if (exploit) {
      const note = `${exploit.kind} in ${exploit.header ? `header ${exploit.header}` : exploit.where}`;
      if (addr && !isExempt && !operator) await autoBan(req, subject, 'exploit', policy.exploitBanSec, note);
      else req.log.warn({ clientIp: ip, note }, 'exploit signature');
      throw new AppError('EXPLOIT_SIGNATURE');
    }

    if (routeGroup(req) === 'public' && !isExempt) {
      const { limit, windowSec, banSec } = policy.public;
      const d = await guarded(req, 'public limit', () => opts.limiter.hit(ipRateKey('public', subject), limit, windowSec * 1000));
      if (d && !d.allowed) {
        if (addr) await autoBan(req, subject, 'rate-limit', banSec, `more than ${limit} requests in ${windowSec} s`);
        const headers = { ...rateHeaders('public', limit, windowSec, { remaining: 0, resetSec: banSec }), 'retry-after': String(banSec) };
        throw new AppError('RATE_LIMITED', { detail: `more than ${limit} requests in ${windowSec} s`, headers });
      }
      if (d) void reply.headers(rateHeaders('public', limit, windowSec, d));
    }

    methodGuard(req);
  });

  // After every onRequest hook, so the authentication of the route's plugin has run and named the tenant.
  app.addHook('preParsing', async (req, reply) => {
    const tenantId = tenantOf(req);
    if (tenantId !== undefined && routeGroup(req) !== 'exempt') await chargeTenant(req, reply, tenantId);
  });

  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode !== 401 || req.clientIp === undefined) return;
    try {
      await recordAuthFailure(req.clientIp);
    } catch (err) {
      req.log.error({ err }, 'counting a failed authentication failed');
    }
  });

  const control: AbuseControl = { policy, recordAuthFailure, chargeTenant };
  // For refusals that never become a request (a client certificate refused in the TLS handshake, mtls-auth.ts).
  app.decorate('abuseControl', control);
  return control;
}
