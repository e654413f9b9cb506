// The single writer of each number series (docs/design.md §1). Numbers may have no gaps and the signature covers the
// number, so numbering, signing and the durable commit form one unit. Instead of one transaction per request, the
// writer takes every request waiting at that moment, numbers them consecutively, signs them in parallel off the event
// loop and commits them in one transaction before answering any of them.
//
// Across processes (several nodes on one PostgreSQL) the commit is a compare-and-set on the series row: if another
// writer took numbers first, nothing is written and the batch is renumbered and signed again.
//
// The issuing quota (授信额度) is checked before numbering against this process's view (quota-view.ts): a request that
// would exceed its tenant's quota is answered QUOTA_EXCEEDED and dropped from the batch before any number is given
// out, so the others keep consecutive numbers. The commit re-checks exactly in the database; if that guard fails
// (another node used the quota, or it was lowered) nothing is written, the tenant's view is reloaded and the batch is
// admitted, numbered and signed again, like a series compare-and-set failure.
//
// Tenants of a region share a batch, so no request may fail another: a failure is answered to the request that caused
// it and the others are renumbered without it (commitIsolating below); numbers stay consecutive.
//
// The next batch is signed while the previous one commits (docs/design.md §1). When batch k is signed and about to
// commit, the requests waiting by then become batch k+1, numbered on the assumption that k commits whole (from k's
// first sequence + k's size) and sent to the signer workers, which sign them while the main thread runs k's
// transaction (on SQLite the fsync holds the event loop; the workers are not held). The head start is only a guess:
// it answers nobody and takes no number. Batch k+1 uses those signatures only if, when its own turn comes, it would
// have been numbered exactly so (same series, same first sequence after k's outcome, same requests after admission);
// otherwise (k failed, or lost a request, or lost its series) they are thrown away and k+1 is numbered and signed
// again. Either way the series compare-and-set stays the guard: a batch numbered from the wrong sequence writes nothing.
import { AppError } from '../../../shared/errors.ts';
import type { SignedInvoiceBody } from '../../../shared/invoice.ts';
import type { SigningAlgorithm } from '../../../shared/signing.ts';
import { MAX_SEQ, seriesKey } from '../domain/invoice-number.ts';
import { chinaYear } from '../../../shared/china-time.ts';
import { quotaPeriod } from '../domain/issuing-quota.ts';
import type { BatchSigner, Clock } from '../../../shared/clock.ts';
import { QuotaView, type QuotaSource } from './quota-view.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import { commitIssueBatch, type IssuedInvoice, type IssueHook, type IssueStamp, type IssueTx, type PendingIssue } from './commit-issue-batch.ts';
import { numberBatch, sealBatch } from './number-batch.ts';

/** Everything of an invoice but what the writer assigns: number, time, signature. */
export type InvoiceDraft = Omit<SignedInvoiceBody, 'number' | 'issuedAt' | 'issueDate'>;

export interface WriteRequest {
  tenantId: string;
  regionCode: string;
  channel: string;
  draft: InvoiceDraft;
  /** The tenant's signing algorithm; default the writer's (config `signing.algorithm`). */
  signingAlgorithm?: SigningAlgorithm;
  /** With an Idempotency-Key: the record a replay answers (`statusCode` is the adapter's choice). */
  idempotency?: { key: string; requestHash: string; statusCode: number };
  /** Who asked, for the `invoice.issue` audit entry (default `system`) and the request id of its event. */
  audit?: IssueStamp;
  /** Work that commits in the same transaction (commit-issue-batch.ts, PendingIssue.within). */
  within?: IssueHook;
  /**
   * Already admitted elsewhere and bounded by its caller (the batch job's items, at most its claim size at a time):
   * not refused by the admission limits below. Counted in the queue like any request.
   */
  admitted?: boolean;
}

