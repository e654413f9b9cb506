// Received invoices, the buyer's side of issuing (归集 and 勾选 of the platform): an invoice whose buyer tax ID belongs
// to a tenant of this server is also that tenant's (the rule of modules/tenants/domain/buyer-tenant.ts: the earliest
// created tenant with that tax ID other than the seller). The buyer lists and reads them, and keeps its own accounting
// status per invoice: booked (入账) and selected for deduction (用途勾选). Each change is one unit of work: the status
// row (locked), one audit entry and one outbox event for the buyer per changed flag.
//
// Whether the buyer has booked or selected an invoice decides whether a red-letter form the seller files against it
// needs the buyer's confirmation (modules/red-letter/app/red-letter-service.ts reads it with `buyerHasUsed`, under
// the same row lock, inside the filing transaction).
//
// To anyone but the buyer tenant a received invoice does not exist (404, never 403), as another tenant's invoice.
//
// Each read comes in the two views of the seller's reads (modules/invoicing/storage/invoice-protection.ts): `full`,
// the invoice as issued (the buyer's envelope opened), and `masked`, what a key without `pii:read` sees, read from
// the masked buyer stored beside the envelope, decrypting nothing for a row in the current layout (a row from before
// migration 0020 is opened and masked, as the seller's masked reads do).
import { AppError } from '../../../shared/errors.ts';
import { toCents } from '../../../shared/money.ts';
import type { Invoice, InvoiceStatus } from '../../../shared/invoice.ts';
import { InvalidCursor } from '../../../platform/storage/storage-errors.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';
import { stampEntry, type AuditRepository, type AuditStamp } from '../../audit/index.ts';
import { EVENT_TYPES, outboxEvent, type OutboxRepository } from '../../events/index.ts';
import {
  decodeCursor, encodeCursor, isInvoiceNumber, isPersonalTaxId, maskInvoice, type InvoiceRepository, type MaskedInvoice, type StoredInvoiceRef,
} from '../../invoicing/index.ts';
import { buyerTenantAmong, receivesFrom, type Tenant, type TenantRepository } from '../../tenants/index.ts';
import type { ReceivedRepository, ReceivedStatus } from '../storage/received-repository.ts';

/** What the received-invoice use cases need of a unit of work. */
export interface ReceivedTx {
  received: ReceivedRepository;
  invoices: InvoiceRepository;
  tenants: TenantRepository;
  outbox: OutboxRepository;
  audit: AuditRepository;
}

export interface ReceivedServiceDeps {
  uow: UnitOfWork<ReceivedTx>;
  clock: Clock;
  maxPageSize: number;
}

/** A received invoice with the buyer's status: as issued, or masked (`MaskedInvoice`) in the masked view. */
export interface ReceivedInvoice<T extends Invoice = Invoice> {
  invoice: T;
  status: ReceivedStatus;
}

export interface ReceivedPage<T extends Invoice = Invoice> {
  items: ReceivedInvoice<T>[];
  nextCursor?: string;
}

/**
 * How the invoice is read: `full` as issued (for keys with `pii:read`, the CLI and other use cases), `masked` as a
 * key without `pii:read` sees it, nothing decrypted.
 */
export type ReceivedView = 'full' | 'masked';

/** The invoice type of a view. */
type InvoiceOf<V extends ReceivedView> = V extends 'masked' ? MaskedInvoice : Invoice;

export interface ReceivedSearch {
  issuedFrom?: string;
  issuedTo?: string;
  sellerTaxId?: string;
  status?: InvoiceStatus;
  booked?: boolean;
  deductionSelected?: boolean;
  /** Total with tax at least / at most (as GET /v1/invoices). */
  minTotal?: string;
  maxTotal?: string;
  /** ISO timestamp: only invoices whose status, or the buyer's own status of them, changed at or after it. */
  updatedSince?: string;
  cursor?: string;
  limit?: number;
}

export interface ReceivedChange {
  booked?: boolean;
  deductionSelected?: boolean;
}

/** The buyer's events (docs/events.md). */
export const RECEIVED_EVENTS = {
  booked: 'received-invoice.booked',
  unbooked: 'received-invoice.unbooked',
  selected: 'received-invoice.deduction-selected',
  unselected: 'received-invoice.deduction-unselected',
  redFlushed: 'received-invoice.red-flushed',
} as const;

