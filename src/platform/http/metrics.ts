// Prometheus metrics (prom-client): one registry per process, labelled by listener so each port can be watched.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  requests: Counter<'listener' | 'route' | 'method' | 'status'>;
  duration: Histogram<'listener' | 'route'>;
  invoicesIssued: Counter<'type'>;
  auditDropped: Counter;
  /** Open live event streams (push listener); `collect` reads the count when /metrics is scraped. */
  eventStreams: Gauge;
  /** Abuse-control operations answered by the in-process store because Redis did not (FallbackRateLimiter). */
  abuseStoreFallback: Counter<'store'>;
  /** Invoices per committed issuing batch, the batch's SM2 signing time and its commit (fsync) time. */
  issueBatchSize: Histogram;
  issueSigningSeconds: Histogram;
  issueCommitSeconds: Histogram;
  /** Bans imposed (by the tiered policy or by an operator), by reason (`manual` for an operator's). */
  bans: Counter<'reason'>;
  /** Failed authentications (API key or client certificate), by listener. */
  authFailures: Counter<'listener'>;
  /** TLS handshakes that failed (protocol, cipher, certificate), by listener. */
  tlsHandshakeFailures: Counter<'listener'>;
  /** The notAfter of each TLS listener's certificate (set at start and on each SIGHUP reload). */
  certificateExpiry: Gauge<'listener'>;
  /** Webhook deliveries given up after their last attempt, on this node. */
  webhookDeadLetters: Counter;
  /** Requests refused at once because the process is overloaded, by reason (`event_loop`, `issue_queue`). */
  requestsShed: Counter<'reason'>;
  /** Share of new requests shed for event-loop lag, and the lag of the last window it was set from. */
  shedShare: Gauge;
  eventLoopLag: Gauge;
}

/** Figures read at scrape time from the database (one short query each; a failed read keeps the last value). */
export interface ScrapeFigures {
  /** Seconds since the newest published ledger checkpoint, its size, and the leaves sequenced so far. */
  ledger?: () => Promise<{ checkpointAgeSeconds: number | undefined; checkpointSize: number; leaves: number }>;
  /** Webhook deliveries due now (queued or waiting to be retried) and how long the oldest has been due. */
  outbox?: () => Promise<{ due: number; oldestDueSeconds: number }>;
  /** PostgreSQL: when the database server behind the pool started (a change means a switch-over or a restart). */
  databaseStartedAt?: () => Promise<number | undefined>;
}

export interface MetricSources {
  /** How many live event streams are open at the moment of a scrape. */
  openStreams?: () => number;
  /** With FAPIAO_REDIS_URL: whether Redis answers (`fapiao_redis_up`; absent without Redis, rather than a false 0). */
  redisUp?: () => boolean;
  /** Whether the database accepts writes (`fapiao_storage_writable`, platform/storage/storage-health.ts). */
  storageWritable?: () => boolean;
  /** Requests waiting in the issue writer's queues for a batch. */
  issueQueue?: () => number;
  /** Free and total bytes of the file system of the data directory (SQLite file, keys, certificates). */
  dataDirSpace?: () => { free: number; size: number } | undefined;
  /** PostgreSQL pool: connections open, idle, and requests waiting for one (absent on SQLite). */
  dbPool?: () => { total: number; idle: number; waiting: number };
  figures?: ScrapeFigures;
  /** The render cache of documents: bytes held, hits and misses since start. */
  renderCache?: () => { bytes: number; hits: number; misses: number };
}

