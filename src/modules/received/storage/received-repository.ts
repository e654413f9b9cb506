// The received_invoices table (migration 0012): a buyer tenant's own accounting status of an invoice addressed to it,
// and the search of the invoices a buyer tenant receives (a read of the invoicing module's `invoices` table by buyer
// tax ID, like the outbox's join of legacy rows: modules/events/storage/outbox-repository.ts). Rows only: who the
// buyer is, what is audited and announced are the use cases' (app/received-service.ts).
import type { Selectable } from 'kysely';
import type { ReceivedInvoicesTable } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import { decodeCursor, DOCUMENT_COLUMNS, toUtcIso } from '../../invoicing/index.ts';
import { toCents } from '../../../shared/decimal-cents.ts';
import type { InvoiceStatus } from '../../../shared/invoice.ts';

/** The buyer's accounting status of one invoice; no row reads as neither booked nor selected. */
export interface ReceivedStatus {
  /** 入账. */
  booked: boolean;
  bookedAt?: string;
  /** 用途勾选 (selected for deduction). */
  deductionSelected: boolean;
  deductionSelectedAt?: string;
}

export const NOT_USED: ReceivedStatus = Object.freeze({ booked: false, deductionSelected: false });

export interface ReceivedQuery {
  buyerTenantId: string;
  buyerTaxId: string;
  /** Which sellers' invoices this buyer receives (modules/tenants/domain/buyer-tenant.ts `receivesFrom`). */
  from: { allSellersExcept: string } | { onlySeller: string };
  issuedFrom?: string;
  issuedTo?: string;
  /** The sellers' tenants holding this tax ID (the seller tax ID filter, resolved by the use case). */
  sellerTenantIds?: string[];
  status?: InvoiceStatus;
  booked?: boolean;
  deductionSelected?: boolean;
  /** Total with tax at least / at most (decimal strings, at most two decimals). */
  minTotal?: string;
  maxTotal?: string;
  /** ISO timestamp: the invoice (its status) or the buyer's own status changed at or after it. */
  updatedSince?: string;
  /** From a previous page (InvalidCursor when it is not one). */
  cursor?: string;
  limit: number;
}

/** One row of a search: the seller's tenant, the stored invoice columns to open, and the buyer's status. */
export interface ReceivedRow {
  sellerTenantId: string;
  number: string;
  issueDate: string;
  document: { document: string; status: string; ledger_index: number | string };
  status: ReceivedStatus;
}

export class ReceivedRepository {
  constructor(private readonly scope: Scope) {}

  private get db() {
    return this.scope.db;
  }

  async status(buyerTenantId: string, number: string): Promise<ReceivedStatus> {
    const row = await this.db.selectFrom('received_invoices').selectAll()
      .where('buyer_tenant_id', '=', buyerTenantId).where('number', '=', number).executeTakeFirst();
    return row ? toStatus(row) : { ...NOT_USED };
  }

  /**
   * The status row locked to commit (made first, neither booked nor selected, when there is none): a booking and a
   * red-letter filing against the same invoice are serialised on it (PostgreSQL `FOR UPDATE`; SQLite's write
   * transactions are serialised anyway).
   */
  async lock(buyerTenantId: string, number: string, sellerTenantId: string): Promise<ReceivedStatus> {
    const at = stampOf(this.scope);
    await this.db.insertInto('received_invoices')
      .values({
        buyer_tenant_id: buyerTenantId, number, seller_tenant_id: sellerTenantId, booked: 0, booked_at: null,
        deduction_selected: 0, deduction_selected_at: null, created_at: at, updated_at: at,
      })
      .onConflict((oc) => oc.columns(['buyer_tenant_id', 'number']).doNothing())
      .execute();
    let q = this.db.selectFrom('received_invoices').selectAll().where('buyer_tenant_id', '=', buyerTenantId).where('number', '=', number);
    if (this.scope.traits.engine === 'postgres') q = q.forUpdate();
    return toStatus(await q.executeTakeFirstOrThrow());
  }

  /** Writes the given flags, each with the unit of work's time (the row is locked: lock()). */
  async set(buyerTenantId: string, number: string, change: { booked?: boolean; deductionSelected?: boolean }): Promise<void> {
    const at = stampOf(this.scope);
    await this.db.updateTable('received_invoices')
      .set({
        updated_at: at,
        ...(change.booked === undefined ? {} : { booked: change.booked ? 1 : 0, booked_at: at }),
        ...(change.deductionSelected === undefined ? {} : { deduction_selected: change.deductionSelected ? 1 : 0, deduction_selected_at: at }),
      })
      .where('buyer_tenant_id', '=', buyerTenantId).where('number', '=', number)
      .execute();
  }

