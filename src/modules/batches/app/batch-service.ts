// Batch issuance (POST /v1/invoice-batches, `fapiao issue`): every item is checked first with exactly the rules of a
// single issue request (the request schema, then InvoiceService.prepare: party rules and tax math), and must carry
// an externalId, its idempotency key. The batch and its items are stored in one unit of work with its audit entry and
// its `invoice-batch.accepted` event before the caller hears of it; the valid items are then issued in the background
// (batch-job.ts). Bad items are answered per item (index, and line for JSON Lines and CSV) and never stop the others.
import { randomBytes } from 'node:crypto';
import { AppError } from '../../../shared/errors.ts';
import type { IssueInvoiceInput } from '../../../shared/invoice.ts';
import type { Clock } from '../../../shared/clock.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import { EVENT_TYPES, outboxEvent } from '../../events/index.ts';
import { stampFields } from '../../audit/index.ts';
import type { InvoiceService, IssueActor } from '../../invoicing/index.ts';
import type { Tenant } from '../../tenants/index.ts';
import { problemOf, type ItemProblem } from '../domain/problem.ts';
import type { Batch, BatchCounts, BatchFormat, BatchItem, NewBatchItem } from '../storage/batch-repository.ts';
import type { BatchTx } from './batch-tx.ts';

/** The most invoices one batch may hold (issue 10). */
export const MAX_BATCH_ITEMS = 1000;

export const BATCH_ACCEPTED = 'invoice-batch.accepted' as const;
export const BATCH_COMPLETED = 'invoice-batch.completed' as const;
export const BATCH_SUBMIT_ACTION = 'invoice-batch.submit';
export const BATCH_COMPLETE_ACTION = 'invoice-batch.complete';

/** One item as the adapter read it: a value to check, or why it could not be read (a malformed JSON line). */
export type SubmittedItem = { value: unknown; line?: number } | { error: AppError; line: number };

export interface RefusedItem {
  index: number;
  line?: number;
  externalId?: string;
  problem: ItemProblem;
}

export interface BatchAccepted {
  batch: Batch;
  accepted: number;
  invalid: number;
  /** The refused items, in index order. */
  problems: RefusedItem[];
}

export interface BatchView extends Batch {
  counts: BatchCounts;
  items: BatchItem[];
  /** The cursor of the next page of items, when there is one. */
  nextCursor?: string;
}

export interface BatchServiceDeps {
  uow: UnitOfWork<BatchTx>;
  clock: Clock;
  invoices: Pick<InvoiceService, 'prepare'>;
  /** The schema of POST /v1/invoices as a check (platform/http/schema-check.ts): its problem, or undefined. */
  checkSchema: (value: unknown) => AppError | undefined;
  maxPageSize: number;
  /** Called after a batch is stored (the job on this node starts at once instead of at its next poll). */
  onAccepted?: () => void;
}

const BATCH_ID = /^bat_[0-9a-f]{28}$/;
const ITEM_CURSOR = /^i([0-9]{1,4})$/;

export class BatchService {
  constructor(private readonly deps: BatchServiceDeps) {}

  /** Checks every item, stores the batch and its items (one unit of work) and answers what was accepted. */
  async submit(tenant: Tenant, items: readonly SubmittedItem[], opts: { format: BatchFormat; by: IssueActor }): Promise<BatchAccepted> {
    if (items.length === 0) throw new AppError('BATCH_EMPTY', { detail: 'send at least one invoice' });
    if (items.length > MAX_BATCH_ITEMS) {
      throw new AppError('BATCH_TOO_LARGE', { detail: `a batch holds at most ${MAX_BATCH_ITEMS} invoices; this one holds ${items.length}`, extensions: { limit: String(MAX_BATCH_ITEMS) } });
    }
    const seen = new Map<string, number>();
    const rows: NewBatchItem[] = [];
    const problems: RefusedItem[] = [];
    items.forEach((item, index) => {
      const line = item.line;
      const where = { index, ...(line !== undefined ? { line } : {}) };
      const checked = 'error' in item ? { error: item.error } : this.check(tenant, item.value, seen, index);
      if ('input' in checked) {
        rows.push({ ...where, externalId: checked.input.externalId!, input: JSON.stringify(checked.input) });
        return;
      }
      const externalId = 'value' in item ? externalIdOf(item.value) : undefined;
      const problem = problemOf(checked.error);
      rows.push({ ...where, ...(externalId !== undefined ? { externalId } : {}), problem });
      problems.push({ ...where, ...(externalId !== undefined ? { externalId } : {}), problem });
    });
    const at = this.deps.clock.now();
    const id = newBatchId(at);
    const accepted = rows.length - problems.length;
    // The tenant's data key in its own statement, never inside the unit of work (platform/storage/field-keys.ts).
    const dataKey = await this.deps.uow.read.invoices.dataKeyFor(tenant.id);
    const batch = await this.deps.uow.run(at, async (tx) => {
      const stored = await tx.invoiceBatches.insertBatch({
        tenantId: tenant.id, id, state: 'accepted', format: opts.format, total: rows.length, invalid: problems.length,
        ...stampFields(opts.by),
      }, rows, dataKey);
      const events = [outboxEvent(tenant.id, BATCH_ACCEPTED, EVENT_TYPES[BATCH_ACCEPTED].version, at, { batchId: id, total: rows.length, accepted, invalid: problems.length }, opts.by)];
      if (stored.state === 'completed') {
        events.push(outboxEvent(tenant.id, BATCH_COMPLETED, EVENT_TYPES[BATCH_COMPLETED].version, at, { batchId: id, total: rows.length, issued: 0, failed: 0, invalid: problems.length }, opts.by));
      }
      await tx.outbox.append(events);
      await tx.audit.append([{
        tenantId: tenant.id, ...stampFields(opts.by), action: BATCH_SUBMIT_ACTION, target: id, outcome: 'success',
        details: { total: rows.length, accepted, invalid: problems.length, format: opts.format },
      }]);
      return stored;
    });
    if (accepted > 0) this.deps.onAccepted?.();
    return { batch, accepted, invalid: problems.length, problems };
  }

