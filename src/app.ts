// The composition root: the only module that wires storage, crypto, services, listeners and jobs together (its light
// half for the command line, storage and the administrative services, is admin-context.ts).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { enabledListeners, type Config, type MtlsConfig } from './config/config.ts';
import { createStorage } from './platform/storage/create-storage.ts';
import type { Storage } from './platform/storage/storage.ts';
import { loadOrCreateMasterKey, masterKeyRing } from './platform/crypto/key-store.ts';
import { DataKeyService } from './modules/keys/app/data-key-service.ts';
import { ReencryptJob } from './modules/keys/app/reencrypt-job.ts';
import { protectionOptions } from './admin-context.ts';
import { createSignerPool } from './platform/crypto/signer-pool.ts';
import { KeyService } from './modules/keys/app/key-service.ts';
import { TenantService } from './modules/tenants/app/tenant-service.ts';
import { AuditService } from './modules/audit/app/audit-service.ts';
import { AuthFailureAudit } from './modules/audit/app/auth-failure-audit.ts';
import { InvoiceService } from './modules/invoicing/app/invoice-service.ts';
import { VerifyService } from './modules/verification/app/verify-service.ts';
import { IssueWriter } from './modules/invoicing/app/issue-writer.ts';
import { EventStreamService } from './modules/events/app/event-stream.ts';
import { systemClock, type Clock } from './shared/clock.ts';
import type { AppServices } from './platform/http/app-services.ts';
import { buildServer } from './platform/http/build-server.ts';
import { createMetrics } from './platform/http/metrics.ts';
import { Redis } from 'ioredis';
import { FallbackRateLimiter, MemoryRateLimiter } from './modules/abuse/app/rate-limiter.ts';
import { BanService, FallbackBanStore, MemoryBanStore, type Ban } from './modules/abuse/app/ban-service.ts';
import { RedisBanStore, RedisHealth, RedisRateLimiter } from './modules/abuse/storage/redis-abuse-store.ts';
import { createClientIpResolver } from './modules/abuse/http/client-ip.ts';
import { abuseCounterKeys } from './modules/abuse/http/abuse-control.ts';
import { devTlsPaths, readTls } from './ops/setup.ts';

export interface App {
  config: Readonly<Config>;
  storage: Storage;
  services: AppServices;
  logger: Logger;
  /** Builds the Fastify instances of the enabled listeners (not listening). */
  buildListeners(): Promise<Map<string, FastifyInstance>>;
  /** The OpenAPI description of every route group (served by the docs group, committed as docs/openapi.json). */
  openApiDocument(): Promise<Record<string, unknown>>;
  /** Once the api listener is up on a port chosen at run time, QR links point at it (unless publicBaseUrl is set). */
  setListeningOrigin(url: string): void;
  close(): Promise<void>;
}

export function createLogger(level: Config['logLevel']): Logger {
  return pino({
    level,
    base: { service: 'fapiao' },
    redact: { paths: ['req.headers.authorization', '*.apiKey', '*.secret', '*.privateKey', '*.masterKey', '*.token'], censor: '[redacted]' },
  });
}

function readMtls(config: Readonly<Config>, m: MtlsConfig) {
  return {
    ca: readFileSync(m.clientCa ?? devTlsPaths(config.dataDir).caCert),
    ...(m.crl ? { crl: readFileSync(m.crl) } : {}),
    policy: { clients: m.clients, revokedFingerprints: m.revokedFingerprints, tenantFromSubject: m.tenantFromSubject },
  };
}

function readAdminToken(dataDir: string): string | undefined {
  const path = join(dataDir, 'admin-token');
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}

/** Builds (without listening) one instance holding every API route group and asks @fastify/swagger for its document. */
async function buildOpenApiDocument(services: AppServices, logger: Logger): Promise<Record<string, unknown>> {
  const describe = await buildServer({
    name: 'openapi', services, logger, groups: ['issue', 'query', 'public', 'admin', 'push'], adminToken: 'unused', describe: true,
  });
  await describe.ready();
  const doc = describe.swagger() as unknown as Record<string, unknown>;
  await describe.close();
  return doc;
}

export interface CreateAppOptions {
  logger?: Logger;
  clock?: Clock;
  /** Batching of failed-authentication audit entries (modules/audit/app/audit-appender.ts); the defaults suit production. */
  authFailureBatch?: { flushMs?: number; maxBatch?: number; capacity?: number };
  /** The background re-encryption job (modules/keys/app/reencrypt-job.ts); the defaults suit production. */
  reencrypt?: { batchSize?: number; idleMs?: number; retireGraceMs?: number };
}