  /**
   * A page of the invoices the buyer receives, newest issue date first, then number descending (the order and cursor
   * of GET /v1/invoices). Served by invoices_buyer_received_ix (buyer_tax_id, issue_date, number); the status by the
   * primary key of received_invoices.
   */
  async search(q: ReceivedQuery): Promise<{ rows: ReceivedRow[]; last?: { d: string; n: string } }> {
    if (!Number.isSafeInteger(q.limit) || q.limit < 1) throw new RangeError(`bad limit: ${q.limit}`);
    const cursor = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    let s = this.db
      .selectFrom('invoices as i')
      .leftJoin('received_invoices as r', (j) => j.onRef('r.number', '=', 'i.number').on('r.buyer_tenant_id', '=', q.buyerTenantId))
      .select([...DOCUMENT_COLUMNS.map((c) => `i.${c}` as const), 'i.tenant_id', 'i.number', 'i.issue_date',
        'r.booked', 'r.booked_at', 'r.deduction_selected', 'r.deduction_selected_at'])
      .where('i.buyer_tax_id', '=', q.buyerTaxId);
    s = 'onlySeller' in q.from ? s.where('i.tenant_id', '=', q.from.onlySeller) : s.where('i.tenant_id', '<>', q.from.allSellersExcept);
    if (q.sellerTenantIds !== undefined) {
      if (q.sellerTenantIds.length === 0) return { rows: [] };
      s = s.where('i.tenant_id', 'in', q.sellerTenantIds);
    }
    if (q.issuedFrom !== undefined) s = s.where('i.issue_date', '>=', q.issuedFrom);
    if (q.issuedTo !== undefined) s = s.where('i.issue_date', '<=', q.issuedTo);
    if (q.status !== undefined) s = s.where('i.status', '=', q.status);
    if (q.booked === true) s = s.where('r.booked', '=', 1);
    if (q.booked === false) s = s.where((eb) => eb.or([eb('r.booked', 'is', null), eb('r.booked', '=', 0)]));
    if (q.deductionSelected === true) s = s.where('r.deduction_selected', '=', 1);
    if (q.deductionSelected === false) s = s.where((eb) => eb.or([eb('r.deduction_selected', 'is', null), eb('r.deduction_selected', '=', 0)]));
    if (q.minTotal !== undefined) s = s.where('i.total_cents', '>=', toCents(q.minTotal));
    if (q.maxTotal !== undefined) s = s.where('i.total_cents', '<=', toCents(q.maxTotal));
    if (q.updatedSince !== undefined) {
      const since = toUtcIso(q.updatedSince);
      s = s.where((eb) => eb.or([eb('i.updated_at', '>=', since), eb('r.updated_at', '>=', since)]));
    }
    if (cursor) {
      const { d, n } = cursor;
      s = s.where((eb) => eb.or([eb('i.issue_date', '<', d), eb.and([eb('i.issue_date', '=', d), eb('i.number', '<', n)])]));
    }
    const found = await s.orderBy('i.issue_date', 'desc').orderBy('i.number', 'desc').limit(q.limit + 1).execute();
    const rows = found.slice(0, q.limit).map((r): ReceivedRow => ({
      sellerTenantId: r.tenant_id,
      number: r.number,
      issueDate: r.issue_date,
      document: { document: r.document, status: r.status, ledger_index: r.ledger_index },
      status: r.booked === null ? { ...NOT_USED } : toStatus({
        booked: r.booked, booked_at: r.booked_at, deduction_selected: r.deduction_selected ?? 0, deduction_selected_at: r.deduction_selected_at,
      }),
    }));
    const last = rows.at(-1);
    return found.length > q.limit && last ? { rows, last: { d: last.issueDate, n: last.number } } : { rows };
  }
}

function toStatus(r: Pick<Selectable<ReceivedInvoicesTable>, 'booked' | 'booked_at' | 'deduction_selected' | 'deduction_selected_at'>): ReceivedStatus {
  const s: ReceivedStatus = { booked: Number(r.booked) === 1, deductionSelected: Number(r.deduction_selected) === 1 };
  if (s.booked && r.booked_at !== null) s.bookedAt = r.booked_at;
  if (s.deductionSelected && r.deduction_selected_at !== null) s.deductionSelectedAt = r.deduction_selected_at;
  return s;
}
