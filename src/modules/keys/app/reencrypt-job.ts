// Background re-encryption (docs/design.md §9: the same job on every node). Moves rows still under an older data-key
// version, or never protected, to the tenant's current key in small batches (data-key-service.ts reencryptPass, a
// compare-and-set per row and `FOR UPDATE SKIP LOCKED` on PostgreSQL, so nodes share the work and never undo the
// server's writes), then retires data keys no row references any more.
//
// Idle-cheap: a pass costs a few index probes when there is nothing to do, then the job sleeps `idleMs`; a rotation
// on this node wakes it at once (other nodes find it on their next wake-up). Crash-safe without a checkpoint: the
// progress is in the rows themselves (data_key_version), so a restarted job just starts a new pass.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { DataKeyService, ReencryptBatch, ReencryptFailure } from './data-key-service.ts';
import { systemClock, type Clock } from '../../../shared/clock.ts';

export interface JobLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ReencryptJobOptions {
  work: Pick<DataKeyService, 'retireDrained'> & { reencryptPass(batchSize: number): AsyncIterable<ReencryptBatch> };
  log: JobLog;
  /** Rows per transaction (default 200). */
  batchSize?: number;
  /** Sleep between passes when there is nothing to do (default 30 s). */
  idleMs?: number;
  /**
   * How long a replaced key stays `retiring` at least (default 2 min): longer than the time a node may keep writing
   * with its cached current key (platform/storage/field-keys.ts currentKeyTtlMs, default 30 s) plus one issuing batch.
   */
  retireGraceMs?: number;
  /** The clock the key rows are stamped with (the container's); the retirement cutoff is measured on it. */
  clock?: Clock;
}

export interface PassResult {
  moved: number;
  conflicts: number;
  failures: ReencryptFailure[];
  retired: { tenantId: string; version: number }[];
}

/** Failures logged per pass at most (each names tenant, table, invoice number and reason; never data). */
const MAX_LOGGED_FAILURES = 20;

export class ReencryptJob {
  private readonly batchSize: number;
  private readonly idleMs: number;
  private readonly graceMs: number;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private woken = false;
  private wakeUp: (() => void) | undefined;

  constructor(private readonly opts: ReencryptJobOptions) {
    this.batchSize = opts.batchSize ?? 200;
    this.idleMs = opts.idleMs ?? 30_000;
    this.graceMs = opts.retireGraceMs ?? 120_000;
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  /** Run a pass now (after a rotation) instead of at the end of the idle sleep. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Finishes the batch in progress (its transaction commits or rolls back whole) and stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await this.loop;
    this.loop = undefined;
  }

  /** One pass: every batch there is, then retirement. Exposed for tests and the CLI. */
  async runPass(): Promise<PassResult> {
    const result: PassResult = { moved: 0, conflicts: 0, failures: [], retired: [] };
    for await (const batch of this.opts.work.reencryptPass(this.batchSize)) {
      result.moved += batch.moved;
      result.conflicts += batch.conflicts;
      result.failures.push(...batch.failures);
      if (this.stopping) return result;
      // Let requests in between batches.
      await yieldToEventLoop();
    }
    result.retired = await this.opts.work.retireDrained(new Date((this.opts.clock ?? systemClock).now().getTime() - this.graceMs).toISOString());
    return result;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.woken = false;
      let retrySoon = false;
      try {
        const r = await this.runPass();
        if (r.moved > 0 || r.retired.length > 0) {
          this.opts.log.info({ moved: r.moved, conflicts: r.conflicts, failed: r.failures.length, retired: r.retired }, 're-encryption pass');
        }
        for (const f of r.failures.slice(0, MAX_LOGGED_FAILURES)) this.opts.log.warn({ ...f }, 're-encryption: a row does not open; skipped');
        // Rows changed under us are retried soon; the rest waits for the next wake-up.
        retrySoon = r.conflicts > 0;
      } catch (err) {
        this.opts.log.error({ err }, 're-encryption pass failed; retrying after the idle interval');
      }
      if (this.stopping) break;
      if (!this.woken) await this.sleep(retrySoon ? Math.min(1000, this.idleMs) : this.idleMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      // An idle job must not keep the process alive.
      timer.unref();
      this.wakeUp = done;
    });
  }
}
