// The reconciliation tables (migration 0016): uploads, their parsed rows and their results, and the reads of our
// invoices that matching needs (by number, by externalId, and the period's invoices missing from an upload, with the
// sums of their lines). Rows only: what is audited, when a run is taken over and what counts as a difference are the
// use cases' (app/reconciliation-service.ts). Every batch is bounded by its caller; nothing reads a whole upload.
import { sql, type Insertable, type Selectable } from 'kysely';
import type { ReconciliationResultsTable, ReconciliationRowsTable, ReconciliationsTable } from '../../../platform/storage/database.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import { readSum } from '../domain/cents.ts';
import type { DateRange } from '../domain/period.ts';
import type { ErpRow, MalformedRow, UploadFormat } from '../domain/erp-rows.ts';
import { emptyTotals, type Outcome, type ReconciliationTotals, type ResultFilter } from '../domain/matching.ts';

export type ReconciliationStatus = 'receiving' | 'queued' | 'running' | 'done' | 'failed';
export type ProgressPhase = 'receiving' | 'queued' | 'matching' | 'missing-theirs' | 'done';

export interface Reconciliation {
  id: string;
  tenantId: string;
  status: ReconciliationStatus;
  format: UploadFormat;
  /** The period matched against: given with the upload, or the range of the rows' dates. */
  range?: DateRange;
  rows: number;
  malformed: number;
  progress: { phase: ProgressPhase; done: number; total: number };
  totals?: ReconciliationTotals;
  error?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
}

export interface StoredRow {
  lineNo: number;
  externalId: string | null;
  number: string | null;
  date: string | null;
  amountCents: number | null;
  taxCents: number | null;
  buyerTaxId: string | null;
  error: string | null;
  errorField: string | null;
}

export interface InvoiceFacts {
  number: string;
  externalId: string | null;
  date: string;
  amountCents: number;
  taxCents: number;
  buyerTaxId: string | null;
  buyerTaxIdIndex: string | null;
}

export interface ResultRow {
  seq: number;
  lineNo: number | null;
  outcome: Outcome;
  differs: { amount: boolean; tax: boolean; date: boolean; buyer: boolean };
  theirs: { externalId: string | null; number: string | null; date: string | null; amountCents: number | null; taxCents: number | null; buyerTaxId: string | null };
  ours: { number: string | null; externalId: string | null; date: string | null; amountCents: number | null; taxCents: number | null };
  error: string | null;
  errorField: string | null;
}

/**
 * Rows per bulk INSERT. A batch goes to the database as one JSON text, one bound parameter, expanded there
 * (`json_each` on SQLite, `json_populate_recordset` on PostgreSQL): one statement and one round trip per chunk, no
 * query of thousands of placeholders to build and parse, whatever the number of columns.
 */
const INSERT_CHUNK = 5000;

type BulkTable = 'reconciliation_rows' | 'reconciliation_results';

const n = (v: number | string | null): number | null => (v === null ? null : toSafeInteger(v));

function toReconciliation(r: Selectable<ReconciliationsTable>): Reconciliation {
  return {
    id: r.id, tenantId: r.tenant_id, status: r.status as ReconciliationStatus, format: r.format as UploadFormat,
    ...(r.period_from !== null && r.period_to !== null ? { range: { from: r.period_from, to: r.period_to } } : {}),
    rows: toSafeInteger(r.rows_total), malformed: toSafeInteger(r.rows_malformed),
    progress: { phase: r.progress_phase as ProgressPhase, done: toSafeInteger(r.progress_done), total: toSafeInteger(r.progress_total) },
    ...(r.totals !== null ? { totals: { ...emptyTotals(), ...(JSON.parse(r.totals) as ReconciliationTotals) } } : {}),
    ...(r.error !== null ? { error: r.error } : {}),
    createdBy: r.created_by, createdAt: r.created_at, updatedAt: r.updated_at,
    ...(r.finished_at !== null ? { finishedAt: r.finished_at } : {}),
  };
}

