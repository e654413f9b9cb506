// Issues the valid items of accepted batches, on every node: a worker leases pending items (FOR UPDATE SKIP LOCKED on
// PostgreSQL; on SQLite the write transaction is the single writer), hands them all at once to the issue writer, so
// they are numbered, signed and committed in the writer's batches exactly like single requests (same numbering,
// signatures, ledger leaf, outbox event and audit entry), and each item is marked issued *inside* its invoice's
// issuing transaction (the PendingIssue.within hook of commit-issue-batch.ts). So an item is issued exactly once:
// either the invoice and the mark commit together, or neither does and the item is still pending.
//
// After a crash the leases of the dead node run out (`leaseMs`) and any node takes the items again. An item's
// externalId is its idempotency: one already issued (by an earlier batch, a single request, or a node that lost its
// lease) is recorded with the existing invoice's number instead of being issued again. Refusals that are everyone's
// (storage or signing unavailable: isBatchWide) leave the item pending for a later attempt; any other refusal fails
// the item alone with its problem. When no item of a batch is pending any more, the batch completes (one node wins a
// compare-and-set) with its audit entry and `invoice-batch.completed` event.
import type { Logger } from 'pino';
import { AppError } from '../../../shared/errors.ts';
import type { IssueInvoiceInput } from '../../../shared/invoice.ts';
import type { Clock } from '../../../shared/clock.ts';
import { UniqueViolation } from '../../../platform/storage/storage-errors.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import { EVENT_TYPES, outboxEvent } from '../../events/index.ts';
import { isBatchWide, type InvoiceService, type IssueWriter } from '../../invoicing/index.ts';
import type { Tenant } from '../../tenants/index.ts';
import { problemOf } from '../domain/problem.ts';
import type { Batch, ClaimedItem } from '../storage/batch-repository.ts';
import { BATCH_COMPLETE_ACTION, BATCH_COMPLETED } from './batch-service.ts';
import { asBatchTx, type BatchTx } from './batch-tx.ts';

export interface BatchJobDeps {
  uow: UnitOfWork<BatchTx>;
  clock: Clock;
  invoices: Pick<InvoiceService, 'prepare'>;
  writer: Pick<IssueWriter, 'write'>;
  log: Logger;
  /** How long a node holds the items it took; a dead node's items are taken again after it. */
  leaseMs: number;
  /** Items one worker takes at a time (the writer's batch size is a good choice). */
  claimSize: number;
  /** Workers per node: two keep the writer's queue full while one is between rounds. */
  workers?: number;
  /** How long an idle worker sleeps before looking again (a submission on this node wakes it at once). */
  idleMs?: number;
}

/** An unexpected failure (not an AppError) is retried this often before the item fails with INTERNAL. */
const MAX_ATTEMPTS = 5;
const RETRY_MS = 1000;

/** Thrown in the issuing transaction when the item was settled meanwhile (another node): rolls that invoice back. */
class ItemSettled extends Error {
  constructor() {
    super('the batch item is no longer pending');
  }
}

export class BatchIssueJob {
  private stopped = true;
  private loops: Promise<void>[] = [];
  private wakers = new Set<() => void>();

  constructor(private readonly deps: BatchJobDeps) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loops = Array.from({ length: this.deps.workers ?? 2 }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.nudge();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** Wakes idle workers (a batch was just accepted on this node). */
  nudge(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /**
   * Works on pending items until the batch `batchId` completes (the CLI, without the background workers); `onRound`
   * after each round, e.g. for a progress bar. Items another process holds are waited for.
   */
  async runUntilDone(tenantId: string, batchId: string, onRound?: () => Promise<void> | void): Promise<Batch> {
    for (;;) {
      const batch = await this.deps.uow.read.invoiceBatches.get(tenantId, batchId);
      if (!batch) throw new AppError('INVOICE_BATCH_NOT_FOUND');
      if (batch.state === 'completed') return batch;
      const n = await this.round();
      await onRound?.();
      if (n === 0) {
        await this.deps.uow.run(this.deps.clock.now(), (tx) => this.complete(tx, batchId));
        await sleep(200);
      }
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let n = 0;
      try {
        n = await this.round();
      } catch (err) {
        this.deps.log.error({ err }, 'batch issuance round failed; retrying');
      }
      if (n === 0 && !this.stopped) await this.idle();
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, this.deps.idleMs ?? 1000);
      timer.unref();
      this.wakers.add(done);
    });
  }

  /** Leases a round of items, issues them all at once, completes the batches that are done; answers how many. */
  async round(): Promise<number> {
    const now = this.deps.clock.now();
    const until = new Date(now.getTime() + this.deps.leaseMs).toISOString();
    if (!(await this.deps.uow.read.invoiceBatches.anyClaimable(now.toISOString()))) return 0;
    const claimed = await this.deps.uow.run(now, (tx) => tx.invoiceBatches.claim(this.deps.claimSize, until));
    if (claimed.length === 0) return 0;
    const tenants = new Map<string, Promise<Tenant | undefined>>();
    const batches = new Map<string, Promise<Batch | undefined>>();
    await Promise.all(claimed.map((item) => this.issue(item, tenants, batches)));
    for (const batchId of new Set(claimed.map((c) => c.batchId))) {
      await this.deps.uow.run(this.deps.clock.now(), (tx) => this.complete(tx, batchId));
    }
    return claimed.length;
  }

