// The 72-hour window of confirmation forms: every `intervalMs` the job voids (07) the forms whose deadline has passed
// by the service's clock, in batches, until none is due. Deadlines are stored with the forms, so nothing is lost over
// a restart; on PostgreSQL several nodes share the work (FOR UPDATE SKIP LOCKED). A move asked for after a deadline
// the job has not reached yet is refused and records the expiry itself (red-letter-service.ts), so the window is
// exact whatever the job's interval.
import type { Logger } from 'pino';

export interface ExpiryWork {
  expireDue(limit?: number): Promise<number>;
}

export interface ExpiryJobOptions {
  work: ExpiryWork;
  log: Logger;
  intervalMs?: number;
  batchSize?: number;
}

export class RedLetterExpiryJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = true;

  constructor(private readonly opts: ExpiryJobOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Expires everything due now; answers how many forms it voided. */
  async runOnce(): Promise<number> {
    if (this.running) return this.running;
    this.running = (async () => {
      const batch = this.opts.batchSize ?? 100;
      let total = 0;
      for (;;) {
        const n = await this.opts.work.expireDue(batch);
        total += n;
        if (n < batch) return total;
      }
    })();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.runOnce().then(
        (n) => n > 0 && this.opts.log.info({ expired: n }, 'red-letter forms expired'),
        (err: unknown) => this.opts.log.error({ err }, 'expiring red-letter forms failed; retrying'),
      ).finally(() => this.schedule(this.opts.intervalMs ?? 1000));
    }, ms);
    this.timer.unref();
  }
}