function toResult(r: Selectable<ReconciliationResultsTable>): ResultRow {
  return {
    seq: toSafeInteger(r.seq), lineNo: n(r.line_no), outcome: r.outcome as Outcome,
    differs: { amount: r.amount_differs === 1, tax: r.tax_differs === 1, date: r.date_differs === 1, buyer: r.buyer_differs === 1 },
    theirs: {
      externalId: r.their_external_id, number: r.their_number, date: r.their_date,
      amountCents: n(r.their_amount_cents), taxCents: n(r.their_tax_cents), buyerTaxId: r.their_buyer_tax_id,
    },
    ours: { number: r.our_number, externalId: r.our_external_id, date: r.our_date, amountCents: n(r.our_amount_cents), taxCents: n(r.our_tax_cents) },
    error: r.error, errorField: r.error_field,
  };
}

export class ReconciliationRepository {
  constructor(private readonly scope: Scope) {}

  private get db() {
    return this.scope.db;
  }

  async insert(r: { id: string; tenantId: string; format: UploadFormat; range?: DateRange; createdBy: string }): Promise<void> {
    const at = stampOf(this.scope);
    await this.db.insertInto('reconciliations').values({
      id: r.id, tenant_id: r.tenantId, status: 'receiving', format: r.format,
      period_from: r.range?.from ?? null, period_to: r.range?.to ?? null,
      rows_total: 0, rows_malformed: 0, progress_phase: 'receiving', progress_done: 0, progress_total: 0,
      totals: null, error: null, created_by: r.createdBy, lease_until: null, created_at: at, updated_at: at, finished_at: null,
    }).execute();
  }

  /** The tenant's reconciliation; undefined for another tenant's (which does not exist for this one). */
  async get(tenantId: string, id: string): Promise<Reconciliation | undefined> {
    const r = await this.db.selectFrom('reconciliations').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r && toReconciliation(r);
  }

  async byId(id: string): Promise<Reconciliation | undefined> {
    const r = await this.db.selectFrom('reconciliations').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toReconciliation(r);
  }

  async insertRows(reconId: string, rows: readonly (ErpRow | MalformedRow)[]): Promise<void> {
    await this.bulkInsert('reconciliation_rows', rows.map((r): Insertable<ReconciliationRowsTable> => ('error' in r
      ? { recon_id: reconId, line_no: r.lineNo, external_id: null, number: null, issue_date: null, amount_cents: null, tax_cents: null, buyer_tax_id: null, error: r.error, error_field: r.field ?? null }
      : {
        recon_id: reconId, line_no: r.lineNo, external_id: r.externalId ?? null, number: r.number ?? null, issue_date: r.date,
        amount_cents: r.amountCents, tax_cents: r.taxCents, buyer_tax_id: r.buyerTaxId ?? null, error: null, error_field: null,
      })));
  }

