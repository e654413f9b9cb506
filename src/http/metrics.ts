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
}

/** `openStreams`: how many live event streams are open at the moment of a scrape. */
export function createMetrics(openStreams: () => number = () => 0): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fapiao_' });
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
    auditDropped: new Counter({
      name: 'fapiao_audit_dropped_total', help: 'Audit entries of failed authentications dropped because the batching queue was full', registers: [registry],
    }),
  };
}
