// Coalesces audit entries for events that arrive in floods (failed authentications): every entry of the audit log
// takes the chain's single head row and an fsync'd commit, so one transaction per bad request would let an attacker
// turn a stream of junk keys into a stream of durable writes. Entries wait here at most `flushMs` (or until
// `maxBatch` are pending) and are chained in one transaction. The queue is bounded: past `capacity` entries are
// dropped, counted, and recorded as one `audit.dropped` entry with the next batch, so a gap is itself on the record.
import type { AuditOutcome, NewAuditEntry } from '../storage/audit-contract.ts';
import type { Clock } from '../../../shared/clock.ts';

export interface AuditAppenderOptions<T> {
  /** Appends entries in one transaction (AuditRepository.append). */
  append(entries: NewAuditEntry[]): Promise<unknown>;
  /** Turns queued items into entries at flush time (e.g. classifies a failed API key by a lookup, off the request). */
  toEntries(items: T[]): Promise<NewAuditEntry[]>;
  clock: Clock;
  flushMs?: number;
  maxBatch?: number;
  capacity?: number;
  /** Called with the number of items dropped because the queue was full (a metrics counter). */
  onDrop?(count: number): void;
  /** A flush that failed: its entries are lost (the request they record was answered long ago). */
  onError?(err: unknown, lost: number): void;
}

export class BatchingAuditAppender<T> {
  private queue: T[] = [];
  private dropped = 0;
  private droppedSince: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private readonly capacity: number;

  constructor(private readonly opts: AuditAppenderOptions<T>) {
    this.flushMs = opts.flushMs ?? 100;
    this.maxBatch = opts.maxBatch ?? 200;
    this.capacity = opts.capacity ?? 2000;
    if (this.maxBatch > this.capacity) throw new RangeError('maxBatch must not exceed capacity');
  }

  /** Queues one item; never throws and never waits (the caller is answering a request). */
  add(item: T): void {
    if (this.closed || this.queue.length >= this.capacity) {
      if (this.dropped === 0) this.droppedSince = this.opts.clock.now().toISOString();
      this.dropped += 1;
      this.opts.onDrop?.(1);
      return;
    }
    this.queue.push(item);
    if (this.queue.length >= this.maxBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.flushMs).unref();
  }

  /** Writes everything queued so far (and what arrives while it writes); resolves when it is committed. */
  async flush(): Promise<void> {
    while (this.flushing || this.queue.length > 0 || this.dropped > 0) {
      if (!this.flushing) this.kick();
      await this.flushing;
    }
  }

  /** Stops accepting items and writes the rest (on shutdown, before storage closes). */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Starts one flush unless one is running; the running one re-checks the queue when it ends. */
  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing) return;
    this.flushing = this.write().finally(() => {
      this.flushing = undefined;
      if (this.queue.length >= this.maxBatch) this.kick();
      else if (this.queue.length > 0 && !this.closed) this.timer ??= setTimeout(() => this.kick(), this.flushMs).unref();
    });
  }

  private async write(): Promise<void> {
    const items = this.queue;
    this.queue = [];
    const dropped = this.dropped;
    const since = this.droppedSince;
    this.dropped = 0;
    this.droppedSince = undefined;
    let entries: NewAuditEntry[] = [];
    try {
      entries = await this.opts.toEntries(items);
      if (dropped > 0) entries.push(droppedEntry(dropped, since));
      if (entries.length > 0) await this.opts.append(entries);
    } catch (err) {
      this.opts.onError?.(err, Math.max(entries.length, items.length + (dropped > 0 ? 1 : 0)));
    }
  }
}

function droppedEntry(count: number, since: string | undefined): NewAuditEntry {
  const outcome: AuditOutcome = 'failure';
  return { actor: 'system', action: 'audit.dropped', target: '-', outcome, details: { count, since: since ?? null } };
}
