// The live event stream of a tenant's invoices (docs/design.md §5, listener `push`), fed by the transactional outbox.
//
// One poller per process reads new outbox rows of every tenant (`id > watermark ORDER BY id`, the primary key) while
// at least one stream is open, and fans them out in memory to the streams of each row's tenant. N nodes on one
// PostgreSQL each run their own poller: the work grows with nodes × polls, not with streams, and a stream never needs
// the node that issued the invoice.
//
// Ordering. Ids are assigned when a row is inserted, not when its transaction commits. The issuing transaction
// inserts its outbox rows while it holds the global ledger lock (issue-batch.ts), so issuing commits take ids in
// commit order; but a rolled-back insert leaves a hole forever on PostgreSQL, and any other writer of the outbox
// would not be ordered by that lock. The watermark therefore only moves over consecutive ids; at a hole it waits up
// to `gapTimeoutMs` for the missing rows to commit before it takes them as rolled back and moves on. Every stream thus
// sees its tenant's events in increasing id order, exactly once, and `Last-Event-ID` resume is exact. (SQLite has a
// single writer and AUTOINCREMENT rolls back with the transaction: no holes there.)
//
// Resume. A stream with a last id first replays its tenant's rows in (lastId, watermark] from the database, then —
// in the same synchronous step in which it finds itself caught up — joins the live fan-out, which only ever delivers
// ids above the watermark. No event falls between the two, and none is sent twice.
//
// Memory. Nothing is queued per stream here: a live event is handed to the stream's sink at once, and the sink drops
// a client that lets too much pile up (modules/events/http/push-routes.ts). A replay paces itself on the sink's ready().
import { AppError } from '../../../shared/errors.ts';
import type { EventFacts, InvoiceEventSummary, OutboxEvent } from '../storage/outbox-contract.ts';
import type { OutboxReader } from '../storage/outbox-contract.ts';

/** What a subscriber receives: the SSE `id`, `event` and the JSON of `data`. No buyer data (invariant 8). */
export interface StreamEvent {
  id: number;
  type: string;
  /** An invoice's summary (`invoice.*`), or what may be shown of another event naming an invoice (EventFacts). */
  data: InvoiceEventSummary | EventFacts;
  /** The envelope's `requestId` (the tenant's own request that made the change), when it has one. */
  requestId?: string;
}

/** The client end of one stream, implemented by the HTTP adapter. */
export interface EventSink {
  /** Sends one event; false when the client fell too far behind and the sink dropped the connection. */
  send(event: StreamEvent): boolean;
  /** Resolves when the client's buffer has room again (at once when it has), or when the sink closes. */
  ready(): Promise<void>;
  /** Ends the stream (shutdown). */
  end(): void;
  readonly closed: boolean;
}

export interface EventStreamOptions {
  outbox: OutboxReader;
  /** How often the poller looks for new rows while streams are open. */
  pollIntervalMs: number;
  /** How long a hole in the ids may hold the stream back before it is taken as a rollback. */
  gapTimeoutMs: number;
  maxStreamsPerTenant: number;
  maxStreams: number;
  /** Rows per query. */
  batchSize?: number;
  now?: () => number;
  log?: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export interface Subscription {
  readonly tenantId: string;
  /** Replays events after `after` (when given), then follows live events; rejects if the database fails. */
  start(after: number | undefined): Promise<void>;
  /** Idempotent; frees the stream's place. */
  close(): void;
}

interface Subscriber {
  tenantId: string;
  sink: EventSink;
  /** The highest id sent (or passed over) on this stream. */
  cursor: number;
  live: boolean;
  closed: boolean;
}

/**
 * Only events that name an invoice are streamed: invoice events of the tenant's own invoices (or, `invoice.received`,
 * of invoices addressed to it), red-letter moves of forms it is a party to, and its received invoices' changes (the
 * outbox row's tenant is the party the use case wrote it for). Others are skipped, not guessed at.
 */
export function toStreamEvent(e: OutboxEvent): StreamEvent | undefined {
  const data = e.invoice ?? e.facts;
  if (!data) return undefined;
  return { id: e.id, type: e.type, data, ...(e.requestId !== undefined ? { requestId: e.requestId } : {}) };
}

export class EventStreamService {
  private readonly outbox: OutboxReader;
  private readonly batchSize: number;
  private readonly now: () => number;
  /** Every open stream (replaying or live), by tenant: the limits count these. */
  private readonly streams = new Map<string, Set<Subscriber>>();
  private total = 0;
  /** Ids up to here have been fanned out (or skipped as holes). Undefined while the poller is stopped. */
  private watermark: number | undefined;
  private initializing: Promise<number> | undefined;
  /** Changes whenever the poller stops, so a query started before cannot move a newer watermark. */
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private pollAgain = false;
  private gapSince: number | undefined;
  private lastErrorLog = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(private readonly opts: EventStreamOptions) {
    this.outbox = opts.outbox;
    this.batchSize = opts.batchSize ?? 500;
    this.now = opts.now ?? Date.now;
  }

  /** Open streams, of one tenant or of all. */
  count(tenantId?: string): number {
    return tenantId === undefined ? this.total : this.streams.get(tenantId)?.size ?? 0;
  }

