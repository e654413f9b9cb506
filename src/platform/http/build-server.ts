// Builds one Fastify instance for a listener; never listens itself (main.ts does), so tests use inject(). Generic: the
// perimeter hooks and the route plugins of the listener's route groups are handed in by the composition root
// (src/listeners.ts), so this file knows no module.
import { X509Certificate } from 'node:crypto';
import { requestIdOf } from './request-id.ts';
import type { EventLoopPressure } from './event-loop-pressure.ts';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import { registerProblemDetails, sendProblem, SHED_REQUESTS, translateFrameworkError } from './problem-details.ts';
import { MAX_SEGMENT_LENGTH, requestTargetProblem, rewriteRequestTarget } from './request-target.ts';
import { AppError } from '../../shared/errors.ts';
import { registerJsonBody } from './json-body.ts';
import { registerIpAllowlist } from './ip-allowlist.ts';
import { answerBelowFastify, clientErrorHandler } from './client-error.ts';
import type { Metrics } from './metrics.ts';
import { TLS_CIPHERS } from './tls-policy.ts';
import { AJV_OPTIONS } from './schema-check.ts';
import { SHARED_SCHEMA_CONTROLLER, shareCompiledValidators } from './schema-compilers.ts';
import type { Leaving } from './leaving.ts';
import { lazyChildLogger } from './lazy-child-logger.ts';

export interface TlsMaterial {
  key: string | Buffer;
  cert: string | Buffer;
}

export interface BuildServerOptions {
  name: string;
  logger: Logger;
  /** Request count and duration, by listener and route. */
  metrics: Pick<Metrics, 'requests' | 'duration'> & Partial<Pick<Metrics, 'tlsHandshakeFailures' | 'certificateExpiry'>>;
  https?: TlsMaterial;
  bodyLimit?: number;
  /** Slow clients and oversized headers (config `http`); defaults as there. */
  limits?: { headersTimeoutMs: number; requestTimeoutMs: number; maxHeaderSize: number };
  /** Source addresses allowed (CIDR or address); empty or absent = anyone. */
  allow?: readonly string[];
  /** The `docs` group: serve this OpenAPI document (built once from every route group) with Swagger UI at /docs. */
  docs?: Record<string, unknown>;
  /** Registers @fastify/swagger in dynamic mode so `app.swagger()` describes this instance's routes. */
  describe?: boolean;
  /** Mutual TLS: the handshake requires a client certificate chaining to `ca` (who it names is the perimeter's). */
  mtls?: { ca: Buffer; crl?: Buffer };
  /**
   * Hooks of the perimeter (authentication audit, the mutual-TLS gate, abuse control), registered in order before any
   * route: abuse control's method guard learns each path's methods from the onRoute hook.
   */
  perimeter?: readonly ((app: FastifyInstance) => void)[];
  /** The route plugins of the listener's route groups, registered in order. */
  routes: readonly FastifyPluginAsync[];
  /** Load shedding on event-loop lag (event-loop-pressure.ts); absent on the operator listeners, never shed. */
  pressure?: EventLoopPressure;
  /** Set when the node is about to shut down: every answer then closes its connection (leaving.ts). */
  leaving?: Leaving;
}

/** The probes of the load balancer and orchestrator: answered however loaded the process is. */
const NEVER_SHED = new Set(['/healthz', '/readyz']);