  /** The rules of a single issue request, plus the batch's own: an externalId, not named twice in the batch. */
  private check(tenant: Tenant, value: unknown, seen: Map<string, number>, index: number): { input: IssueInvoiceInput } | { error: unknown } {
    const schema = this.deps.checkSchema(value);
    if (schema) return { error: schema };
    const input = value as IssueInvoiceInput;
    if (input.externalId === undefined) {
      return { error: new AppError('EXTERNAL_ID_REQUIRED', { field: '/externalId', detail: 'give every invoice of a batch its own externalId: it makes a resubmission issue nothing twice' }) };
    }
    const first = seen.get(input.externalId);
    if (first !== undefined) return { error: new AppError('EXTERNAL_ID_DUPLICATE', { field: '/externalId', detail: `item ${first} has the same externalId` }) };
    seen.set(input.externalId, index);
    try {
      this.deps.invoices.prepare(tenant, input);
    } catch (error) {
      if (error instanceof AppError) return { error };
      throw error;
    }
    return { input };
  }

  /** A batch of the tenant with its progress and a page of its items; another tenant's batch is not found. */
  async get(tenantId: string, id: string, page: { cursor?: string; limit?: number } = {}): Promise<BatchView> {
    const batch = BATCH_ID.test(id) ? await this.deps.uow.read.invoiceBatches.get(tenantId, id) : undefined;
    if (!batch) throw new AppError('INVOICE_BATCH_NOT_FOUND', { field: '/id' });
    let from = 0;
    if (page.cursor !== undefined) {
      const m = ITEM_CURSOR.exec(page.cursor);
      if (!m) throw cursorInvalid();
      from = Number(m[1]);
    }
    const limit = Math.min(page.limit ?? 100, this.deps.maxPageSize);
    const [counts, items] = await Promise.all([
      this.deps.uow.read.invoiceBatches.counts(id),
      this.deps.uow.read.invoiceBatches.items(id, from, limit + 1),
    ]);
    const more = items.length > limit;
    const shown = more ? items.slice(0, limit) : items;
    return { ...batch, counts, items: shown, ...(more ? { nextCursor: `i${shown.at(-1)!.index + 1}` } : {}) };
  }

  /** The tenant's batches, newest first, with their progress. */
  async list(tenantId: string, page: { cursor?: string; limit?: number } = {}): Promise<{ items: (Batch & { counts: BatchCounts })[]; nextCursor?: string }> {
    if (page.cursor !== undefined && !BATCH_ID.test(page.cursor)) throw cursorInvalid();
    const limit = Math.min(page.limit ?? 50, this.deps.maxPageSize);
    const batches = await this.deps.uow.read.invoiceBatches.list(tenantId, limit + 1, page.cursor);
    const more = batches.length > limit;
    const shown = more ? batches.slice(0, limit) : batches;
    const items = await Promise.all(shown.map(async (b) => ({ ...b, counts: await this.deps.uow.read.invoiceBatches.counts(b.id) })));
    return { items, ...(more ? { nextCursor: shown.at(-1)!.id } : {}) };
  }
}

function cursorInvalid(): AppError {
  return new AppError('CURSOR_INVALID', { field: 'querystring:/cursor', detail: 'use the nextCursor of a previous page, unchanged' });
}

/** A time-ordered id: the batch list pages by it, newest first. */
function newBatchId(at: Date): string {
  return `bat_${at.getTime().toString(16).padStart(12, '0')}${randomBytes(8).toString('hex')}`;
}

/** The externalId of an item that failed its checks, when it has a well-formed one (so the caller can match it). */
function externalIdOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as { externalId?: unknown }).externalId;
  return typeof id === 'string' && /^[\x21-\x7e]{1,64}$/.test(id) ? id : undefined;
}