  /**
   * Inserts rows (objects with every column of the table, in the same key order) a chunk at a time, each chunk as one
   * JSON parameter expanded by the database. Values are JSON strings, numbers (safe integers) and nulls only.
   */
  private async bulkInsert<R extends object>(table: BulkTable, rows: readonly R[]): Promise<void> {
    if (rows.length === 0) return;
    const columns = Object.keys(rows[0]!);
    const cols = sql.join(columns.map((c) => sql.id(c)));
    const postgres = this.scope.traits.engine === 'postgres';
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK);
      // PostgreSQL reads objects into the table's row type; SQLite reads arrays by position (cheaper than by key).
      const q = postgres
        ? sql`insert into ${sql.table(table)} (${cols}) select ${cols} from json_populate_recordset(null::${sql.table(table)}, ${JSON.stringify(chunk)}::json)`
        : sql`insert into ${sql.table(table)} (${cols}) select ${sql.join(columns.map((_, k) => sql`value ->> ${sql.lit(k)}`))} from json_each(${JSON.stringify(chunk.map((r) => columns.map((c) => (r as Record<string, unknown>)[c])))})`;
      await q.execute(this.db);
    }
  }

  async setReceived(id: string, p: { rows: number; malformed: number }): Promise<void> {
    await this.db.updateTable('reconciliations')
      .set({ rows_total: p.rows, rows_malformed: p.malformed, progress_done: p.rows, updated_at: stampOf(this.scope) })
      .where('id', '=', id).execute();
  }

  /** The range of the dates of the valid rows (for an upload given no period). */
  async rowDates(reconId: string): Promise<DateRange | undefined> {
    const r = await this.db.selectFrom('reconciliation_rows')
      .select((eb) => [eb.fn.min<string | null>('issue_date').as('from'), eb.fn.max<string | null>('issue_date').as('to')])
      .where('recon_id', '=', reconId).where('error', 'is', null).executeTakeFirstOrThrow();
    return r.from !== null && r.to !== null ? { from: r.from, to: r.to } : undefined;
  }

  async queue(id: string, p: { rows: number; malformed: number; range: DateRange | undefined }): Promise<void> {
    await this.db.updateTable('reconciliations').set({
      status: 'queued', rows_total: p.rows, rows_malformed: p.malformed, progress_phase: 'queued', progress_done: 0, progress_total: p.rows,
      period_from: p.range?.from ?? null, period_to: p.range?.to ?? null, updated_at: stampOf(this.scope),
    }).where('id', '=', id).where('status', '=', 'receiving').execute();
  }

  async fail(id: string, error: string): Promise<void> {
    const at = stampOf(this.scope);
    await this.db.updateTable('reconciliations').set({ status: 'failed', error, lease_until: null, updated_at: at, finished_at: at }).where('id', '=', id).execute();
  }

  /**
   * Takes one queued reconciliation, or a running one whose lease ended before `now` (its node died), with a
   * compare-and-set on status and lease: two nodes never both take it. `only` limits it to one id. Answers the id taken.
   */
  async claim(now: string, leaseUntil: string, only?: string): Promise<string | undefined> {
    let pick = this.db.selectFrom('reconciliations').select(['id', 'status', 'lease_until'])
      .where((eb) => eb.or([eb('status', '=', 'queued'), eb.and([eb('status', '=', 'running'), eb('lease_until', '<', now)])]));
    if (only !== undefined) pick = pick.where('id', '=', only);
    const candidates = await pick.orderBy('created_at').limit(5).execute();
    for (const c of candidates) {
      let q = this.db.updateTable('reconciliations')
        .set({ status: 'running', lease_until: leaseUntil, progress_phase: 'matching', progress_done: 0, updated_at: stampOf(this.scope) })
        .where('id', '=', c.id).where('status', '=', c.status);
      q = c.lease_until === null ? q.where('lease_until', 'is', null) : q.where('lease_until', '=', c.lease_until);
      const r = await q.executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) return c.id;
    }
    return undefined;
  }

  /** Progress of a running reconciliation, renewing its lease. */
  async progress(id: string, p: { phase: ProgressPhase; done: number; total: number; leaseUntil: string }): Promise<void> {
    await this.db.updateTable('reconciliations')
      .set({ progress_phase: p.phase, progress_done: p.done, progress_total: p.total, lease_until: p.leaseUntil, updated_at: stampOf(this.scope) })
      .where('id', '=', id).where('status', '=', 'running').execute();
  }

  async complete(id: string, totals: ReconciliationTotals): Promise<void> {
    const at = stampOf(this.scope);
    await this.db.updateTable('reconciliations')
      .set({ status: 'done', totals: JSON.stringify(totals), progress_phase: 'done', lease_until: null, updated_at: at, finished_at: at })
      .where('id', '=', id).where('status', '=', 'running').execute();
  }

  async rowsAfter(reconId: string, afterLine: number, limit: number): Promise<StoredRow[]> {
    const rows = await this.db.selectFrom('reconciliation_rows').selectAll()
      .where('recon_id', '=', reconId).where('line_no', '>', afterLine).orderBy('line_no').limit(limit).execute();
    return rows.map((r) => ({
      lineNo: toSafeInteger(r.line_no), externalId: r.external_id, number: r.number, date: r.issue_date,
      amountCents: n(r.amount_cents), taxCents: n(r.tax_cents), buyerTaxId: r.buyer_tax_id, error: r.error, errorField: r.error_field,
    }));
  }

  /**
   * `column IN (values)` with the values as one bound parameter (a text[] on PostgreSQL, a JSON array read by
   * `json_each` on SQLite), so a batch of thousands of keys is one small statement that either engine's index serves.
   */
  private inList(column: string, values: readonly string[]) {
    return this.scope.traits.engine === 'postgres'
      ? sql<boolean>`${sql.ref(column)} = any(${[...values]}::text[])`
      : sql<boolean>`${sql.ref(column)} in (select value from json_each(${JSON.stringify(values)}))`;
  }

  /**
   * The tenant's invoices among `numbers` / `externalIds`, with the sums of their lines: one indexed join per kind of
   * key (the invoices by key, their lines by primary key), the lines summed here, exactly (BigInt).
   */
  async invoicesNamed(tenantId: string, numbers: readonly string[], externalIds: readonly string[]): Promise<InvoiceFacts[]> {
    const found = new Map<string, { head: { number: string; external_id: string | null; issue_date: string; buyer_tax_id: string | null; buyer_tax_id_bidx: string | null | undefined }; amount: bigint; tax: bigint }>();
    const lookup = async (column: 'i.number' | 'i.external_id', keys: readonly string[]) => {
      if (keys.length === 0) return;
      const rows = await this.db.selectFrom('invoices as i')
        .leftJoin('invoice_lines as l', (j) => j.onRef('l.tenant_id', '=', 'i.tenant_id').onRef('l.number', '=', 'i.number'))
        .select(['i.number as number', 'i.external_id as external_id', 'i.issue_date as issue_date', 'i.buyer_tax_id as buyer_tax_id', 'i.buyer_tax_id_bidx as buyer_tax_id_bidx', 'l.amount_cents as amount_cents', 'l.tax_cents as tax_cents'])
        .where('i.tenant_id', '=', tenantId).where(this.inList(column, keys)).execute();
      // An invoice named both ways is taken (and its lines summed) from the first lookup only.
      const before = new Set(found.keys());
      for (const r of rows) {
        if (before.has(r.number)) continue;
        const f = found.get(r.number) ?? { head: r, amount: 0n, tax: 0n };
        if (r.amount_cents !== null) f.amount += readSum(r.amount_cents);
        if (r.tax_cents !== null) f.tax += readSum(r.tax_cents);
        found.set(r.number, f);
      }
    };
    await lookup('i.number', numbers);
    await lookup('i.external_id', externalIds);
    return [...found.values()].map(({ head: h, amount, tax }) => ({
      number: h.number, externalId: h.external_id, date: h.issue_date, buyerTaxId: h.buyer_tax_id, buyerTaxIdIndex: h.buyer_tax_id_bidx ?? null,
      amountCents: Number(amount), taxCents: Number(tax),
    }));
  }

  /** The tenant's invoices in the range that no result of the reconciliation names, after `afterNumber`, by number. */
  async missingTheirs(tenantId: string, reconId: string, range: DateRange, afterNumber: string, limit: number): Promise<InvoiceFacts[]> {
    // The numbers first (an anti-join on the invoices alone), then the facts of those only: the lines of the invoices
    // the upload named are never read or summed.
    const numbers = await this.db.selectFrom('invoices as i').select('i.number')
      .where('i.tenant_id', '=', tenantId)
      .where('i.issue_date', '>=', range.from).where('i.issue_date', '<=', range.to).where('i.number', '>', afterNumber)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('reconciliation_results as r').select('r.seq').where('r.recon_id', '=', reconId).whereRef('r.our_number', '=', 'i.number'))))
      .orderBy('i.number').limit(limit).execute();
    if (numbers.length === 0) return [];
    const facts = await this.invoicesNamed(tenantId, numbers.map((r) => r.number), []);
    return facts.sort((a, b) => (a.number < b.number ? -1 : a.number > b.number ? 1 : 0));
  }

  async countInRange(tenantId: string, range: DateRange): Promise<number> {
    const r = await this.db.selectFrom('invoices').select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('tenant_id', '=', tenantId).where('issue_date', '>=', range.from).where('issue_date', '<=', range.to).executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Which of `numbers` an earlier result of the reconciliation already names (a second row for one invoice). */
  async alreadyNamed(reconId: string, numbers: readonly string[]): Promise<Set<string>> {
    if (numbers.length === 0) return new Set();
    const rows = await this.db.selectFrom('reconciliation_results').select('our_number')
      .where('recon_id', '=', reconId).where(this.inList('our_number', numbers)).execute();
    return new Set(rows.map((r) => r.our_number!));
  }

  /** Makes the buyer's blind index of a tax ID, as issuing stored it (undefined without field protection). */
  async buyerIndex(tenantId: string, taxId: string): Promise<string | undefined> {
    const fields = this.scope.fields;
    if (!fields) return undefined;
    await fields.prepareIndex(this.db, tenantId);
    return fields.index(tenantId, 'taxId', taxId);
  }

  async deleteResults(reconId: string): Promise<void> {
    await this.db.deleteFrom('reconciliation_results').where('recon_id', '=', reconId).execute();
  }

  async insertResults(reconId: string, results: readonly Omit<ResultRow, never>[]): Promise<void> {
    const b = (v: boolean) => (v ? 1 : 0);
    {
      const values: Insertable<ReconciliationResultsTable>[] = results.map((r) => ({
        recon_id: reconId, seq: r.seq, line_no: r.lineNo, outcome: r.outcome,
        amount_differs: b(r.differs.amount), tax_differs: b(r.differs.tax), date_differs: b(r.differs.date), buyer_differs: b(r.differs.buyer),
        their_external_id: r.theirs.externalId, their_number: r.theirs.number, their_date: r.theirs.date,
        their_amount_cents: r.theirs.amountCents, their_tax_cents: r.theirs.taxCents, their_buyer_tax_id: r.theirs.buyerTaxId,
        our_number: r.ours.number, our_external_id: r.ours.externalId, our_date: r.ours.date,
        our_amount_cents: r.ours.amountCents, our_tax_cents: r.ours.taxCents, error: r.error, error_field: r.errorField,
      }));
      await this.bulkInsert('reconciliation_results', values);
    }
  }

  /** Counts per outcome and per way of differing, in SQL. */
  async totals(reconId: string): Promise<ReconciliationTotals> {
    const rows = await this.db.selectFrom('reconciliation_results').select('outcome')
      .select((eb) => [
        eb.fn.countAll<number | string>().as('n'),
        eb.fn.sum<number | string | null>('amount_differs').as('amount'),
        eb.fn.sum<number | string | null>('tax_differs').as('tax'),
        eb.fn.sum<number | string | null>('date_differs').as('date'),
        eb.fn.sum<number | string | null>('buyer_differs').as('buyer'),
      ])
      .where('recon_id', '=', reconId).groupBy('outcome').execute();
    const t = emptyTotals();
    const key: Record<Outcome, keyof ReconciliationTotals> = {
      'matched': 'matched', 'mismatch': 'mismatch', 'missing-ours': 'missingOurs', 'missing-theirs': 'missingTheirs', 'duplicate': 'duplicate', 'malformed': 'malformed',
    };
    for (const r of rows) {
      const count = Number(r.n);
      const k = key[r.outcome as Outcome];
      if (k !== undefined) t[k] += count;
      if (r.outcome !== 'missing-theirs') t.rows += count;
      t.amountMismatch += Number(readSum(r.amount));
      t.taxMismatch += Number(readSum(r.tax));
      t.dateMismatch += Number(readSum(r.date));
      t.buyerMismatch += Number(readSum(r.buyer));
    }
    return t;
  }

  /** A page of results in seq order (line order, then our missing invoices), after `afterSeq`. */
  async results(reconId: string, filter: ResultFilter | undefined, afterSeq: number, limit: number): Promise<ResultRow[]> {
    let q = this.db.selectFrom('reconciliation_results').selectAll().where('recon_id', '=', reconId).where('seq', '>', afterSeq);
    if (filter === 'amount-mismatch') q = q.where('amount_differs', '=', 1);
    else if (filter === 'tax-mismatch') q = q.where('tax_differs', '=', 1);
    else if (filter === 'date-mismatch') q = q.where('date_differs', '=', 1);
    else if (filter === 'buyer-mismatch') q = q.where('buyer_differs', '=', 1);
    else if (filter !== undefined) q = q.where('outcome', '=', filter);
    const rows = await q.orderBy('seq').limit(limit).execute();
    return rows.map(toResult);
  }
}
