// ERP matching (对账): an upload of the ERP's own invoice list is streamed into `reconciliation_rows` (a bounded batch
// at a time, never the whole body in memory), then matched in the background against our invoices (the job,
// app/reconciliation-job.ts, or the CLI directly): each row matched, differing (amount, tax, date, buyer), naming no
// invoice of ours, or naming one a previous row already named; then every invoice of ours in the period that no row
// named. Totals are counted in SQL at the end. Malformed lines are results too, with their line number.
//
// Units of work: the upload's first row, each batch of parsed rows, and the queueing with its audit entry
// (`reconciliation.upload`, or the refusal with outcome failure); matching writes each batch of results with its
// progress and renews the run's lease (a node that dies mid-run leaves a lease that runs out, and another node starts
// the run again from its first row, deleting what the dead one wrote).
import { randomBytes } from 'node:crypto';
import { AppError } from '../../../shared/errors.ts';
import type { Clock } from '../../../shared/clock.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import { stampEntry, type AuditRepository, type AuditStamp } from '../../audit/index.ts';
import type { Tenant } from '../../tenants/index.ts';
import { parseCsvHeader, parseCsvRow, parseJsonRow, type CsvHeader, type ErpRow, type MalformedRow, type UploadFormat } from '../domain/erp-rows.ts';
import { LineSplitter } from '../domain/line-splitter.ts';
import { compare, type ResultFilter } from '../domain/matching.ts';
import type { DateRange } from '../domain/period.ts';
import type { InvoiceFacts, Reconciliation, ReconciliationRepository, ResultRow, StoredRow } from '../storage/reconciliation-repository.ts';

export interface ReconciliationTx {
  reconciliations: ReconciliationRepository;
  audit: AuditRepository;
}

export interface ReconciliationLimits {
  /** Bytes of one upload. */
  maxUploadBytes: number;
  /** Data lines of one upload. */
  maxRows: number;
  /** Bytes of one line. */
  maxLineBytes: number;
}

export const DEFAULT_LIMITS: ReconciliationLimits = { maxUploadBytes: 256 * 1024 * 1024, maxRows: 2_000_000, maxLineBytes: 4096 };

export interface ReconciliationServiceDeps {
  uow: UnitOfWork<ReconciliationTx>;
  clock: Clock;
  maxPageSize: number;
  limits?: Partial<ReconciliationLimits>;
  /** Called once an upload is queued (the job of this node wakes). */
  onQueued?: () => void;
  /** Rows per batch of parsing and of matching. */
  batchSize?: number;
  leaseMs?: number;
}

export interface UploadOptions {
  format: UploadFormat;
  range?: DateRange;
  by: AuditStamp;
}

export interface ResultPage {
  items: ResultRow[];
  next?: string;
}

/** A reconciliation id: the upload time in milliseconds (13 digits) and 12 random hex digits, like a form number. */
export const RECONCILIATION_ID = /^rc_[0-9]{13}[0-9a-f]{12}$/;

const CURSOR = /^[0-9]{1,15}$/;

export class ReconciliationService {
  private readonly limits: ReconciliationLimits;
  private readonly batch: number;
  private readonly leaseMs: number;

  constructor(private readonly deps: ReconciliationServiceDeps) {
    this.limits = { ...DEFAULT_LIMITS, ...deps.limits };
    this.batch = deps.batchSize ?? 5000;
    this.leaseMs = deps.leaseMs ?? 60_000;
  }

  private now(): Date {
    return this.deps.clock.now();
  }