/** The audit action of each change. */
export const RECEIVED_AUDIT = {
  booked: 'received-invoice.book',
  unbooked: 'received-invoice.unbook',
  selected: 'received-invoice.select-deduction',
  unselected: 'received-invoice.unselect-deduction',
} as const;

/**
 * Whether the buyer tenant has booked or selected the invoice for deduction, read under the status row's lock inside
 * the caller's transaction (a red-letter filing): a booking committing meanwhile waits, or is seen.
 */
export async function buyerHasUsed(received: ReceivedRepository, buyerTenantId: string, number: string, sellerTenantId: string): Promise<boolean> {
  const s = await received.lock(buyerTenantId, number, sellerTenantId);
  return s.booked || s.deductionSelected;
}

export class ReceivedService {
  constructor(private readonly deps: ReceivedServiceDeps) {}

  /** A page of the invoices the tenant receives, newest first; `cursor` is the `nextCursor` of the previous page. */
  async list<V extends ReceivedView = 'full'>(tenant: Tenant, q: ReceivedSearch = {}, view?: V): Promise<ReceivedPage<InvoiceOf<V>>> {
    const limit = Math.min(Math.max(1, q.limit ?? 50), this.deps.maxPageSize);
    // Amounts as GET /v1/invoices takes them: at most two decimals, in range (AMOUNT_INVALID naming the parameter).
    for (const k of ['minTotal', 'maxTotal'] as const) {
      const v = q[k];
      if (v !== undefined) toCents(v, `/${k}`);
    }
    const read = this.deps.uow.read;
    const from = receivesFrom(await read.tenants.holdersOf([tenant.taxId]), tenant.id);
    let sellerTenantIds: string[] | undefined;
    if (q.sellerTaxId !== undefined) sellerTenantIds = (await read.tenants.holdersOf([q.sellerTaxId])).map((h) => h.id);
    try {
      // A bad cursor is refused whatever the tenant receives.
      if (q.cursor !== undefined) decodeCursor(q.cursor);
      if (!from) return { items: [] };
      const { rows, last } = await read.received.search({
        buyerTenantId: tenant.id, buyerTaxId: tenant.taxId, from, limit,
        ...(sellerTenantIds === undefined ? {} : { sellerTenantIds }),
        ...(q.issuedFrom === undefined ? {} : { issuedFrom: q.issuedFrom }),
        ...(q.issuedTo === undefined ? {} : { issuedTo: q.issuedTo }),
        ...(q.status === undefined ? {} : { status: q.status }),
        ...(q.booked === undefined ? {} : { booked: q.booked }),
        ...(q.deductionSelected === undefined ? {} : { deductionSelected: q.deductionSelected }),
        ...(q.minTotal === undefined ? {} : { minTotal: q.minTotal }),
        ...(q.maxTotal === undefined ? {} : { maxTotal: q.maxTotal }),
        ...(q.updatedSince === undefined ? {} : { updatedSince: q.updatedSince }),
        ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
      });
      const items: ReceivedInvoice<InvoiceOf<V>>[] = [];
      for (const r of rows) {
        const invoice = view === 'masked' ? await read.invoices.openMaskedRow(r.sellerTenantId, r.document) : await read.invoices.openRow(r.sellerTenantId, r.document);
        items.push({ invoice: invoice as InvoiceOf<V>, status: r.status });
      }
      return { items, ...(last ? { nextCursor: encodeCursor(last) } : {}) };
    } catch (err) {
      if (err instanceof InvalidCursor) {
        throw new AppError('CURSOR_INVALID', { field: 'querystring:/cursor', detail: 'use the nextCursor of a previous page, unchanged', cause: err });
      }
      throw err;
    }
  }

  /** One received invoice with the buyer's status; INVOICE_NOT_FOUND unless the tenant is its buyer. */
  async get<V extends ReceivedView = 'full'>(tenant: Tenant, number: string, view?: V): Promise<ReceivedInvoice<InvoiceOf<V>>> {
    const { invoice } = await this.find(tenant, number, view);
    return { invoice, status: await this.deps.uow.read.received.status(tenant.id, number) };
  }

