// Reads of the transactional outbox for the live event stream (modules/events/app/event-stream.ts). The rows are written by
// commitIssueBatch in the issuing transaction; nothing here writes.
//
// An event row carries only `{ number, tenantId }`; what a subscriber sees of the invoice comes from the invoices
// table and is limited to InvoiceEventSummary: number, type, kind, time, status and totals. The buyer block of the
// stored document (encrypted at rest where personal) is never read into the result, so no code path downstream can
// leak it.
import type { Kysely } from 'kysely';
import type { Database } from '../../../platform/storage/database.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import type { InvoiceKind, InvoiceStatus, InvoiceType } from '../../invoicing/domain/invoice.ts';
import type { InvoiceEventSummary, OutboxEvent, OutboxRepository } from '../../../platform/storage/storage.ts';

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

export class KyselyOutboxRepository implements OutboxRepository {
  constructor(private readonly db: Kysely<Database>) {}

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
