// Builds one Fastify instance per listener; never listens itself (main.ts does), so tests use inject().
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { AppServices } from './app-services.ts';
import { registerProblemDetails, sendProblem, translateFrameworkError } from './problem-details.ts';
import { MAX_SEGMENT_LENGTH, requestTargetProblem, rewriteRequestTarget } from './request-target.ts';
import { AppError } from '../../shared/errors.ts';
import { registerJsonBody } from './json-body.ts';
import { registerIpAllowlist } from './ip-allowlist.ts';
import { registerAbuseControl } from '../../modules/abuse/http/abuse-control.ts';
import { mtlsAuth, registerMtlsGate, type MtlsPolicy } from '../../modules/tenants/http/mtls-auth.ts';
import { apiKeyAuth } from '../../modules/tenants/http/api-key-auth.ts';
import { registerAuthFailureAudit } from '../../modules/audit/http/auth-failure.ts';
import { answerBelowFastify, clientErrorHandler } from './client-error.ts';
import { issueRoutes, queryRoutes } from '../../modules/invoicing/http/invoice-routes.ts';
import { publicRoutes } from '../../modules/verification/http/public-routes.ts';
import { verifyPageRoutes } from '../../modules/verification/http/verify-page-routes.ts';
import { adminRoutes } from '../../modules/tenants/http/admin-routes.ts';
import { adminKeyRoutes } from '../../modules/keys/http/admin-key-routes.ts';
import { healthRoutes, metricsRoutes } from './ops-routes.ts';
import { redirectRoutes } from './redirect-routes.ts';
import { pushRoutes } from '../../modules/events/http/push-routes.ts';
import { TLS_CIPHERS } from './tls-policy.ts';
import type { RouteGroup } from '../../config/config.ts';

export type { RouteGroup };

export interface TlsMaterial {
  key: string | Buffer;
  cert: string | Buffer;
}

export interface BuildServerOptions {
  name: string;
  services: AppServices;
  logger: Logger;
  groups: readonly RouteGroup[];
  https?: TlsMaterial;
  bodyLimit?: number;
  /** Slow clients and oversized headers (config `http`); defaults as there. */
  limits?: { headersTimeoutMs: number; requestTimeoutMs: number; maxHeaderSize: number };
  /** Source addresses allowed (CIDR or address); empty or absent = anyone. */
  allow?: readonly string[];
  /** For the `admin` group. */
  adminToken?: string;
  /** For the `docs` group: the OpenAPI document to serve (built once from every route group). */
  openapi?: Record<string, unknown>;
  /** For the `redirect` group: where browsers are sent. */
  httpsOrigin?: () => string;
  /** Registers @fastify/swagger in dynamic mode so `app.swagger()` describes this instance's routes. */
  describe?: boolean;
  /**
   * An operator listener (admin, metrics): no rate budget and no public bans, failed tokens locking the address out
   * of this listener alone (abuse-control.ts, `operator`). Blocks and exploit signatures still apply.
   */
  operator?: boolean;
  /** For the `push` group (default: a heartbeat every 15 s, 1 MiB waiting per client). */
  push?: { heartbeatSec: number; maxBufferedBytes: number };
  /** Mutual TLS: client certificates chaining to `ca` identify the tenant instead of API keys. */
  mtls?: { ca: Buffer; crl?: Buffer; policy: MtlsPolicy };
}

// The cipher list lives in tls-policy.ts (the doctor reads it without this module); importers of it here keep working.
export { TLS_CIPHERS };

export const OPENAPI_INFO = {
  title: 'Fapiao API',
  version: '1.0.0',
  description:
    'Electronic invoices (数电票): issue, query, verify. Amounts are decimal strings; errors are RFC 9457 ' +
    'problem+json with a stable `code` (see docs/errors.md). Route groups: issue and query (API key), public ' +
    '(no key), admin (admin token, admin listener), push (API key, push listener: the live event stream).',
};

