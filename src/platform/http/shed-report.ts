// Requests refused by load shedding (503 with Retry-After, before any work) are counted, not logged one by one: under
// overload a log line per refusal costs the loop more than the refusal itself (a line written synchronously to a
// slow pipe blocks the loop), which is the work the shedding was meant to spare. Each refusal increments
// `fapiao_requests_shed_total{reason}`; while refusals happen, one warning per interval says how many, by reason, and
// one line says when they stopped.
import type { FastifyBaseLogger } from 'fastify';

export type ShedReason = 'event_loop' | 'issue_queue';

export interface ShedReportOptions {
  log: Pick<FastifyBaseLogger, 'warn' | 'info'>;
  /** Increments the shed counter of the reason (the metric). */
  count: (reason: ShedReason) => void;
  /** Interval of the summary lines, ms. */
  intervalMs?: number;
  /** What the summary adds about the node's state (the lag and the share shed). */
  state?: () => Record<string, number>;
}

export class ShedReport {
  private readonly counts = new Map<ShedReason, number>();
  private timer: NodeJS.Timeout | undefined;
  private shedding = false;
  private total = 0;

  constructor(private readonly opts: ShedReportOptions) {}

  record(reason: ShedReason): void {
    this.opts.count(reason);
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    if (!this.shedding) {
      this.shedding = true;
      this.opts.log.warn({ 'fapiao.shed.reason': reason, ...this.opts.state?.() }, 'overloaded: shedding requests with 503 and Retry-After');
    }
  }

  start(): void {
    this.timer ??= setInterval(() => this.flush(), this.opts.intervalMs ?? 10_000);
    this.timer.unref();
  }

  /** Logs the refusals since the last summary, or that they stopped. */
  flush(): void {
    if (this.counts.size === 0) {
      if (this.shedding) this.opts.log.info({ 'fapiao.shed.total': this.total }, 'no longer shedding requests');
      this.shedding = false;
      this.total = 0;
      return;
    }
    const byReason: Record<string, number> = {};
    for (const [reason, n] of this.counts) {
      byReason[`fapiao.shed.${reason}`] = n;
      this.total += n;
    }
    this.counts.clear();
    this.opts.log.warn({ ...byReason, ...this.opts.state?.() }, 'requests shed since the last report');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