  private async issue(item: ClaimedItem, tenants: Map<string, Promise<Tenant | undefined>>, batches: Map<string, Promise<Batch | undefined>>): Promise<void> {
    const { uow } = this.deps;
    try {
      const input = JSON.parse(item.input) as IssueInvoiceInput;
      if (!tenants.has(item.tenantId)) tenants.set(item.tenantId, uow.read.tenants.get(item.tenantId));
      if (!batches.has(item.batchId)) batches.set(item.batchId, uow.read.invoiceBatches.get(item.tenantId, item.batchId));
      const tenant = await tenants.get(item.tenantId);
      const batch = await batches.get(item.batchId);
      if (!tenant || !batch) throw new AppError('TENANT_NOT_FOUND');
      if (await this.recordExisting(item)) return;
      // The same rules as at submission and as a single request, against the tenant as it is now.
      const prepared = this.deps.invoices.prepare(tenant, input);
      await this.deps.writer.write({
        ...prepared,
        // Accepted with the batch (202) and bounded by the claim: not refused by the front door's admission limits.
        admitted: true,
        // As the submitter, from where it submitted, for the request that submitted the batch.
        audit: { actor: batch.actor, ...(batch.ip !== undefined ? { ip: batch.ip } : {}), ...(batch.requestId !== undefined ? { requestId: batch.requestId } : {}) },
        within: async (tx, invoice) => {
          if (!(await asBatchTx(tx).invoiceBatches.markIssued(item.batchId, item.index, invoice.number))) throw new ItemSettled();
        },
      });
    } catch (err) {
      await this.afterFailure(item, err);
    }
  }

  /** The item's externalId already names an invoice of the tenant: record that one, issue nothing. */
  private async recordExisting(item: ClaimedItem): Promise<boolean> {
    if (item.externalId === undefined) return false;
    const existing = await this.deps.uow.read.invoices.findByExternalId(item.tenantId, item.externalId);
    if (!existing) return false;
    await this.deps.uow.run(this.deps.clock.now(), (tx) => tx.invoiceBatches.markIssued(item.batchId, item.index, existing.number));
    return true;
  }

  private async afterFailure(item: ClaimedItem, err: unknown): Promise<void> {
    const { uow, clock, log } = this.deps;
    try {
      if (err instanceof ItemSettled) return;
      // Another node (or request) committed the same externalId a moment earlier.
      if (err instanceof UniqueViolation && (await this.recordExisting(item))) return;
      const retry = isBatchWide(err) || !(err instanceof AppError);
      if (retry && item.attempts < MAX_ATTEMPTS) {
        if (!(err instanceof AppError)) log.warn({ err, batchId: item.batchId, index: item.index }, 'issuing a batch item failed; retrying');
        const at = clock.now();
        await uow.run(at, (tx) => tx.invoiceBatches.release(item.batchId, item.index, new Date(at.getTime() + RETRY_MS * item.attempts).toISOString()));
        return;
      }
      if (!(err instanceof AppError)) log.error({ err, batchId: item.batchId, index: item.index }, 'a batch item failed for good');
      await uow.run(clock.now(), (tx) => tx.invoiceBatches.markFailed(item.batchId, item.index, problemOf(err)));
    } catch (again) {
      // The lease runs out and the item is taken again.
      log.error({ err: again, batchId: item.batchId, index: item.index }, 'recording the outcome of a batch item failed');
    }
  }

  /** Completes the batch when nothing is pending: its audit entry and event, once (a compare-and-set on its state). */
  private async complete(tx: BatchTx, batchId: string): Promise<void> {
    const done = await tx.invoiceBatches.completeIfDone(batchId);
    if (!done) return;
    const counts = await tx.invoiceBatches.counts(batchId);
    const at = this.deps.clock.now();
    await tx.outbox.append([outboxEvent(done.tenantId, BATCH_COMPLETED, EVENT_TYPES[BATCH_COMPLETED].version, at, {
      batchId, total: done.total, issued: counts.issued, failed: counts.failed, invalid: counts.invalid,
    }, { ...(done.requestId !== undefined ? { requestId: done.requestId } : {}) })]);
    await tx.audit.append([{
      tenantId: done.tenantId, actor: 'system', action: BATCH_COMPLETE_ACTION, target: batchId, outcome: 'success',
      ...(done.requestId !== undefined ? { requestId: done.requestId } : {}),
      details: { issued: counts.issued, failed: counts.failed, invalid: counts.invalid },
    }]);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
