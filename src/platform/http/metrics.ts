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
}

export interface MetricSources {
  /** How many live event streams are open at the moment of a scrape. */
  openStreams?: () => number;
  /** With FAPIAO_REDIS_URL: whether Redis answers (`fapiao_redis_up`; absent without Redis, rather than a false 0). */
  redisUp?: () => boolean;
  /** Whether the database accepts writes (`fapiao_storage_writable`, platform/storage/storage-health.ts). */
  storageWritable?: () => boolean;
}

export function createMetrics(sources: MetricSources = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fapiao_' });
  const { openStreams = () => 0, redisUp, storageWritable } = sources;
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
    auditDropped: new Counter({
      name: 'fapiao_audit_dropped_total', help: 'Audit entries of failed authentications dropped because the batching queue was full', registers: [registry],
    }),
  };
}