export interface WriterDeps {
  uow: UnitOfWork<IssueTx>;
  signer: BatchSigner;
  /** The algorithm of requests that name none (config `signing.algorithm`); default SM2. */
  signingAlgorithm?: SigningAlgorithm;
  clock: Clock;
  /** The verify page URL put in QR codes; a function because the listener's port may be known only after listen. */
  verifyUrl: () => string;
  batchMax: number;
  /**
   * Admission limit: requests waiting for a batch (all series together) beyond which a new one is refused at once
   * with 503 SERVICE_UNAVAILABLE and Retry-After, before it is numbered, so overload answers fast instead of letting
   * latency grow without bound. Undefined: no limit.
   */
  maxQueued?: number;
  /**
   * Admission limit in time: while requests are queued and the oldest request in the writer (waiting for a batch, or
   * in a batch being signed or committed) has been there longer than this (ms), a new one is refused the same way. It bounds what an admitted
   * request waits whatever the machine's rate, where `maxQueued` is a count; counting the batches in flight matters
   * under many connections, where most requests are in full batches rather than in the queue. Undefined or 0: none.
   */
  maxQueueWaitMs?: number;
  /** Each tenant's monthly quota and usage, read on first use and after a guard failure. */
  quotas: QuotaSource;
  /** Called for each request refused because the queue was full (the shed-requests metric). */
  onShed?: () => void;
  /** Called after each batch commits (the live event stream polls the outbox at once instead of at its next tick). */
  onCommitted?: () => void;
  /** Observes each batch: its signing time, and its size and commit time once committed (the metrics). */
  observe?: { signed(seconds: number): void; committed(size: number, seconds: number): void };
}

interface Waiting {
  /** When it was queued (performance.now()). */
  at: number;
  req: WriteRequest;
  resolve: (issued: IssuedInvoice) => void;
  reject: (err: unknown) => void;
}

/**
 * A batch numbered and sent to the signer ahead of its turn, while the previous batch commits (see the top of this
 * file). `pending` resolves undefined when the guess cannot be used as it is (an item could not be prepared or
 * signed): the batch is then numbered and signed in its turn, and every error is answered from there.
 */
interface HeadStart {
  requests: readonly Waiting[];
  series: string;
  firstSeq: number;
  now: Date;
  pending: Promise<PendingIssue[] | undefined>;
}

/** Called once a batch is signed, just before its transaction: where the series will be if it commits whole. */
type BeforeCommit = (series: string, nextSeq: number, now: Date) => void;

/**
 * Attempts of a batch that lost its series to another writer (another node on PostgreSQL) before it is refused 503.
 * Between attempts the writer waits a random 0–2^k ms (at most 64) and reads the series afresh, so writers on one
 * series fall out of step instead of colliding on every attempt (≈ 3 s at most in all).
 */
const MAX_RENUMBER = 50;
const MAX_BACKOFF_MS = 64;

export class IssueWriter {
  private readonly queues = new Map<string, Waiting[]>();
  private readonly running = new Set<string>();
  /** Next sequence per series as this process believes it; corrected by the compare-and-set. */
  private readonly nextSeq = new Map<string, number>();
  private readonly quota: QuotaView;
  /** Requests in the queues, not yet taken into a batch. */
  private queued = 0;
  /** The first (oldest) request of each batch taken and not yet answered: being signed, or committing. */
  private readonly inFlight = new Set<Waiting>();

  constructor(private readonly deps: WriterDeps) {
    this.quota = new QuotaView(deps.quotas);
  }

  /** Requests waiting in the queues, not yet in a batch. */
  get waiting(): number {
    return this.queued;
  }

  /** The tenant's quota or region changed in this process: the next request reads it afresh. */
  forgetTenant(tenantId: string): void {
    this.quota.forget(tenantId);
  }

  /** Issues the request: the invoice as committed, and its JSON as answered and stored for replay. */
  write(req: WriteRequest): Promise<IssuedInvoice> {
    const family = `${req.regionCode}${req.channel}`;
    if (req.admitted) return this.enqueue(family, req);
    if (this.deps.maxQueued !== undefined && this.queued >= this.deps.maxQueued) {
      this.deps.onShed?.();
      return Promise.reject(new AppError('SERVICE_UNAVAILABLE', {
        detail: `the issuing queue is full (${this.deps.maxQueued} requests waiting); retry shortly`, headers: { 'retry-after': '1' }, shed: true,
      }));
    }
    const maxWait = this.deps.maxQueueWaitMs;
    // Only behind a backlog: one batch held up on its own (a series contended by another node, backing off) with
    // nothing queued behind it is not overload.
    if (maxWait && this.queued > 0) {
      const waited = performance.now() - this.oldestQueuedAt();
      if (waited > maxWait) {
        this.deps.onShed?.();
        return Promise.reject(new AppError('SERVICE_UNAVAILABLE', {
          detail: `the issuing queue is behind (its oldest request has waited ${Math.round(waited)} ms); retry shortly`, headers: { 'retry-after': '1' }, shed: true,
        }));
      }
    }
    return this.enqueue(family, req);
  }

