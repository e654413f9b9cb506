// The transactional outbox: events appended in the transaction of the change they announce (the use case chooses the
// type and payload), read by the live event stream (modules/events/app/event-stream.ts).
//
// An event row carries only `{ number, tenantId }`; what a subscriber sees of the invoice comes from the invoices
// table and is limited to InvoiceEventSummary: number, type, kind, time, status and totals. The buyer block of the
// stored document (encrypted at rest where personal) is never read into the result, so no code path downstream can
// leak it.
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { InvoiceKind, InvoiceStatus, InvoiceType } from '../../../shared/invoice.ts';
import type { InvoiceEventSummary, NewOutboxEvent, OutboxEvent, OutboxReader } from './outbox-contract.ts';

interface EventRow {
  id: number | string;
  tenant_id: string;
  type: string;
  payload: string;
  created_at: string;
}

/** The invoice number an event names, or undefined for events about something else (or an unreadable payload). */
function numberOf(payload: string): string | undefined {
  try {
    const p = JSON.parse(payload) as { number?: unknown };
    return typeof p.number === 'string' ? p.number : undefined;
  } catch {
    return undefined;
  }
}

/** Rows per multi-row INSERT, well under both engines' parameter limits. */
const ROWS_PER_INSERT = 500;

export class OutboxRepository implements OutboxReader {
  constructor(private readonly scope: Scope) {}

  private get db() {
    return this.scope.db;
  }

  /**
   * Appends events in order. Inside the issuing transaction this runs after the ledger lock is taken, so ids grow in
   * commit order: a live stream that has seen id k never later meets a smaller id committing, and only a rolled-back
   * transaction leaves a hole (modules/events/app/event-stream.ts).
   */
  async append(events: readonly NewOutboxEvent[]): Promise<void> {
    const at = stampOf(this.scope);
    for (let i = 0; i < events.length; i += ROWS_PER_INSERT) {
      await this.db
        .insertInto('outbox_events')
        .values(events.slice(i, i + ROWS_PER_INSERT).map((e) => ({
          tenant_id: e.tenantId, type: e.type, payload: JSON.stringify(e.payload), created_at: at, dispatched_at: null,
        })))
        .execute();
    }
  }

  async lastId(): Promise<number> {
    const row = await this.db
      .selectFrom('outbox_events')
      .select((eb) => eb.fn.max('id').as('id'))
      .executeTakeFirst();
    return row?.id === null || row?.id === undefined ? 0 : toSafeInteger(row.id);
  }

  async listAfter(afterId: number, limit: number): Promise<OutboxEvent[]> {
    const rows = await this.db
      .selectFrom('outbox_events')
      .select(['id', 'tenant_id', 'type', 'payload', 'created_at'])
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return this.withInvoices(rows);
  }

  async listForTenant(tenantId: string, afterId: number, throughId: number, limit: number): Promise<OutboxEvent[]> {
    // Served by outbox_events_tenant_id_ix (tenant_id, id): a resume reads only this tenant's rows, however many
    // other tenants issued in between.
    const rows = await this.db
      .selectFrom('outbox_events')
      .select(['id', 'tenant_id', 'type', 'payload', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('id', '>', afterId)
      .where('id', '<=', throughId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return this.withInvoices(rows);
  }

  /** Joins each event to its invoice in one query (numbers are globally unique; the tenant is checked too). */
  private async withInvoices(rows: EventRow[]): Promise<OutboxEvent[]> {
    const numbers = new Map<EventRow, string>();
    for (const r of rows) {
      const n = numberOf(r.payload);
      if (n !== undefined) numbers.set(r, n);
    }
    const found = new Map<string, InvoiceEventSummary & { tenantId: string }>();
    if (numbers.size > 0) {
      const invoices = await this.db
        .selectFrom('invoices')
        .select(['tenant_id', 'number', 'type', 'kind', 'status', 'issued_at', 'document'])
        .where('number', 'in', [...new Set(numbers.values())])
        .execute();
      for (const i of invoices) {
        // Only the totals are taken from the document; the buyer block is not looked at.
        const totals = (JSON.parse(i.document) as { totals: InvoiceEventSummary['totals'] }).totals;
        found.set(i.number, {
          tenantId: i.tenant_id,
          number: i.number,
          type: i.type as InvoiceType,
          kind: i.kind as InvoiceKind,
          issuedAt: i.issued_at,
          status: i.status as InvoiceStatus,
          totals: { amount: totals.amount, tax: totals.tax, total: totals.total },
        });
      }
    }
    return rows.map((r) => {
      const event: OutboxEvent = { id: toSafeInteger(r.id), tenantId: r.tenant_id, type: r.type, createdAt: r.created_at };
      const number = numbers.get(r);
      const invoice = number === undefined ? undefined : found.get(number);
      // Invariant 7: an event only ever describes an invoice of its own tenant.
      if (invoice && invoice.tenantId === r.tenant_id) {
        const { tenantId: _owner, ...summary } = invoice;
        event.invoice = summary;
      }
      return event;
    });
  }
}