/** How long startup waits for Redis before it starts with in-process abuse-control stores (and warns). */
const REDIS_STARTUP_WAIT_MS = 3000;

/** Resolves true once ioredis is connected, false after `ms` (it keeps reconnecting in the background). */
function connected(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, ms);
    function onReady() {
      clearTimeout(timer);
      resolve(true);
    }
    redis.once('ready', onReady);
  });
}

export async function createApp(config: Readonly<Config>, opts: CreateAppOptions = {}): Promise<App> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const masterKey = loadOrCreateMasterKey(config.dataDir, config.masterKey);
  const storage = createStorage(config.databaseUrl, {
    masterKey, protection: protectionOptions(config, masterKey),
    // Once per outage; the refused requests are answered 503 STORAGE_UNAVAILABLE without repeating the cause.
    health: {
      onDown: (err) => logger.error({ err }, 'storage refuses writes; answering 503 STORAGE_UNAVAILABLE and not ready until a write succeeds'),
      onUp: () => logger.info('storage accepts writes again; ready'),
    },
  });
  await storage.migrate();

  const audit = new AuditService({ audit: storage.audit, clock, retentionDays: config.audit.retentionDays });
  // Several nodes share limits and bans through Redis; alone, in-process stores do. Redis is never the only copy of
  // anything acknowledged: a ban lost with it is re-earned by the next abuse. During an outage the in-process stores
  // answer (FallbackRateLimiter, FallbackBanStore), so 查验 and the public limits keep working and keep limiting.
  const redis = config.redisUrl ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 250, lazyConnect: false }) : undefined;
  const redisHealth = redis
    ? new RedisHealth({
      redis,
      onDown: (err) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis unreachable; abuse-control limits and bans are kept in process until it is back'),
      onUp: () => logger.info('redis reachable again; abuse-control limits and bans are shared again'),
      onFallback: (store) => metrics.abuseStoreFallback.inc({ store }),
    })
    : undefined;
  if (redis && !(await connected(redis, REDIS_STARTUP_WAIT_MS))) redisHealth!.failed(new Error(`no connection within ${REDIS_STARTUP_WAIT_MS} ms of startup`));
  // Read at scrape time, when `events` (declared below) exists.
  const metrics = createMetrics({
    openStreams: () => events.count(),
    ...(redisHealth ? { redisUp: () => redisHealth.isUp } : {}),
    storageWritable: () => storage.health.writable,
  });
  const authFailures = new AuthFailureAudit({
    ...opts.authFailureBatch,
    append: (entries) => storage.audit.append(entries),
    apiKeys: storage.apiKeys, clock,
    onDrop: (n) => metrics.auditDropped.inc(n),
    onError: (err, lost) => logger.error({ err, lost }, 'writing audit entries of failed authentications failed'),
  });
  const limiter = redis
    ? new FallbackRateLimiter(new RedisRateLimiter({ redis, clock }), new MemoryRateLimiter({ clock }), redisHealth!)
    : new MemoryRateLimiter({ clock });
  const auditBan = (action: string) => async (ban: Ban, actor: string) => {
    await audit.record({ actor, action, target: ban.target, outcome: 'success', details: { reason: ban.reason, until: ban.until ?? null } });
  };
  const bans = new BanService({
    store: redis ? new FallbackBanStore(new RedisBanStore({ redis, clock }), new MemoryBanStore({ clock }), redisHealth!) : new MemoryBanStore({ clock }),
    clock,
    onBan: auditBan('ban.add'),
    // A lifted ban forgets the counters that earned it, or the address's next request would earn it again.
    onLift: async (ban, actor) => {
      await auditBan('ban.lift')(ban, actor);
      const reset = await Promise.allSettled(abuseCounterKeys(ban.target).map((k) => limiter.reset(k)));
      for (const r of reset) if (r.status === 'rejected') logger.warn({ err: r.reason, target: ban.target }, 'forgetting the counters of a lifted ban failed');
    },
  });
  const keys = new KeyService(storage.signingKeys, masterKey, {
    version: config.masterKeyVersion, keys: masterKeyRing(masterKey, config.masterKeyVersion, config.previousMasterKeys),
  });
  const active = await keys.activeKeyPair();
  const pool = createSignerPool({ size: config.issuing.signerThreads, privateKeyHex: active.privateKey, publicKeyHex: active.publicKey });
  const signer = { keyId: active.keyId, publicKey: active.publicKey, sign: (m: Uint8Array[]) => pool.sign(m) };

  const api = config.listeners.api;
  // The development certificate names localhost (setup.ts); the api listener's default host is loopback.
  let origin = config.publicBaseUrl ?? `https://${['0.0.0.0', '::', '127.0.0.1'].includes(api.host) ? 'localhost' : api.host}:${api.port}`;
  const events = new EventStreamService({
    outbox: storage.outbox, log: logger.child({ component: 'event-stream' }),
    pollIntervalMs: config.events.pollIntervalMs, gapTimeoutMs: config.events.gapTimeoutMs,
    maxStreamsPerTenant: config.events.maxStreamsPerTenant, maxStreams: config.events.maxStreams,
  });
  const writer = new IssueWriter({
    invoices: storage.invoices, quotas: storage.tenants, signer, clock, verifyUrl: () => `${origin}/verify`, batchMax: config.issuing.batchMax,
    onCommitted: () => events.nudge(),
  });
  const reencrypt = storage.dataKeys
    ? new ReencryptJob({ work: storage.dataKeys, log: logger.child({ component: 'reencrypt-job' }), ...opts.reencrypt })
    : undefined;
  const services: AppServices = {
    dataKeys: new DataKeyService({
      dataKeys: storage.dataKeys, tenants: storage.tenants, defaultAlgorithm: config.fields.algorithm, onRotated: () => reencrypt?.wake(),
    }),
    keys,
    tenants: new TenantService({
      tenants: storage.tenants, apiKeys: storage.apiKeys, clock,
      defaultChannel: config.issuing.defaultChannel, taxIdExceptions: config.issuing.taxIdExceptions,
      onTenantChanged: (id) => writer.forgetTenant(id),
    }),
    invoices: new InvoiceService({
      invoices: storage.invoices, idempotency: storage.idempotency, writer,
      taxIdExceptions: config.issuing.taxIdExceptions, maxPageSize: config.http.maxPageSize,
      allowBuyerIsSeller: config.issuing.allowBuyerIsSeller,
    }),
    // The abuse-control counters: with FAPIAO_REDIS_URL every node counts against the same 查验 budgets.
    verify: new VerifyService(storage.invoices, keys, { limiter, limits: config.verify, clock }),
    ready: () => storage.ready(),
    metrics,
    audit,
    authFailures,
    bans,
    abuse: { limiter, clientIp: createClientIpResolver({ trustedProxies: config.http.trustedProxies }), policy: config.abuse },
    events,
  };
  const adminToken = config.adminToken ?? readAdminToken(config.dataDir);
  reencrypt?.start();

  return {
    config,
    storage,
    services,
    logger,
    async buildListeners() {
      const openapi = await buildOpenApiDocument(services, logger);
      const servers = new Map<string, FastifyInstance>();
      for (const l of enabledListeners(config)) {
        servers.set(l.name, await buildServer({
          name: l.name, services, logger, groups: l.groups, allow: l.allow, bodyLimit: config.http.bodyLimit, limits: config.http, openapi,
          // Admin and metrics sit behind their allowlist and token: no rate budget and no public bans there (a
          // banned loopback address could not lift its own ban otherwise), but failed tokens still count.
          operator: l.groups.every((g) => g === 'admin' || g === 'docs' || g === 'metrics' || g === 'health'),
          ...(l.tls ? { https: readTls(config, l) } : {}),
          ...(l.tls && l.mtls ? { mtls: readMtls(config, l.mtls) } : {}),
          ...(adminToken ? { adminToken } : {}),
          push: config.events,
          httpsOrigin: () => origin,
        }));
      }
      return servers;
    },
    openApiDocument: () => buildOpenApiDocument(services, logger),
    setListeningOrigin(url: string) {
      if (!config.publicBaseUrl) origin = url.replace('://127.0.0.1:', '://localhost:');
    },
    async close() {
      services.events.close();
      await pool.close();
      // After the listeners closed, before storage: the last refused requests still reach the audit log.
      await authFailures.close();
      await reencrypt?.stop();
      await storage.close();
      redis?.disconnect();
    },
  };
}
