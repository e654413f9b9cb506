// The server half of the container (container.ts, role `server`): Redis-shared abuse control, metrics, the signer
// threads, the issue writer, the live event stream, background jobs, the services the listeners serve, and the
// listeners themselves (listeners.ts). Everything that runs is registered with the lifecycle, so shutdown stops it in
// reverse order: the event stream, the signer threads, the jobs, the audit of failed authentications, Redis, storage.
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis, RedisOptions } from 'ioredis';
import { createSignerPool } from './platform/crypto/signer-pool.ts';
import type { IntlAlgorithm } from './platform/crypto/intl-signing.ts';
import type { BatchSigner } from './shared/clock.ts';
import type { SigningAlgorithm } from './shared/signing.ts';
import { createMetrics, type Metrics } from './platform/http/metrics.ts';
import { EventLoopPressure } from './platform/http/event-loop-pressure.ts';
import { ShedReport } from './platform/http/shed-report.ts';
import { FallbackRateLimiter, MemoryRateLimiter, type RateLimiter } from './modules/abuse/app/rate-limiter.ts';
import { BanService, FallbackBanStore, MemoryBanStore, type Ban } from './modules/abuse/app/ban-service.ts';
import { RedisBanStore, RedisHealth, RedisRateLimiter } from './modules/abuse/storage/redis-abuse-store.ts';
import { createClientIpResolver, type ClientIpResolver } from './modules/abuse/http/client-ip.ts';
import { abuseCounterKeys, type AbusePolicy } from './modules/abuse/http/abuse-control.ts';
import { AuthFailureAudit } from './modules/audit/app/auth-failure-audit.ts';
import { EventStreamService } from './modules/events/app/event-stream.ts';
import { InvoiceService } from './modules/invoicing/app/invoice-service.ts';
import { IssueWriter } from './modules/invoicing/app/issue-writer.ts';
import { ReencryptJob } from './modules/keys/app/reencrypt-job.ts';
import { VerifyService } from './modules/verification/app/verify-service.ts';
import { RedLetterExpiryJob } from './modules/red-letter/app/expiry-job.ts';
import type { Config } from './config/config.ts';
import { Integrator, type WitnessPolicy } from './modules/ledger/app/integrator.ts';
import { verifierFromKey } from './modules/ledger/index.ts';
import { LedgerService } from './modules/ledger/app/ledger-service.ts';
import type { OfdSigner } from './modules/documents/index.ts';
import { ledgerOrigin, type AdminServices, type Container } from './container.ts';
import { ledgerProofOf } from './modules/invoicing/http/render-invoice.ts';
import { masterKeySealer } from './modules/delivery/app/secret-sealer.ts';
import { WebhookDispatcher } from './modules/delivery/app/webhook-dispatcher.ts';
import { sendWebhook, urlProblem, type SendOptions } from './modules/delivery/app/webhook-sender.ts';
import { WebhookService } from './modules/delivery/app/webhook-service.ts';
import { ReconciliationJob } from './modules/reconciliation/app/reconciliation-job.ts';
import { CidrSet } from './shared/cidr.ts';
import { BatchIssueJob } from './modules/batches/app/batch-job.ts';
import { BatchService } from './modules/batches/app/batch-service.ts';
import { compileBodyCheck } from './platform/http/schema-check.ts';
import { IssueInvoiceSchema } from './modules/invoicing/http/invoice-schemas.ts';
import { autoSendRows, EmailDispatcher } from './modules/delivery/app/email-dispatcher.ts';
import { EMAIL_DELIVERIES_TABLE } from './modules/delivery/storage/email-delivery-repository.ts';
import { OUTBOX_TABLE } from './modules/events/storage/outbox-repository.ts';
import { EmailService } from './modules/delivery/app/email-service.ts';
import { DocumentSettingsService } from './modules/documents/app/document-settings-service.ts';
import { RenderCache } from './modules/documents/app/render-cache.ts';
import { smtpMailer, type Mailer } from './modules/delivery/app/smtp-mailer.ts';
import type { Repositories } from './repositories.ts';
import { buildListeners, buildOpenApiDocument, type ListenerDeps } from './listeners.ts';
import { Leaving } from './platform/http/leaving.ts';
import { parseSentinelUrl } from './platform/redis/redis-url.ts';