  private enqueue(family: string, req: WriteRequest): Promise<IssuedInvoice> {
    this.queued++;
    return new Promise<IssuedInvoice>((resolve, reject) => {
      let q = this.queues.get(family);
      if (!q) this.queues.set(family, (q = []));
      q.push({ at: performance.now(), req, resolve, reject });
      if (!this.running.has(family)) {
        this.running.add(family);
        setImmediate(() => void this.drain(family));
      }
    });
  }

  /** When the oldest request in the writer was queued: the head of a series queue or of a batch in flight. */
  private oldestQueuedAt(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const q of this.queues.values()) if (q.length > 0 && q[0]!.at < oldest) oldest = q[0]!.at;
    for (const w of this.inFlight) if (w.at < oldest) oldest = w.at;
    return oldest;
  }

  private async drain(family: string): Promise<void> {
    try {
      const q = this.queues.get(family)!;
      const take = (): Waiting[] => {
        const batch = q.splice(0, this.deps.batchMax);
        this.queued -= batch.length;
        if (batch.length > 0) this.inFlight.add(batch[0]!);
        return batch;
      };
      // The batch taken (and being signed) while the previous one commits.
      let ahead: HeadStart | undefined;
      while (ahead !== undefined || q.length > 0) {
        const head = ahead;
        ahead = undefined;
        // A batch signed ahead is often ready the moment the previous one commits: let the event loop serve what
        // arrived meanwhile first (their queries wait for the database's one connection), so that issuing at full
        // speed does not starve every other request until the queue runs dry.
        if (head) await new Promise((r) => setImmediate(r));
        const batch = head ? [...head.requests] : take();
        const beforeCommit: BeforeCommit = (series, nextSeq, now) => {
          if (ahead !== undefined || q.length === 0) return;
          ahead = this.headStart(take(), series, nextSeq, now);
        };
        try {
          await this.commitIsolating(batch, head, beforeCommit);
        } finally {
          this.inFlight.delete(batch[0]!);
        }
      }
    } finally {
      this.running.delete(family);
      // Nothing of this series is in flight once its drain ends (an error escaping the loop must not leave a batch
      // that looks forever old to the admission limit).
      for (const w of this.inFlight) if (`${w.req.regionCode}${w.req.channel}` === family) this.inFlight.delete(w);
      // A request may have arrived between the last splice and here.
      if ((this.queues.get(family)?.length ?? 0) > 0) {
        this.running.add(family);
        setImmediate(() => void this.drain(family));
      }
    }
  }

  /**
   * Numbers `requests` from `firstSeq` in `series` at `now` and starts signing them, answering nobody: a guess the batch
   * uses in its turn only if it still holds (commit below).
   */
  private headStart(requests: Waiting[], series: string, firstSeq: number, now: Date): HeadStart {
    const start: HeadStart = { requests, series, firstSeq, now, pending: Promise.resolve(undefined) };
    const first = requests[0]!.req;
    if (seriesKey(chinaYear(now), first.regionCode, Number(first.channel)) !== series) return start;
    if (firstSeq + requests.length - 1 > MAX_SEQ) return start;
    start.pending = (async () => {
      try {
        const { prepared, failed } = numberBatch(requests, now, firstSeq, this.deps.signingAlgorithm);
        if (failed.length > 0) return undefined;
        const started = performance.now();
        const signatures = await this.signAll(prepared);
        this.deps.observe?.signed((performance.now() - started) / 1000);
        const { pending, failed: unsealed } = sealBatch(prepared, signatures, this.deps.verifyUrl());
        return unsealed.length > 0 ? undefined : pending;
      } catch {
        // The batch's own turn signs again and answers whatever fails.
        return undefined;
      }
    })();
    return start;
  }

  /**
   * Commits a batch so that a failure caused by one request fails that request alone. Failures the writer can tie to
   * an item (its body cannot be canonicalised, its rows cannot be built) are answered and the item dropped before it
   * keeps a number (commit below). A failure of the whole attempt (an insert refused, a unique constraint, the signer)
   * cannot be tied to an item: the batch is split in halves and each half committed on its own, down to single
   * requests, so only the culprit fails and every committed half is numbered consecutively from where the last ended.
   * A batch-wide refusal (a 503: the service, the signing key or the number series) is everyone's and is not split.
   */
  private async commitIsolating(batch: Waiting[], head?: HeadStart, beforeCommit?: BeforeCommit): Promise<void> {
    // commit() takes out (and answers) the requests it refused on their own; `live` is what is left.
    const live = [...batch];
    try {
      const issued = await this.commit(live, head, beforeCommit);
      live.forEach((w, i) => w.resolve(issued[i]!));
    } catch (err) {
      if (live.length > 1 && !isBatchWide(err)) {
        const half = Math.ceil(live.length / 2);
        await this.commitIsolating(live.slice(0, half));
        await this.commitIsolating(live.slice(half));
        return;
      }
      // The signer failing for a request on its own (its worker died, the pool is closing) is a 503 to retry.
      const answer = err instanceof SignerFailed ? new AppError('SIGNING_KEY_UNAVAILABLE', { cause: err.cause }) : err;
      for (const w of live) w.reject(answer);
    }
  }

  /**
   * Numbers, signs and commits the requests of `live`, removing from it (and rejecting) those over their quota and
   * those that fail on their own; the rest are renumbered from the same sequence, so a dropped request takes no number.
   */
  private async commit(live: Waiting[], head?: HeadStart, beforeCommit?: BeforeCommit): Promise<IssuedInvoice[]> {
    // A head start fixed the time its numbers were made at (issuedAt is signed), so it is this batch's time.
    const now = head?.now ?? this.deps.clock.now();
    const period = quotaPeriod(now);
    const first = live[0]!.req;
    const series = seriesKey(chinaYear(now), first.regionCode, Number(first.channel));
    let seq = this.nextSeq.get(series) ?? (await this.deps.uow.read.series.nextSeq(series));
    let ahead = head;
    // Only contention counts towards the limit: each item failure removes a request, so those loops end by themselves.
    for (let contended = 0; contended < MAX_RENUMBER;) {
      await this.dropOverQuota(live, period);
      if (live.length === 0) return [];
      if (seq + live.length - 1 > MAX_SEQ) throw new AppError('NUMBER_SERIES_EXHAUSTED');
      // The head start is used once, on the first attempt, and only if this batch would have been numbered just so.
      const guess = ahead !== undefined && holds(ahead, live, series, seq) ? await ahead.pending : undefined;
      ahead = undefined;
      const pending = guess ?? (await this.numberAndSign(live, now, seq));
      if (live.length === 0) return [];
      if (pending === undefined) continue;
      beforeCommit?.(series, seq + pending.length, now);
      const started = performance.now();
      const result = await commitIssueBatch(this.deps.uow, now, { series, firstSeq: seq, items: pending });
      if (result.ok) {
        this.deps.observe?.committed(pending.length, (performance.now() - started) / 1000);
        this.nextSeq.set(series, seq + live.length);
        this.quota.committed(result.usage);
        this.deps.onCommitted?.();
        return result.issued;
      }
      if (result.reason === 'items-failed') {
        const failed = new Map(result.failures.map((f) => [f.index, f.error]));
        for (let i = live.length - 1; i >= 0; i--) if (failed.has(i)) live.splice(i, 1)[0]!.reject(failed.get(i));
        continue;
      }
      contended++;
      if (result.reason === 'series-moved') {
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(MAX_BACKOFF_MS, 2 ** contended)));
        // Where the series is now, not where it was when this attempt lost: the winners went on meanwhile.
        seq = Math.max(result.nextSeq, await this.deps.uow.read.series.nextSeq(series));
      } else this.quota.forget(result.tenantId);
    }
    throw new AppError('SERVICE_UNAVAILABLE', { detail: 'the number series or issuing quota is contended; retry' });
  }

  /** Rejects and removes the requests that would exceed their tenant's quota, before any number is given out. */
  private async dropOverQuota(live: Waiting[], period: string): Promise<void> {
    // The quota counts the amount excluding VAT. A red-letter request would claim its negative amount here and so
    // always be admitted (quotaCharge ≤ 0), giving quota back when it commits.
    const verdicts = await this.quota.admit(live.map((w) => ({ tenantId: w.req.tenantId, amount: w.req.draft.totals.amount })), period);
    for (let i = live.length - 1; i >= 0; i--) {
      const refusal = verdicts[i];
      if (refusal !== undefined) live.splice(i, 1)[0]!.reject(refusal);
    }
  }

  /**
   * Numbers `live` consecutively from `firstSeq` and signs it. A request whose body cannot be prepared (canonicalised,
   * hashed, put in a QR code) is rejected and removed before it gets a number. Undefined when a request failed after
   * numbering (its signature could not be used): it is removed, and the caller numbers the rest again.
   */
  private async numberAndSign(live: Waiting[], now: Date, firstSeq: number): Promise<PendingIssue[] | undefined> {
    const { prepared, failed } = numberBatch(live, now, firstSeq, this.deps.signingAlgorithm);
    for (const { w, error } of failed) {
      live.splice(live.indexOf(w), 1);
      w.reject(error);
    }
    if (prepared.length === 0) return [];
    let signatures: { keyId: string; der: Uint8Array }[];
    try {
      const started = performance.now();
      signatures = await this.signAll(prepared);
      this.deps.observe?.signed((performance.now() - started) / 1000);
    } catch (err) {
      throw new SignerFailed(err);
    }
    const { pending, failed: unsealed } = sealBatch(prepared, signatures, this.deps.verifyUrl());
    for (const { w, error } of unsealed) {
      live.splice(live.indexOf(w), 1);
      w.reject(error);
    }
    return unsealed.length > 0 ? undefined : pending;
  }

  /**
   * The signatures of the prepared messages, in order, each with its key's id: one signing call per algorithm in the
   * batch (usually one), run together.
   */
  private async signAll(prepared: { message: Uint8Array; alg: SigningAlgorithm }[]): Promise<{ keyId: string; der: Uint8Array }[]> {
    const signer = this.deps.signer;
    const first = prepared[0]!.alg;
    if (prepared.every((p) => p.alg === first)) {
      const keyId = await this.keyIdOf(first);
      return (await signer.sign(prepared.map((p) => p.message), first)).map((der) => ({ keyId, der }));
    }
    const out = new Array<{ keyId: string; der: Uint8Array }>(prepared.length);
    const byAlg = new Map<SigningAlgorithm, number[]>();
    prepared.forEach((p, i) => {
      const list = byAlg.get(p.alg);
      if (list) list.push(i);
      else byAlg.set(p.alg, [i]);
    });
    await Promise.all([...byAlg].map(async ([alg, indices]) => {
      const keyId = await this.keyIdOf(alg);
      const sigs = await signer.sign(indices.map((i) => prepared[i]!.message), alg);
      indices.forEach((i, k) => {
        out[i] = { keyId, der: sigs[k]! };
      });
    }));
    return out;
  }

  private keyIdOf(alg: SigningAlgorithm): Promise<string> | string {
    const signer = this.deps.signer;
    if (alg === 'SM2') return signer.keyId;
    if (!signer.keyIdFor) throw new Error(`the signer has no ${alg} key`);
    return signer.keyIdFor(alg);
  }
}

/**
 * Whether a head start numbered exactly what this attempt would: the same series, the same first sequence, the same
 * requests in the same order (admission dropped none of them).
 */
function holds(head: HeadStart, live: readonly Waiting[], series: string, seq: number): boolean {
  return head.series === series && head.firstSeq === seq && head.requests.length === live.length && head.requests.every((w, i) => w === live[i]);
}

/** The signer refused a batch; whose message caused it (if any) is found by splitting the batch. */
class SignerFailed extends Error {
  constructor(cause: unknown) {
    super('signing failed', { cause });
  }
}

/** A refusal that would be the same for every request of the batch: splitting the batch would only repeat it. */
export function isBatchWide(err: unknown): boolean {
  return err instanceof AppError && BATCH_WIDE.has(err.code);
}

/** The refusals that are the same for every request of a batch (each answered 503 Service Unavailable). */
const BATCH_WIDE: ReadonlySet<AppError['code']> = new Set([
  'SERVICE_UNAVAILABLE', 'SIGNING_KEY_UNAVAILABLE', 'NUMBER_SERIES_EXHAUSTED', 'STORAGE_UNAVAILABLE',
  'MASTER_KEY_UNAVAILABLE', 'FIELD_PROTECTION_OFF',
]);