/** The notAfter of the first certificate of a PEM chain, in Unix seconds; undefined when it does not parse. */
export function certificateNotAfter(pem: string | Buffer): number | undefined {
  try {
    return Math.floor(Date.parse(new X509Certificate(pem).validTo) / 1000);
  } catch {
    return undefined;
  }
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

/** Compilers for an instance that is only described: every validator accepts, every serializer is JSON.stringify. */
const DESCRIBE_ONLY = {
  compilersFactory: { buildValidator: () => () => () => true, buildSerializer: () => () => JSON.stringify },
} as unknown as NonNullable<FastifyServerOptions['schemaController']>;

export async function buildServer(opts: BuildServerOptions): Promise<FastifyInstance> {
  const listenerLogger = opts.logger.child({ listener: opts.name });
  const logger: FastifyBaseLogger = listenerLogger;
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
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'http.request.id' }),
    // A request's logger is made when it first writes a line (lazy-child-logger.ts), not for every request.
    childLoggerFactory: lazyChildLogger,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // A caller's X-Request-Id (a plain charset, at most 128 characters, never one of our secrets: request-id.ts) names
    // the request in our logs, problems, audit entries and the tenant's events, so one request is followed through a
    // proxy and the ERP; anything else gets an id of our own.
    requestIdHeader: false,
    genReqId: (raw) => requestIdOf(raw.headers['x-request-id']),
    connectionTimeout: 60_000,
    keepAliveTimeout: 65_000,
    requestTimeout: limits.requestTimeoutMs,
    http: serverLimits,
    clientErrorHandler,
    // Fastify's own 503 during shutdown is plain JSON; the onRequest hook below answers problem+json instead.
    return503OnClosing: false,
    // Each distinct schema is compiled once per process, whichever listener registers it first (schema-compilers.ts).
    ajv: { customOptions: { ...AJV_OPTIONS }, onCreate: shareCompiledValidators(AJV_OPTIONS) },
    // An instance built only to describe its routes (the OpenAPI document) never serves a request: its schemas are
    // read by @fastify/swagger, not compiled (compiling every validator and serializer of every route group a second
    // time was a quarter of a server's start-up).
    schemaController: opts.describe ? DESCRIBE_ONLY : SHARED_SCHEMA_CONTROLLER,
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
  if (opts.https) {
    const { tlsHandshakeFailures, certificateExpiry } = opts.metrics;
    if (tlsHandshakeFailures) {
      const failures = tlsHandshakeFailures.labels({ listener: opts.name });
      app.server.on('tlsClientError', () => failures.inc());
    }
    const notAfter = certificateNotAfter(opts.https.cert);
    if (certificateExpiry && notAfter !== undefined) certificateExpiry.set({ listener: opts.name }, notAfter);
  }
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Node's own check answers it with an empty body, so it
  // is off (serverLimits) and made here, as problem+json like every other refusal.
  // Requests still arriving while the listener drains (pipelined on a keep-alive connection that was busy when the
  // shutdown began) are turned away before any work, and their connection ends with the answer.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onRequest', async (req) => {
    if (req.raw.httpVersion === '1.1' && req.headers.host === undefined) {
      throw new AppError('VALIDATION_FAILED', { field: 'headers:/host', detail: 'HTTP/1.1 requires a Host header' });
    }
    if (draining) throw new AppError('SERVICE_UNAVAILABLE', { detail: 'the server is shutting down', headers: { connection: 'close' } });
  });
  const pressure = opts.pressure?.enabled ? opts.pressure : undefined;
  if (pressure) {
    app.addHook('onListen', async () => pressure.restartWindow());
    // Before any work of the perimeter or the route: a shed request costs a parsed request line and this answer.
    app.addHook('onRequest', async (req) => {
      if (!pressure.overloaded || NEVER_SHED.has(req.url.split('?', 1)[0]!) || !pressure.shouldShed()) return;
      pressure.shed();
      throw new AppError('SERVICE_UNAVAILABLE', {
        detail: `the server is overloaded (event-loop lag ${Math.round(pressure.lagMs)} ms); retry shortly`,
        headers: { 'retry-after': String(pressure.retryAfterSec) }, shed: true,
      });
    });
  }
  // JSON only: a text/plain body is refused with 415 instead of reaching validation as a string.
  registerJsonBody(app);

  const leaving = opts.leaving;
  app.addHook('onSend', async (req, reply) => {
    void reply.headers(secureHeaders);
    if (leaving?.leaving) void reply.header('connection', 'close');
    void reply.header('x-request-id', req.id);
  });
  if (opts.allow) registerIpAllowlist(app, opts.allow);
  for (const register of opts.perimeter ?? []) register(app);
  // After abuse control, which has seen the raw target, counted it and checked its signatures.
  app.addHook('onRequest', async (req) => {
    const problem = requestTargetProblem(req);
    if (problem) throw new AppError(problem, { detail: problem === 'URL_INVALID' ? 'the request target is not a valid URL path' : `a path segment is longer than ${MAX_SEGMENT_LENGTH} characters` });
  });
  const { requests, duration } = opts.metrics;
  // prom-client hashes the label object on every inc/observe; the label sets are few (routes × methods × statuses),
  // so their children are looked up once and kept.
  const requestCounters = new Map<string, { inc(): void }>();
  const durationHistograms = new Map<string, { observe(v: number): void }>();
  // Access log: refusals at info, successes at debug (a log line per request costs ~10% of throughput); requests shed
  // for overload are counted and reported in aggregate instead (shed-report.ts).
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
    if (!listenerLogger.isLevelEnabled(level) || SHED_REQUESTS.has(req)) return;
    // ECS names (container.ts createLogger). The path, never the query: a search may name a buyer.
    req.log[level]({
      'trace.id': req.id,
      'http.request.method': req.method,
      'url.path': req.url.split('?')[0],
      'http.route': route,
      'http.response.status_code': reply.statusCode,
      'event.duration': Math.round(reply.elapsedTime * 1e6),
      'client.ip': req.ip,
      ...(req.auth ? { 'organization.id': req.auth.tenant.id } : {}),
    }, 'request');
  });

  if (opts.describe) {
    await app.register(swagger, { openapi: OPENAPI_BASE });
  } else if (opts.docs) {
    await app.register(swagger, { mode: 'static', specification: { document: opts.docs as never } });
  }
  if (opts.docs) await app.register(swaggerUi, { routePrefix: '/docs' });
  for (const routes of opts.routes) await app.register(routes);
  return app;
}