/** The services the listeners serve (the administrative ones included). */
export interface AppServices extends AdminServices {
  invoices: InvoiceService;
  verify: VerifyService;
  /** Readiness: resolves when the database answers and accepts writes, and the node is not shutting down. */
  ready: () => Promise<void>;
  /** Begun on SIGTERM, `http.shutdownDelayMs` before the listeners close (platform/http/leaving.ts). */
  leaving: Leaving;
  metrics: Metrics;
  /** One batched audit entry per failed authentication, on every listener. */
  authFailures: AuthFailureAudit;
  bans: BanService;
  /** The live event stream's poller and subscribers (one per process, shared by every listener serving `push`). */
  events: EventStreamService;
  /** Shared by every listener so a ban or budget is one, whichever port is hit. */
  abuse: { limiter: RateLimiter; clientIp: ClientIpResolver; policy: AbusePolicy };
  /** Load shedding on event-loop lag, shared by the api, partner and push listeners (platform/http/event-loop-pressure.ts). */
  pressure: EventLoopPressure;
  /** The background re-encryption of personal data (absent without a master key). */
  reencrypt: ReencryptJob | undefined;
  writer: IssueWriter;
  /** Voids red-letter forms not confirmed within 72 hours (modules/red-letter/app/expiry-job.ts). */
  redLetterExpiry: RedLetterExpiryJob;
  /** The ledger's checkpoints, tiles and proofs (modules/ledger). */
  ledger: LedgerService;
  /** Signs OFD packages with the active signing key (GB/T 38540 signature; modules/documents/domain/to-ofd.ts). */
  ofdSigner: OfdSigner;
  /** The background integration of the ledger (one node at a time). */
  integrator: Integrator;
  /** Webhook subscriptions and their delivery log. */
  webhooks: WebhookService;
  /** The webhook dispatcher job of this node. */
  dispatcher: WebhookDispatcher<Repositories>;
  /** Runs queued reconciliations (modules/reconciliation/app/reconciliation-job.ts). */
  reconciliationJob: ReconciliationJob;
  /** Batch issuance (modules/batches/): accepting batches, and the job issuing their items on this node. */
  batches: BatchService;
  batchJob: BatchIssueJob;
  /** E-mail delivery of invoices (docs/email.md). */
  email: EmailService;
  documentSettings: DocumentSettingsService;
  /** Rendered documents per stored state (config documents.renderCacheMb). */
  renderCache: RenderCache;
  /** The e-mail dispatcher job of this node (idle without an SMTP host). */
  emailDispatcher: EmailDispatcher;
}

export interface ServerOptions {
  /** Batching of failed-authentication audit entries (modules/audit/app/audit-appender.ts); the defaults suit production. */
  authFailureBatch?: { flushMs?: number; maxBatch?: number; capacity?: number };
  /** The background re-encryption job (modules/keys/app/reencrypt-job.ts); the defaults suit production. */
  reencrypt?: { batchSize?: number; idleMs?: number; retireGraceMs?: number };
  /** The red-letter expiry job; the defaults (every second, 100 forms a batch) suit production. */
  redLetterExpiry?: { intervalMs?: number; batchSize?: number };
}

export interface ServerPart {
  services: AppServices;
  /** Builds the Fastify instances of the enabled listeners (not listening). */
  buildListeners(): Promise<Map<string, FastifyInstance>>;
  /** The OpenAPI description of every route group (served by the docs group, committed as docs/openapi.json). */
  openApiDocument(): Promise<Record<string, unknown>>;
  /** Once the api listener is up on a port chosen at run time, QR links point at it (unless publicBaseUrl is set). */
  setListeningOrigin(url: string): void;
}