export function createMetrics(sources: MetricSources = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fapiao_' });
  const { openStreams = () => 0, redisUp, storageWritable, issueQueue, dataDirSpace, dbPool, figures = {}, renderCache } = sources;
  if (renderCache) {
    new Gauge({
      name: 'fapiao_render_cache_bytes', help: 'Bytes of rendered documents held by the render cache', registers: [registry],
      collect() {
        this.set(renderCache().bytes);
      },
    });
    new Counter({
      name: 'fapiao_render_cache_requests_total', help: 'Document downloads answered from the render cache (hit) or rendered (miss)', labelNames: ['result'], registers: [registry],
      collect() {
        const c = renderCache();
        this.reset();
        this.inc({ result: 'hit' }, c.hits);
        this.inc({ result: 'miss' }, c.misses);
      },
    });
  }
  if (issueQueue) {
    new Gauge({
      name: 'fapiao_issue_queue_depth', help: 'Issue requests waiting in the writer\'s queues for a batch', registers: [registry],
      collect() {
        this.set(issueQueue());
      },
    });
  }
  if (dataDirSpace) {
    new Gauge({
      name: 'fapiao_data_dir_free_bytes', help: 'Free bytes on the file system of the data directory', registers: [registry],
      collect() {
        const s = dataDirSpace();
        if (s) this.set(s.free);
      },
    });
    new Gauge({
      name: 'fapiao_data_dir_size_bytes', help: 'Size in bytes of the file system of the data directory', registers: [registry],
      collect() {
        const s = dataDirSpace();
        if (s) this.set(s.size);
      },
    });
  }
  // Registered on either engine (the dashboard names it); labelled, so SQLite gives no samples.
  {
    new Gauge({
      name: 'fapiao_db_pool_connections', help: 'PostgreSQL pool connections: open (total), idle, and requests waiting for one', labelNames: ['state'], registers: [registry],
      collect() {
        if (!dbPool) return;
        const p = dbPool();
        this.set({ state: 'total' }, p.total);
        this.set({ state: 'idle' }, p.idle);
        this.set({ state: 'waiting' }, p.waiting);
      },
    });
  }
  if (figures.ledger) {
    const read = figures.ledger;
    // One read per scrape for the three gauges: the first collect asks, the others reuse its answer.
    let pending: ReturnType<typeof read> | undefined;
    const once = () => (pending ??= read().finally(() => setImmediate(() => (pending = undefined))));
    new Gauge({
      name: 'fapiao_ledger_checkpoint_age_seconds', help: 'Seconds since the newest published ledger checkpoint', registers: [registry],
      async collect() {
        const f = await once().catch(() => undefined);
        if (f?.checkpointAgeSeconds !== undefined) this.set(f.checkpointAgeSeconds);
      },
    });
    new Gauge({
      name: 'fapiao_ledger_checkpoint_size', help: 'Tree size of the newest published ledger checkpoint', registers: [registry],
      async collect() {
        const f = await once().catch(() => undefined);
        if (f) this.set(f.checkpointSize);
      },
    });
    new Gauge({
      name: 'fapiao_ledger_leaves', help: 'Ledger leaves sequenced (every issued or reversed invoice has one)', registers: [registry],
      async collect() {
        const f = await once().catch(() => undefined);
        if (f) this.set(f.leaves);
      },
    });
  }
  // PostgreSQL only: an unlabelled gauge would read 0 on SQLite.
  if (figures.databaseStartedAt) {
    const read = figures.databaseStartedAt;
    new Gauge({
      name: 'fapiao_db_server_start_time_seconds', help: 'When the PostgreSQL server behind the pool started (Unix time): it changes at a primary/standby switch', registers: [registry],
      async collect() {
        const t = await read().catch(() => undefined);
        if (t !== undefined) this.set(t);
      },
    });
  }
  if (figures.outbox) {
    const read = figures.outbox;
    let pending: ReturnType<typeof read> | undefined;
    const once = () => (pending ??= read().finally(() => setImmediate(() => (pending = undefined))));
    new Gauge({
      name: 'fapiao_webhook_deliveries_due', help: 'Webhook deliveries due now: queued, or waiting for their next attempt', registers: [registry],
      async collect() {
        const f = await once().catch(() => undefined);
        if (f) this.set(f.due);
      },
    });
    new Gauge({
      name: 'fapiao_webhook_oldest_due_seconds', help: 'How long the oldest due webhook delivery has been due (0 when none is)', registers: [registry],
      async collect() {
        const f = await once().catch(() => undefined);
        if (f) this.set(f.oldestDueSeconds);
      },
    });
  }
  if (redisUp) {
    new Gauge({
      name: 'fapiao_redis_up', help: 'Whether the Redis of the shared abuse-control counters and bans answers (1) or not (0)', registers: [registry],
      collect() {
        this.set(redisUp() ? 1 : 0);
      },
    });
  }
  if (storageWritable) {
    new Gauge({
      name: 'fapiao_storage_writable', help: 'Whether the database accepts writes (1) or refuses them, e.g. with a full disk (0)', registers: [registry],
      collect() {
        this.set(storageWritable() ? 1 : 0);
      },
    });
  }
  return {
    registry,
    requests: new Counter({
      name: 'fapiao_http_requests_total', help: 'HTTP requests answered', labelNames: ['listener', 'route', 'method', 'status'], registers: [registry],
    }),
    duration: new Histogram({
      name: 'fapiao_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['listener', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry],
    }),
    invoicesIssued: new Counter({ name: 'fapiao_invoices_issued_total', help: 'Invoices issued (201, not replays)', labelNames: ['type'], registers: [registry] }),
    eventStreams: new Gauge({
      name: 'fapiao_event_streams', help: 'Open live event streams on the push listener', registers: [registry],
      collect() {
        this.set(openStreams());
      },
    }),
    abuseStoreFallback: new Counter({
      name: 'fapiao_abuse_store_fallback_total', help: 'Abuse-control operations answered in process because Redis did not answer',
      labelNames: ['store'], registers: [registry],
    }),
    issueBatchSize: new Histogram({
      name: 'fapiao_issue_batch_size', help: 'Invoices per committed issuing batch', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [registry],
    }),
    issueSigningSeconds: new Histogram({
      name: 'fapiao_issue_signing_seconds', help: 'SM2 signing time of one issuing batch (the signer pool)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry],
    }),
    issueCommitSeconds: new Histogram({
      name: 'fapiao_issue_commit_seconds', help: 'Commit time (durable, fsync) of one issuing batch',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry],
    }),
    bans: new Counter({ name: 'fapiao_bans_total', help: 'Bans imposed, by reason (rate-limit, exploit, auth-failures; manual: an operator\'s)', labelNames: ['reason'], registers: [registry] }),
    authFailures: new Counter({ name: 'fapiao_auth_failures_total', help: 'Failed authentications (API key or client certificate)', labelNames: ['listener'], registers: [registry] }),
    tlsHandshakeFailures: new Counter({ name: 'fapiao_tls_handshake_failures_total', help: 'TLS handshakes that failed', labelNames: ['listener'], registers: [registry] }),
    certificateExpiry: new Gauge({ name: 'fapiao_tls_certificate_expiry_timestamp_seconds', help: 'notAfter of the listener\'s TLS certificate (Unix time)', labelNames: ['listener'], registers: [registry] }),
    webhookDeadLetters: new Counter({ name: 'fapiao_webhook_dead_letters_total', help: 'Webhook deliveries given up after their last attempt (dead-lettered) on this node', registers: [registry] }),
    requestsShed: new Counter({
      name: 'fapiao_requests_shed_total', help: 'Requests answered 503 at once because the process was overloaded (event-loop lag, or the issuing queue full)',
      labelNames: ['reason'], registers: [registry],
    }),
    shedShare: new Gauge({
      name: 'fapiao_load_shed_share', help: 'Share of new requests the api, partner and push listeners shed for event-loop lag (0 – 1), set each window', registers: [registry],
    }),
    eventLoopLag: new Gauge({
      name: 'fapiao_event_loop_lag_window_seconds', help: 'Mean event-loop lag of the last shedding window (http.eventLoopWindowMs), the figure compared with http.maxEventLoopDelayMs', registers: [registry],
    }),
    auditDropped: new Counter({
      name: 'fapiao_audit_dropped_total', help: 'Audit entries of failed authentications dropped because the batching queue was full', registers: [registry],
    }),
  };
}