  /**
   * Reads the upload line by line and stores its rows; answers the reconciliation, queued. Refuses an upload over the
   * limits (413), one whose CSV header lacks a needed column, or one with no data line (422): the reconciliation is
   * then failed, with an audit entry of the refusal.
   */
  async upload(tenant: Tenant, body: AsyncIterable<Buffer | string>, opts: UploadOptions): Promise<Reconciliation> {
    const at = this.now();
    const id = `rc_${String(at.getTime()).padStart(13, '0')}${randomBytes(6).toString('hex')}`;
    await this.deps.uow.run(at, (tx) => tx.reconciliations.insert({ id, tenantId: tenant.id, format: opts.format, ...(opts.range ? { range: opts.range } : {}), createdBy: opts.by.actor }));
    try {
      const counts = await this.receive(id, body, opts.format);
      const range = opts.range ?? (await this.deps.uow.read.reconciliations.rowDates(id));
      await this.deps.uow.run(this.now(), async (tx) => {
        await tx.reconciliations.queue(id, { ...counts, range });
        await tx.audit.append([{
          ...stampEntry(opts.by, 'reconciliation.upload', id, tenant.id),
          details: { format: opts.format, rows: counts.rows, malformed: counts.malformed, from: range?.from ?? null, to: range?.to ?? null },
        }]);
      });
    } catch (error) {
      const reason = error instanceof AppError ? error.code : 'INTERNAL';
      await this.deps.uow.run(this.now(), async (tx) => {
        await tx.reconciliations.fail(id, reason);
        await tx.audit.append([{ ...stampEntry(opts.by, 'reconciliation.upload', id, tenant.id, 'failure'), details: { format: opts.format, reason } }]);
      }).catch(() => undefined);
      throw error;
    }
    this.deps.onQueued?.();
    return (await this.deps.uow.read.reconciliations.byId(id))!;
  }