/**
 * A client of one Redis server, or of the master that the Sentinels of a `redis-sentinel://` URL name. ioredis is
 * loaded only then: a node without Redis never loads it.
 */
async function redisClient(url: string, options: RedisOptions): Promise<Redis> {
  const sentinel = parseSentinelUrl(url);
  const { Redis } = await import('ioredis');
  return sentinel ? new Redis({ ...options, ...sentinel }) : new Redis(url, options);
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

function readAdminToken(dataDir: string): string | undefined {
  const path = join(dataDir, 'admin-token');
  return existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined;
}

export async function addServer(base: Container, opts: ServerOptions): Promise<ServerPart> {
  const { config, logger, clock, storage, uow, lifecycle, services: admin } = base;
  // Several nodes share limits and bans through Redis; alone, in-process stores do. Redis is never the only copy of
  // anything acknowledged: a ban lost with it is re-earned by the next abuse. During an outage the in-process stores
  // answer (FallbackRateLimiter, FallbackBanStore), so 查验 and the public limits keep working and keep limiting.
  const redis = config.redisUrl ? await redisClient(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 250, lazyConnect: false }) : undefined;
  if (redis) await lifecycle.add({ name: 'redis', stop: () => redis.disconnect() });
  // Read at scrape time, when `events` (declared below) exists.
  const metrics = createMetrics({
    openStreams: () => events.count(),
    ...(redis ? { redisUp: () => redisHealth!.isUp } : {}),
    storageWritable: () => storage.health.writable,
    issueQueue: () => writer.waiting,
    renderCache: () => ({ bytes: renderCache.size, hits: renderCache.hits, misses: renderCache.misses }),
    dataDirSpace: () => {
      try {
        const s = statfsSync(config.dataDir);
        return { free: s.bavail * s.bsize, size: s.blocks * s.bsize };
      } catch {
        return undefined;
      }
    },
    ...(storage.poolStats ? { dbPool: storage.poolStats } : {}),
    figures: {
      ledger: async () => {
        const [served, leaves] = await Promise.all([uow.read.ledger.servedCheckpoint(), uow.read.ledger.size()]);
        const age = served ? Math.max(0, (clock.now().getTime() - Date.parse(served.createdAt)) / 1000) : undefined;
        return { checkpointAgeSeconds: age, checkpointSize: served?.size ?? 0, leaves };
      },
      ...(storage.engine === 'postgres' ? { databaseStartedAt: () => storage.serverStartedAt() } : {}),
      outbox: async () => {
        const now = clock.now();
        const s = await uow.read.webhookDeliveries.dueStats(now.toISOString());
        return { due: s.due, oldestDueSeconds: s.oldest ? Math.max(0, (now.getTime() - Date.parse(s.oldest)) / 1000) : 0 };
      },
    },
  });
  const redisHealth = redis
    ? new RedisHealth({
      redis,
      onDown: (err) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis unreachable; abuse-control limits and bans are kept in process until it is back'),
      onUp: () => logger.info('redis reachable again; abuse-control limits and bans are shared again'),
      onFallback: (store) => metrics.abuseStoreFallback.inc({ store }),
    })
    : undefined;
  if (redis && !(await connected(redis, REDIS_STARTUP_WAIT_MS))) redisHealth!.failed(new Error(`no connection within ${REDIS_STARTUP_WAIT_MS} ms of startup`));

  const authFailures = new AuthFailureAudit({
    ...opts.authFailureBatch,
    append: (entries) => admin.audit.append(entries),
    apiKeys: uow.read.apiKeys, clock,
    onDrop: (n) => metrics.auditDropped.inc(n),
    onFailure: (f) => metrics.authFailures.inc({ listener: f.listener }),
    onError: (err, lost) => logger.error({ err, lost }, 'writing audit entries of failed authentications failed'),
  });
  // Stopped after the listeners (registered later) closed: the last refused requests still reach the audit log.
  await lifecycle.add({ name: 'auth-failure-audit', stop: () => authFailures.close() });
  const limiter = redis
    ? new FallbackRateLimiter(new RedisRateLimiter({ redis, clock }), new MemoryRateLimiter({ clock }), redisHealth!)
    : new MemoryRateLimiter({ clock });
  const auditBan = (action: string) => async (ban: Ban, actor: string) => {
    await admin.audit.record({ actor, action, target: ban.target, outcome: 'success', details: { reason: ban.reason, until: ban.until ?? null } });
  };
  const bans = new BanService({
    store: redis ? new FallbackBanStore(new RedisBanStore({ redis, clock }), new MemoryBanStore({ clock }), redisHealth!) : new MemoryBanStore({ clock }),
    clock,
    onBan: async (ban, actor) => {
      metrics.bans.inc({ reason: ban.reason });
      await auditBan('ban.add')(ban, actor);
    },
    // A lifted ban forgets the counters that earned it, or the address's next request would earn it again.
    onLift: async (ban, actor) => {
      await auditBan('ban.lift')(ban, actor);
      const reset = await Promise.allSettled(abuseCounterKeys(ban.target).map((k) => limiter.reset(k)));
      for (const r of reset) if (r.status === 'rejected') logger.warn({ err: r.reason, target: ban.target }, 'forgetting the counters of a lifted ban failed');
    },
  });

  const reencrypt = storage.fields
    ? new ReencryptJob({ work: admin.dataKeys, clock, log: logger.child({ component: 'reencrypt-job' }), ...opts.reencrypt })
    : undefined;
  if (reencrypt) await lifecycle.add({ name: 'reencrypt-job', start: () => reencrypt.start(), stop: () => reencrypt.stop() });

  // SM2 always (the OFD package signature is SM2 whatever the invoices' algorithm); the configured algorithm's key
  // at start; another algorithm's (a tenant's own) when a tenant first needs it.
  const active = await admin.keys.activeKeyPair();
  const intlKey = async (alg: IntlAlgorithm) => {
    const k = await admin.keys.activeKeyPair(alg);
    return { keyId: k.keyId, key: { alg, privateKeyHex: k.privateKey, publicKeyHex: k.publicKey } };
  };
  const initial = config.signing.algorithm === 'SM2' ? undefined : await intlKey(config.signing.algorithm);
  const pool = createSignerPool({
    size: config.issuing.signerThreads, privateKeyHex: active.privateKey, publicKeyHex: active.publicKey, baseMul: config.signing.sm2BaseMul,
    ...(initial ? { keys: [initial.key] } : {}),
  });
  await lifecycle.add({ name: 'signer-pool', stop: () => pool.close() });
  const keyIds = new Map<SigningAlgorithm, Promise<string>>([['SM2', Promise.resolve(active.keyId)]]);
  if (initial) keyIds.set(initial.key.alg, Promise.resolve(initial.keyId));
  const signer: BatchSigner = {
    keyId: active.keyId, publicKey: active.publicKey,
    sign: (m, alg) => pool.sign(m, alg ? { alg } : {}),
    keyIdFor(alg) {
      let id = keyIds.get(alg);
      if (!id) {
        id = intlKey(alg as IntlAlgorithm).then((k) => {
          pool.addKey(k.key);
          return k.keyId;
        });
        // A failure (the master key unavailable) is retried by the next request rather than remembered.
        id.catch(() => keyIds.delete(alg));
        keyIds.set(alg, id);
      }
      return id;
    },
  };
  const ledgerService = new LedgerService(uow, { checkpointTtlMs: config.ledger.checkpointIntervalMs, tileCacheBytes: config.ledger.proofCacheMb * 1024 * 1024 });
  // Deterministic (RFC 6979 nonces): the same stored invoice and options give the same OFD bytes on every node and path.
  const ofdSigner: OfdSigner = { keyId: active.keyId, sign: async (m) => (await pool.sign([m], { deterministic: true }))[0]! };

  const api = config.listeners.api;
  // The development certificate names localhost (ops/setup.ts); the api listener's default host is loopback.
  let origin = config.publicBaseUrl ?? `https://${['0.0.0.0', '::', '127.0.0.1'].includes(api.host) ? 'localhost' : api.host}:${api.port}`;
  const events = new EventStreamService({
    outbox: uow.read.outbox, log: logger.child({ component: 'event-stream' }),
    pollIntervalMs: config.events.pollIntervalMs, gapTimeoutMs: config.events.gapTimeoutMs,
    maxStreamsPerTenant: config.events.maxStreamsPerTenant, maxStreams: config.events.maxStreams,
  });
  await lifecycle.add({ name: 'event-stream', stop: () => events.close() });
  // The log key is made on first start when `init` did not make it.
  await admin.ledgerKeys.ensureKeys();
  const integrator = new Integrator({
    uow, clock, origin: ledgerOrigin(config), signers: () => admin.ledgerKeys.signers(),
    minIntervalMs: config.ledger.checkpointIntervalMs, idleMs: config.ledger.idleCheckpointSec * 1000,
    log: logger.child({ component: 'ledger-integrator' }),
    onServed: (_checkpoint, tiles) => ledgerService.checkpointServed(tiles),
    ...witnessPolicyOf(config),
  });
  // ledger.integrator false: another node integrates (or a measurement of issuing without it); rounds still run when
  // asked (integrateOnce), the job alone is not started.
  if (config.ledger.integrator) await lifecycle.add({ name: 'ledger-integrator', start: () => integrator.start(), stop: () => integrator.stop() });
  const hooks = config.webhooks;
  const sendOptions: SendOptions = {
    allowedTargets: new CidrSet(hooks.allowTargets), allowHttp: hooks.allowHttp,
    connectTimeoutMs: hooks.connectTimeoutMs, responseTimeoutMs: hooks.responseTimeoutMs, userAgent: 'fapiao-webhooks/1',
  };
  const sealer = masterKeySealer(base.masterKeys.current, base.masterKeys.ring);
  const mail = config.email;
  const mailer: Mailer = mail.host
    ? smtpMailer({ ...mail, host: mail.host })
    : () => Promise.resolve({ ok: false, code: null, response: 'no SMTP server is configured' });
  const documentSettings = new DocumentSettingsService({ uow, clock });
  const renderCache = new RenderCache(config.documents.renderCacheMb * 1024 * 1024);
  const emailDispatcher = new EmailDispatcher({
    uow, clock, mailer, from: mail.from, maxInFlight: mail.maxInFlight, idlePollMs: hooks.idlePollMs,
    leaseMs: mail.connectTimeoutMs + mail.sendTimeoutMs + 5000, verifyUrl: () => `${origin}/verify`,
    // The documents exactly as the API renders them (render-invoice.ts): the tenant's document settings, the ledger
    // proof and the OFD signature.
    documentOptions: async (tenantId, invoice) => {
      const ledgerProof = await ledgerProofOf(ledgerService, tenantId, invoice.number);
      return { ...(await documentSettings.renderOptions(tenantId)), ...(ledgerProof ? { ledgerProof } : {}), ofdSigner };
    },
    log: logger.child({ component: 'email-dispatcher' }),
  });
  await lifecycle.add({ name: 'email-dispatcher', start: () => emailDispatcher.start(), stop: () => emailDispatcher.stop() });
  const dispatcher = new WebhookDispatcher({
    uow, clock, sealer, send: (r) => sendWebhook(r, sendOptions),
    perEndpointConcurrency: hooks.perEndpointConcurrency, maxInFlight: hooks.maxInFlight, idlePollMs: hooks.idlePollMs,
    breaker: { threshold: hooks.breakerThreshold, cooldownMs: hooks.breakerCooldownMs },
    // An attempt ends within its timeouts; the lease outlasts it, so only a dead node's attempts are taken over.
    leaseMs: hooks.connectTimeoutMs + hooks.responseTimeoutMs + 5000,
    log: logger.child({ component: 'webhook-dispatcher' }),
    onDead: () => metrics.webhookDeadLetters.inc(),
    // Sending on issue: queued in the fan-out of the invoice.issued event (docs/email.md, "Sending on issue").
    onFanOut: (tx, events, at) => autoSendRows(tx, events, at),
  });
  await lifecycle.add({ name: 'webhook-dispatcher', start: () => dispatcher.start(), stop: () => dispatcher.stop() });
  // Every unit of work that writes an outbox event (issuing, red-letter moves, received-invoice changes, batches,
  // e-mail, test events) wakes the dispatchers and the live stream of this node after it commits; one that queues an
  // e-mail wakes the e-mail dispatcher. Other nodes see the rows at their next poll.
  uow.afterCommit(OUTBOX_TABLE, () => {
    events.nudge();
    dispatcher.nudge();
  });
  uow.afterCommit(EMAIL_DELIVERIES_TABLE, () => emailDispatcher.nudge());
  const webhooks = new WebhookService({
    uow, clock, sealer, urlProblem: (url) => urlProblem(url, sendOptions),
    maxEndpointsPerTenant: hooks.maxEndpointsPerTenant, maxPageSize: config.http.maxPageSize, onDue: (tenantId, endpointId) => dispatcher.probeNow(tenantId, endpointId),
  });
  // `state` is read when a report is written, by then `pressure` and `writer` (declared below) exist.
  const shedReport = new ShedReport({
    log: logger.child({ component: 'load-shedding' }),
    count: (reason) => metrics.requestsShed.inc({ reason }),
    state: () => ({ 'fapiao.event_loop.lag_ms': Math.round(pressure.lagMs), 'fapiao.shed.share': Math.round(pressure.shedShare * 100) / 100, 'fapiao.issue.queued': writer.waiting }),
  });
  await lifecycle.add({ name: 'shed-report', start: () => shedReport.start(), stop: () => shedReport.stop() });
  const pressure = new EventLoopPressure({
    maxDelayMs: config.http.maxEventLoopDelayMs, sampleMs: config.http.eventLoopWindowMs,
    onShed: () => shedReport.record('event_loop'),
    onSample: (lagMs, share) => {
      metrics.eventLoopLag.set(lagMs / 1000);
      metrics.shedShare.set(share);
    },
  });
  await lifecycle.add({ name: 'event-loop-pressure', start: () => pressure.start(), stop: () => pressure.stop() });
  const writer = new IssueWriter({
    uow, quotas: uow.read.quotaUsage, signer, signingAlgorithm: config.signing.algorithm, clock, verifyUrl: () => `${origin}/verify`, batchMax: config.issuing.batchMax, maxQueued: config.issuing.maxQueued, maxQueueWaitMs: config.issuing.maxQueueWaitMs,
    onShed: () => shedReport.record('issue_queue'),
    // The outbox events of the batch wake the dispatchers and the stream through the unit of work (above).
    onCommitted: () => integrator.nudge(),
    observe: {
      signed: (seconds) => metrics.issueSigningSeconds.observe(seconds),
      committed: (size, seconds) => {
        metrics.issueBatchSize.observe(size);
        metrics.issueCommitSeconds.observe(seconds);
      },
    },
  });
  admin.tenants.onTenantChanged((id) => writer.forgetTenant(id));
  admin.redLetter.useWriter(writer);
  const redLetterExpiry = new RedLetterExpiryJob({ work: admin.redLetter, log: logger.child({ component: 'red-letter-expiry' }), ...opts.redLetterExpiry });
  await lifecycle.add({ name: 'red-letter-expiry', start: () => redLetterExpiry.start(), stop: () => redLetterExpiry.stop() });

  const reconciliationJob = new ReconciliationJob({ work: admin.reconciliations, log: logger.child({ component: 'reconciliation-job' }) });
  await lifecycle.add({ name: 'reconciliation-job', start: () => reconciliationJob.start(), stop: () => reconciliationJob.stop() });
  const invoices = new InvoiceService({
    read: uow.read, writer,
    taxIdExceptions: config.issuing.taxIdExceptions, maxPageSize: config.http.maxPageSize,
    allowBuyerIsSeller: config.issuing.allowBuyerIsSeller,
  });
  // Batch items go through the same writer as single requests, many at once so that they fill its batches.
  const batchJob = new BatchIssueJob({
    uow, clock, invoices, writer, log: logger.child({ component: 'batch-issue-job' }),
    leaseMs: config.batches.leaseSec * 1000, claimSize: config.issuing.batchMax, idleMs: config.batches.idlePollMs,
  });
  await lifecycle.add({ name: 'batch-issue-job', start: () => batchJob.start(), stop: () => batchJob.stop() });
  const batches = new BatchService({
    uow, clock, invoices, checkSchema: compileBodyCheck(IssueInvoiceSchema), maxPageSize: config.http.maxPageSize,
    onAccepted: () => batchJob.nudge(),
  });

  const leaving = new Leaving();
  const services: AppServices = {
    ...admin,
    invoices,
    // The abuse-control counters: with FAPIAO_REDIS_URL every node counts against the same 查验 budgets.
    verify: new VerifyService(uow.read.invoices, admin.keys, { limiter, limits: config.verify, clock, ledger: ledgerService }),
    ready: () => (leaving.leaving ? Promise.reject(new Error('shutting down')) : storage.ready()),
    leaving,
    metrics,
    authFailures,
    bans,
    abuse: { limiter, clientIp: createClientIpResolver({ trustedProxies: config.http.trustedProxies }), policy: config.abuse },
    events,
    reencrypt,
    pressure,
    writer,
    redLetterExpiry,
    ledger: ledgerService,
    ofdSigner,
    integrator,
    webhooks,
    dispatcher,
    reconciliationJob,
    batches,
    batchJob,
    email: new EmailService({ uow, clock, configured: mail.host !== undefined }),
    emailDispatcher,
    documentSettings,
    renderCache,
  };
  const deps: ListenerDeps = {
    config, services, logger, adminToken: config.adminToken ?? readAdminToken(config.dataDir), httpsOrigin: () => origin,
  };
  return {
    services,
    buildListeners: () => buildListeners(deps),
    openApiDocument: () => buildOpenApiDocument(deps),
    setListeningOrigin(url: string) {
      if (!config.publicBaseUrl) origin = url.replace('://127.0.0.1:', '://localhost:');
    },
  };
}

/** The ledger's witnesses and k-of-n policy (config `ledger.witnesses`, `ledger.witnessQuorum`); none configured: {}. */
export function witnessPolicyOf(config: Readonly<Config>): { witnesses?: WitnessPolicy } {
  const { witnesses, witnessQuorum, witnessTimeoutMs } = config.ledger;
  if (witnesses.length === 0) return {};
  const quorum = witnessQuorum ?? witnesses.length;
  if (quorum > witnesses.length) throw new Error(`ledger.witnessQuorum is ${quorum}, but only ${witnesses.length} witnesses are configured`);
  const list = witnesses.map((w) => {
    const verifier = verifierFromKey(w.verifierKey);
    if (verifier.type !== 'cosignature/v1') throw new Error(`ledger.witnesses: ${w.url}: the verifier key is not a cosignature/v1 key`);
    return { url: w.url, verifier };
  });
  return { witnesses: { witnesses: list, quorum, timeoutMs: witnessTimeoutMs } };
}