  /**
   * Books or unbooks (入账), selects or unselects for deduction (用途勾选): one unit of work, one audit entry and one
   * buyer event per flag that changes; setting a flag to what it is changes nothing and records nothing.
   */
  async update<V extends ReceivedView = 'full'>(tenant: Tenant, number: string, change: ReceivedChange, by: AuditStamp, view?: V): Promise<ReceivedInvoice<InvoiceOf<V>>> {
    if (change.booked === undefined && change.deductionSelected === undefined) {
      throw new AppError('VALIDATION_FAILED', { field: '/', detail: 'name booked, deductionSelected or both' });
    }
    const { invoice, sellerTenantId } = await this.find(tenant, number, view);
    const at = this.deps.clock.now();
    const status = await this.deps.uow.run(at, async (tx) => {
      const before = await tx.received.lock(tenant.id, number, sellerTenantId);
      const changed: (keyof typeof RECEIVED_EVENTS)[] = [];
      if (change.booked !== undefined && change.booked !== before.booked) changed.push(change.booked ? 'booked' : 'unbooked');
      if (change.deductionSelected !== undefined && change.deductionSelected !== before.deductionSelected) {
        changed.push(change.deductionSelected ? 'selected' : 'unselected');
      }
      if (changed.length === 0) return before;
      const delta = {
        ...(changed.some((c) => c === 'booked' || c === 'unbooked') ? { booked: change.booked! } : {}),
        ...(changed.some((c) => c === 'selected' || c === 'unselected') ? { deductionSelected: change.deductionSelected! } : {}),
      };
      await tx.received.set(tenant.id, number, delta);
      const after = await tx.received.status(tenant.id, number);
      const data = { number, booked: after.booked, deductionSelected: after.deductionSelected };
      await tx.outbox.append(changed.map((c) => {
        const type = RECEIVED_EVENTS[c];
        return outboxEvent(tenant.id, type, EVENT_TYPES[type].version, at, data, by);
      }));
      await tx.audit.append(changed.map((c) => ({
        ...stampEntry(by, RECEIVED_AUDIT[c as keyof typeof RECEIVED_AUDIT], number, tenant.id),
        details: { seller: invoice.seller.taxId, booked: after.booked, deductionSelected: after.deductionSelected },
      })));
      return after;
    });
    return { invoice, status };
  }

  /** The invoice if `tenant` is its buyer tenant (never the seller), else not found. */
  private async find<V extends ReceivedView>(tenant: Tenant, number: string, view: V | undefined): Promise<{ invoice: InvoiceOf<V>; sellerTenantId: string }> {
    const read = this.deps.uow.read;
    const ref = isInvoiceNumber(number) ? await read.invoices.findStoredForVerification(number) : undefined;
    if (ref && ref.tenantId !== tenant.id) {
      const { invoice, buyerTaxId } = await openFor(ref, tenant.taxId, view);
      if (buyerTaxId !== undefined && buyerTaxId === tenant.taxId) {
        const buyer = buyerTenantAmong(await read.tenants.holdersOf([buyerTaxId]), ref.tenantId);
        if (buyer === tenant.id) return { invoice: invoice as InvoiceOf<V>, sellerTenantId: ref.tenantId };
      }
    }
    throw new AppError('INVOICE_NOT_FOUND', { field: '/number' });
  }
}

/**
 * The stored invoice in the view, with the buyer tax ID to compare with the tenant's. The masked buyer keeps a tax ID
 * that is not personal as it is and masks a personal one with `*` (which no tax ID holds), so when the tenant's own
 * tax ID is not personal the masked form answers the comparison exactly and nothing is decrypted. A tenant whose tax
 * ID is personal (a pilot-region exception, a USCC that also reads as an ID-card number) would not recognise its tax
 * ID masked: then the invoice is opened for the comparison and masked on the way out.
 */
async function openFor(ref: StoredInvoiceRef, tenantTaxId: string, view: ReceivedView | undefined): Promise<{ invoice: Invoice | MaskedInvoice; buyerTaxId: string | undefined }> {
  if (view === 'masked' && !isPersonalTaxId(tenantTaxId)) {
    const invoice = await ref.openMasked();
    return { invoice, buyerTaxId: invoice.buyer.taxId };
  }
  const invoice = await ref.open();
  return { invoice: view === 'masked' ? maskInvoice(invoice) : invoice, buyerTaxId: invoice.buyer.taxId };
}