  private async receive(id: string, body: AsyncIterable<Buffer | string>, format: UploadFormat): Promise<{ rows: number; malformed: number }> {
    const { maxUploadBytes, maxRows, maxLineBytes } = this.limits;
    const splitter = new LineSplitter(maxLineBytes);
    let header: CsvHeader | undefined;
    let bytes = 0;
    let rows = 0;
    let malformed = 0;
    let pending: (ErpRow | MalformedRow)[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      await this.deps.uow.run(this.now(), async (tx) => {
        await tx.reconciliations.insertRows(id, batch);
        await tx.reconciliations.setReceived(id, { rows, malformed });
      });
    };
    const take = async (line: { lineNo: number; text: string } | { lineNo: number; error: string }) => {
      if ('text' in line && line.text.trim() === '') return;
      if (format === 'csv' && header === undefined) {
        if ('error' in line) throw new AppError('RECONCILIATION_UPLOAD_INVALID', { detail: `line ${line.lineNo}: ${line.error}` });
        const h = parseCsvHeader(line.text);
        if ('error' in h) throw new AppError('RECONCILIATION_UPLOAD_INVALID', { detail: `line ${line.lineNo}: ${h.error}` });
        header = h;
        return;
      }
      rows += 1;
      if (rows > maxRows) throw new AppError('PAYLOAD_TOO_LARGE', { detail: `an upload has at most ${maxRows} rows` });
      const parsed = 'error' in line
        ? { ok: false as const, row: { lineNo: line.lineNo, error: line.error } }
        : format === 'csv' ? parseCsvRow(line.lineNo, line.text, header!) : parseJsonRow(line.lineNo, line.text);
      if (!parsed.ok) malformed += 1;
      pending.push(parsed.row);
      if (pending.length >= this.batch) await flush();
    };
    for await (const chunk of body) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      bytes += buf.length;
      if (bytes > maxUploadBytes) throw new AppError('PAYLOAD_TOO_LARGE', { detail: `an upload is at most ${maxUploadBytes} bytes` });
      for (const line of splitter.push(buf)) await take(line);
    }
    for (const line of splitter.end()) await take(line);
    if (format === 'csv' && header === undefined) throw new AppError('RECONCILIATION_UPLOAD_INVALID', { detail: 'the upload is empty: a CSV upload starts with its header line' });
    if (rows === 0) throw new AppError('RECONCILIATION_UPLOAD_INVALID', { detail: 'the upload has no data line' });
    await flush();
    return { rows, malformed };
  }

  /** The tenant's reconciliation; RECONCILIATION_NOT_FOUND for an unknown id or another tenant's. */
  async get(tenant: Tenant, id: string): Promise<Reconciliation> {
    const r = RECONCILIATION_ID.test(id) ? await this.deps.uow.read.reconciliations.get(tenant.id, id) : undefined;
    if (!r) throw new AppError('RECONCILIATION_NOT_FOUND', { field: '/id' });
    return r;
  }

  /** A page of results; the cursor is the last seq of the previous page. */
  async results(tenant: Tenant, id: string, q: { filter?: ResultFilter; cursor?: string; limit?: number }): Promise<ResultPage> {
    await this.get(tenant, id);
    if (q.cursor !== undefined && !CURSOR.test(q.cursor)) throw new AppError('CURSOR_INVALID', { field: '/cursor' });
    const limit = Math.min(q.limit ?? 100, this.deps.maxPageSize);
    const items = await this.deps.uow.read.reconciliations.results(id, q.filter, q.cursor === undefined ? 0 : Number(q.cursor), limit + 1);
    const page = items.slice(0, limit);
    return { items: page, ...(items.length > limit ? { next: String(page.at(-1)!.seq) } : {}) };
  }

  /** Every result in order, a page at a time (for CSV downloads of any size). */
  async *allResults(tenant: Tenant, id: string, filter?: ResultFilter): AsyncGenerator<ResultRow> {
    await this.get(tenant, id);
    let after = 0;
    for (;;) {
      const items = await this.deps.uow.read.reconciliations.results(id, filter, after, 1000);
      yield* items;
      if (items.length < 1000) return;
      after = items.at(-1)!.seq;
    }
  }

  /** Takes one queued (or abandoned) reconciliation and runs it; false when there was none. */
  /**
   * Takes one queued (or abandoned) reconciliation and runs it; false when there was none. `stopping` is asked between
   * batches: a run left off keeps its lease until it ends, then is taken again from its start (here or elsewhere).
   */
  async runNext(stopping: () => boolean = () => false): Promise<boolean> {
    const now = this.now();
    const id = await this.deps.uow.run(now, (tx) => tx.reconciliations.claim(now.toISOString(), new Date(now.getTime() + this.leaseMs).toISOString()));
    if (id === undefined) return false;
    await this.run(id, undefined, stopping);
    return true;
  }

  /** Claims and runs the reconciliation `id` in this process (the CLI, which has no job); answers it when done. */
  async runNow(id: string, onProgress?: (r: { phase: string; done: number; total: number }) => void): Promise<Reconciliation> {
    const now = this.now();
    const claimed = await this.deps.uow.run(now, (tx) => tx.reconciliations.claim(now.toISOString(), new Date(now.getTime() + this.leaseMs).toISOString(), id));
    if (claimed !== id) throw new AppError('SERVICE_UNAVAILABLE', { detail: 'the reconciliation is being run elsewhere' });
    await this.run(id, onProgress);
    return (await this.deps.uow.read.reconciliations.byId(id))!;
  }

  private async run(id: string, onProgress?: (r: { phase: string; done: number; total: number }) => void, stopping: () => boolean = () => false): Promise<void> {
    const repo = this.deps.uow.read.reconciliations;
    const recon = await repo.byId(id);
    if (!recon) return;
    const lease = () => new Date(this.now().getTime() + this.leaseMs).toISOString();
    await this.deps.uow.run(this.now(), (tx) => tx.reconciliations.deleteResults(id));
    let after = 0;
    let done = 0;
    for (;;) {
      if (stopping()) return;
      const rows = await repo.rowsAfter(id, after, this.batch);
      if (rows.length === 0) break;
      const results = await this.match(recon.tenantId, id, rows);
      after = rows.at(-1)!.lineNo;
      done += rows.length;
      const progress = { phase: 'matching' as const, done, total: recon.rows };
      await this.deps.uow.run(this.now(), async (tx) => {
        await tx.reconciliations.insertResults(id, results);
        await tx.reconciliations.progress(id, { ...progress, leaseUntil: lease() });
      });
      onProgress?.(progress);
    }
    if (recon.range) {
      const total = await repo.countInRange(recon.tenantId, recon.range);
      let seq = after;
      let afterNumber = '';
      let found = 0;
      for (;;) {
        if (stopping()) return;
        const missing = await repo.missingTheirs(recon.tenantId, id, recon.range, afterNumber, this.batch);
        if (missing.length === 0) break;
        afterNumber = missing.at(-1)!.number;
        found += missing.length;
        const results = missing.map((inv) => missingTheirs((seq += 1), inv));
        const progress = { phase: 'missing-theirs' as const, done: found, total };
        await this.deps.uow.run(this.now(), async (tx) => {
          await tx.reconciliations.insertResults(id, results);
          await tx.reconciliations.progress(id, { ...progress, leaseUntil: lease() });
        });
        onProgress?.(progress);
      }
    }
    const totals = await repo.totals(id);
    await this.deps.uow.run(this.now(), (tx) => tx.reconciliations.complete(id, totals));
    onProgress?.({ phase: 'done', done: totals.rows, total: totals.rows });
  }

  private async match(tenantId: string, reconId: string, rows: readonly StoredRow[]): Promise<ResultRow[]> {
    const repo = this.deps.uow.read.reconciliations;
    const numbers = [...new Set(rows.filter((r) => r.error === null && r.number !== null).map((r) => r.number!))];
    const externalIds = [...new Set(rows.filter((r) => r.error === null && r.number === null && r.externalId !== null).map((r) => r.externalId!))];
    const facts = await repo.invoicesNamed(tenantId, numbers, externalIds);
    const byNumber = new Map(facts.map((f) => [f.number, f]));
    const byExternal = new Map(facts.filter((f) => f.externalId !== null).map((f) => [f.externalId!, f]));
    const named = await repo.alreadyNamed(reconId, [...byNumber.keys()]);
    const indexes = new Map<string, string | undefined>();
    const out: ResultRow[] = [];
    for (const row of rows) {
      const theirs = {
        externalId: row.externalId, number: row.number, date: row.date, amountCents: row.amountCents, taxCents: row.taxCents, buyerTaxId: row.buyerTaxId,
      };
      const base = { seq: row.lineNo, lineNo: row.lineNo, theirs, error: null, errorField: null, differs: { amount: false, tax: false, date: false, buyer: false } };
      const none = { number: null, externalId: null, date: null, amountCents: null, taxCents: null };
      if (row.error !== null) {
        out.push({ ...base, outcome: 'malformed', ours: none, error: row.error, errorField: row.errorField });
        continue;
      }
      const inv = row.number !== null ? byNumber.get(row.number) : byExternal.get(row.externalId!);
      if (!inv) {
        out.push({ ...base, outcome: 'missing-ours', ours: none });
        continue;
      }
      const ours = { number: inv.number, externalId: inv.externalId, date: inv.date, amountCents: inv.amountCents, taxCents: inv.taxCents };
      if (named.has(inv.number)) {
        // An earlier row named this invoice already: this one's values are not compared.
        out.push({ ...base, outcome: 'duplicate', ours });
        continue;
      }
      named.add(inv.number);
      let buyerMatches: boolean | undefined;
      if (row.buyerTaxId !== null) {
        if (!indexes.has(row.buyerTaxId)) indexes.set(row.buyerTaxId, await repo.buyerIndex(tenantId, row.buyerTaxId));
        const idx = indexes.get(row.buyerTaxId);
        buyerMatches = inv.buyerTaxId === row.buyerTaxId || (idx !== undefined && inv.buyerTaxIdIndex === idx);
      }
      const r = compare(
        { date: row.date!, amountCents: row.amountCents!, taxCents: row.taxCents! },
        { date: inv.date, amountCents: inv.amountCents, taxCents: inv.taxCents, ...(buyerMatches !== undefined ? { buyerMatches } : {}) },
      );
      out.push({ ...base, outcome: r.outcome, differs: r.differs, ours });
    }
    return out;
  }
}

function missingTheirs(seq: number, inv: InvoiceFacts): ResultRow {
  return {
    seq, lineNo: null, outcome: 'missing-theirs', differs: { amount: false, tax: false, date: false, buyer: false },
    theirs: { externalId: null, number: null, date: null, amountCents: null, taxCents: null, buyerTaxId: null },
    ours: { number: inv.number, externalId: inv.externalId, date: inv.date, amountCents: inv.amountCents, taxCents: inv.taxCents },
    error: null, errorField: null,
  };
}