const OPENAPI_BASE = {
  openapi: '3.1.0',
  info: OPENAPI_INFO,
  components: {
    securitySchemes: {
      apiKey: { type: 'http', scheme: 'bearer', description: 'Tenant API key from `fapiao tenant create`' },
      adminToken: { type: 'http', scheme: 'bearer', description: 'Admin token (`FAPIAO_ADMIN_TOKEN` or data/admin-token)' },
    },
  },
} as const;

export async function buildServer(opts: BuildServerOptions): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = opts.logger.child({ listener: opts.name });
  const limits = opts.limits ?? { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxHeaderSize: 16 * 1024 };
  // Node checks the two timeouts only every connectionsCheckingInterval (30 s by default), which would let a
  // slowloris socket outlive its headers timeout by that much: check a few times per headers timeout instead.
  const serverLimits = {
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(limits.headersTimeoutMs / 4))),
    // Checked by an onRequest hook below, which answers problem+json (Node's own answer has an empty body).
    requireHostHeader: false,
  };
  const secureHeaders: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    ...(opts.https ? { 'strict-transport-security': 'max-age=63072000; includeSubDomains' } : {}),
  };
  const app = Fastify({
    loggerInstance: logger,
    // Normalised once, before routing and every classification (request-target.ts); `req.originalUrl` keeps the raw.
    rewriteUrl: rewriteRequestTarget,
    routerOptions: {
      // request-target.ts limits every segment to MAX_SEGMENT_LENGTH (414 URI_TOO_LONG, after abuse control). The
      // router must not refuse first: its refusal skips every hook. No parameter over the socket can be longer than
      // the request line, which maxHeaderSize bounds.
      maxParamLength: Math.max(limits.maxHeaderSize, 64 * 1024),
    },
    // Refusals by the router itself skip every hook; request-target.ts leaves it nothing to refuse, so this is the
    // fallback that still answers problem+json from the registry.
    frameworkErrors: (err, req, reply) => {
      const known = translateFrameworkError(err) ?? new AppError('INTERNAL', { detail: `see the server log for request ${req.id}` });
      req.log.warn({ err }, 'refused by the router');
      void reply.headers(secureHeaders);
      void sendProblem(reply, req, known);
    },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    requestIdHeader: false,
    connectionTimeout: 60_000,
    keepAliveTimeout: 65_000,
    requestTimeout: limits.requestTimeoutMs,
    http: serverLimits,
    clientErrorHandler,
    // Fastify's own 503 during shutdown is plain JSON; the onRequest hook below answers problem+json instead.
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false } },
    ...(opts.https
      ? {
          https: {
            ...serverLimits,
            key: opts.https.key, cert: opts.https.cert, minVersion: 'TLSv1.2' as const, ciphers: TLS_CIPHERS, honorCipherOrder: true,
            ...(opts.mtls ? { requestCert: true, rejectUnauthorized: true, ca: opts.mtls.ca, ...(opts.mtls.crl ? { crl: opts.mtls.crl } : {}) } : {}),
          },
        }
      : {}),
  });

  registerProblemDetails(app);
  answerBelowFastify(app.server);
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Node's own check answers it with an empty body, so it
  // is off (serverLimits) and made here, as problem+json like every other refusal.
  app.addHook('onRequest', async (req) => {
    if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
      throw new AppError('VALIDATION_FAILED', { field: 'headers:/host', detail: 'HTTP/1.1 requires a Host header' });
    }
  });
  // Requests still arriving while the listener drains (pipelined on a keep-alive connection that was busy when the
  // shutdown began) are turned away before any work, and their connection ends with the answer.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onRequest', async () => {
    if (draining) throw new AppError('SERVICE_UNAVAILABLE', { detail: 'the server is shutting down', headers: { connection: 'close' } });
  });
  // JSON only: a text/plain body is refused with 415 instead of reaching validation as a string.
  registerJsonBody(app);

  app.addHook('onSend', async (_req, reply) => {
    void reply.headers(secureHeaders);
  });
  if (opts.allow) registerIpAllowlist(app, opts.allow);
  registerAuthFailureAudit(app, opts.name, opts.services.authFailures);
  if (opts.mtls) registerMtlsGate(app, opts.mtls.policy);
  const authenticate = opts.mtls ? mtlsAuth(opts.services.tenants, opts.mtls.policy) : apiKeyAuth(opts.services.tenants);
  // Before any route is registered: the method guard learns each path's methods from the onRoute hook.
  if (!opts.describe) {
    const { limiter, clientIp, policy } = opts.services.abuse;
    registerAbuseControl(app, {
      bans: opts.services.bans, limiter, clientIp, policy,
      operator: opts.operator === true,
    });
  }
  // After abuse control, which has seen the raw target, counted it and checked its signatures.
  app.addHook('onRequest', async (req) => {
    const problem = requestTargetProblem(req);
    if (problem) throw new AppError(problem, { detail: problem === 'URL_INVALID' ? 'the request target is not a valid URL path' : `a path segment is longer than ${MAX_SEGMENT_LENGTH} characters` });
  });
  const { requests, duration } = opts.services.metrics;
  // prom-client hashes the label object on every inc/observe; the label sets are few (routes × methods × statuses),
  // so their children are looked up once and kept.
  const requestCounters = new Map<string, { inc(): void }>();
  const durationHistograms = new Map<string, { observe(v: number): void }>();
  // Access log: refusals at info, successes at debug (a log line per request costs ~10% of throughput).
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const key = `${route}\u0000${req.method}\u0000${reply.statusCode}`;
    let counter = requestCounters.get(key);
    if (!counter) {
      counter = requests.labels({ listener: opts.name, route, method: req.method, status: reply.statusCode });
      requestCounters.set(key, counter);
    }
    counter.inc();
    let histogram = durationHistograms.get(route);
    if (!histogram) {
      histogram = duration.labels({ listener: opts.name, route });
      durationHistograms.set(route, histogram);
    }
    histogram.observe(reply.elapsedTime / 1000);
    const level = reply.statusCode >= 400 ? 'info' : 'debug';
    req.log[level](
      { method: req.method, path: route, status: reply.statusCode, ms: Math.round(reply.elapsedTime), tenant: req.auth?.tenant.id },
      'request',
    );
  });

  if (opts.describe) {
    await app.register(swagger, { openapi: OPENAPI_BASE });
  } else if (opts.groups.includes('docs') && opts.openapi) {
    await app.register(swagger, { mode: 'static', specification: { document: opts.openapi as never } });
  }
  if (opts.groups.includes('docs')) await app.register(swaggerUi, { routePrefix: '/docs' });
  const g = (group: RouteGroup) => opts.groups.includes(group);
  if (g('public')) {
    await app.register(publicRoutes(opts.services));
    await app.register(verifyPageRoutes(opts.services));
  }
  if (g('issue')) await app.register(issueRoutes(opts.services, authenticate));
  if (g('query')) await app.register(queryRoutes(opts.services, authenticate));
  if (g('admin')) {
    if (!opts.adminToken) throw new Error(`listener ${opts.name}: the admin route group needs an admin token`);
    await app.register(adminRoutes(opts.services, opts.adminToken));
    await app.register(adminKeyRoutes(opts.services, opts.adminToken));
  }
  if (g('health')) await app.register(healthRoutes(opts.services));
  if (g('metrics')) await app.register(metricsRoutes(opts.services));
  if (g('redirect')) {
    if (!opts.httpsOrigin) throw new Error(`listener ${opts.name}: the redirect route group needs an https origin`);
    await app.register(redirectRoutes(opts.httpsOrigin));
  }
  if (g('push')) {
    await app.register(pushRoutes(opts.services, { heartbeatSec: 15, maxBufferedBytes: 1024 * 1024, ...opts.push, secure: opts.https !== undefined }, authenticate));
  }
  return app;
}