  /**
   * Takes a place for a stream of `tenantId` (429 EVENT_STREAM_LIMIT when the tenant or the process has no more) and
   * makes sure the poller runs and knows where "now" is. Nothing is written to the sink until start().
   */
  async open(tenantId: string, sink: EventSink): Promise<Subscription> {
    if (this.closed) throw new AppError('SERVICE_UNAVAILABLE', { detail: 'the server is shutting down' });
    const own = this.streams.get(tenantId);
    if ((own?.size ?? 0) >= this.opts.maxStreamsPerTenant || this.total >= this.opts.maxStreams) {
      const which = (own?.size ?? 0) >= this.opts.maxStreamsPerTenant ? `${this.opts.maxStreamsPerTenant} per tenant` : `${this.opts.maxStreams} in all`;
      throw new AppError('EVENT_STREAM_LIMIT', { detail: `at most ${which} open event streams`, headers: { 'retry-after': '5' } });
    }
    const sub: Subscriber = { tenantId, sink, cursor: 0, live: false, closed: false };
    const set = own ?? new Set<Subscriber>();
    set.add(sub);
    this.streams.set(tenantId, set);
    this.total += 1;
    try {
      await this.ensureWatermark();
    } catch (err) {
      this.release(sub);
      throw err;
    }
    return {
      tenantId,
      start: (after) => this.start(sub, after),
      close: () => this.release(sub),
    };
  }

  /** Polls at once (e.g. right after an issuing commit in this process), instead of at the next interval. */
  nudge(): void {
    if (this.watermark === undefined || this.closed) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  /** Ends every stream and stops the poller (shutdown). */
  close(): void {
    this.closed = true;
    for (const set of [...this.streams.values()]) {
      for (const sub of [...set]) {
        sub.sink.end();
        this.release(sub);
      }
    }
  }

  private async start(sub: Subscriber, after: number | undefined): Promise<void> {
    if (sub.closed) return;
    let cursor = after ?? this.watermark ?? 0;
    for (;;) {
      if (sub.closed || this.watermark === undefined) return;
      const through = this.watermark;
      if (cursor >= through) {
        // Caught up: join the fan-out in this same synchronous step, so the next event it delivers is > through.
        sub.cursor = cursor;
        sub.live = true;
        return;
      }
      const gen = this.generation;
      const rows = await this.outbox.listForTenant(sub.tenantId, cursor, through, this.batchSize);
      if (gen !== this.generation) return;
      for (const row of rows) {
        const event = toStreamEvent(row);
        if (event) {
          await sub.sink.ready();
          if (sub.closed || !sub.sink.send(event)) return this.release(sub);
        }
        cursor = row.id;
      }
      if (rows.length < this.batchSize) cursor = through;
    }
  }

  private release(sub: Subscriber): void {
    if (sub.closed) return;
    sub.closed = true;
    sub.live = false;
    const set = this.streams.get(sub.tenantId);
    if (set?.delete(sub)) {
      this.total -= 1;
      if (set.size === 0) this.streams.delete(sub.tenantId);
    }
    if (this.total === 0) this.stop();
  }

  private ensureWatermark(): Promise<number> {
    if (this.watermark !== undefined) return Promise.resolve(this.watermark);
    if (this.initializing) return this.initializing;
    const gen = this.generation;
    const init = this.outbox.lastId().then((id) => {
      if (gen === this.generation && this.watermark === undefined) {
        this.watermark = id;
        this.gapSince = undefined;
        this.schedule(this.opts.pollIntervalMs);
      }
      return this.watermark ?? id;
    });
    this.initializing = init;
    const clear = () => {
      if (this.initializing === init) this.initializing = undefined;
    };
    init.then(clear, clear);
    return init;
  }

  /** No stream left: stop polling and forget the watermark ("now" is read again by the next stream). */
  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.watermark = undefined;
    this.initializing = undefined;
    this.gapSince = undefined;
    this.pollAgain = false;
    this.generation += 1;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined || this.polling || this.watermark === undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, delayMs);
    // An idle poller must not keep the process alive on its own.
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const gen = this.generation;
    const from = this.watermark;
    if (from === undefined) return;
    this.polling = true;
    let more = false;
    try {
      const rows = await this.outbox.listAfter(from, this.batchSize);
      if (gen === this.generation) more = this.advance(rows) && rows.length === this.batchSize;
    } catch (err) {
      const now = this.now();
      if (now - this.lastErrorLog >= 10_000) {
        this.lastErrorLog = now;
        this.opts.log?.error({ err }, 'event stream poll failed; retrying');
      }
    } finally {
      this.polling = false;
    }
    if (gen !== this.generation) return;
    const again = more || this.pollAgain;
    this.pollAgain = false;
    this.schedule(again ? 0 : this.opts.pollIntervalMs);
  }

  /** Moves the watermark over the rows that follow it without a hole, fanning each out; true if it moved. */
  private advance(rows: OutboxEvent[]): boolean {
    let moved = false;
    for (const row of rows) {
      const wm = this.watermark!;
      if (row.id <= wm) continue;
      if (row.id !== wm + 1) {
        const now = this.now();
        this.gapSince ??= now;
        if (now - this.gapSince < this.opts.gapTimeoutMs) break;
        this.opts.log?.info({ from: wm + 1, to: row.id - 1 }, 'outbox ids missing past the gap timeout, taken as rolled back');
      }
      this.gapSince = undefined;
      this.watermark = row.id;
      moved = true;
      this.fanOut(row);
    }
    return moved;
  }

  private fanOut(row: OutboxEvent): void {
    const set = this.streams.get(row.tenantId);
    if (!set) return;
    const event = toStreamEvent(row);
    for (const sub of [...set]) {
      if (!sub.live || row.id <= sub.cursor) continue;
      sub.cursor = row.id;
      if (event && !sub.sink.send(event)) this.release(sub);
    }
  }
}
