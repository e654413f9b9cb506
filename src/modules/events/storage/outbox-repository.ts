// The transactional outbox: events appended in the transaction of the change they announce (the use case chooses the
// type and payload), read by the live event stream (modules/events/app/event-stream.ts).
//
// Since migration 0011 an event row carries its envelope (modules/events/app/event-envelope.ts): the JSON text fixed by
// the use case in the transaction of the change, with the stable event id, read back byte for byte. For invoice
// events its `data` is InvoiceEventSummary (number, type, kind, time, status and totals; never buyer data).
//
// Rows written before 0011 carry only `{ number, tenantId }`; for those, what a subscriber sees of the invoice still
// comes from the invoices table, limited to InvoiceEventSummary. The buyer block of the stored document (encrypted at
// rest where personal) is never read into the result, so no code path downstream can leak it.
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { InvoiceKind, InvoiceStatus, InvoiceType } from '../../../shared/invoice.ts';
import { parseEnvelope, type EventEnvelope } from '../app/event-envelope.ts';
import type { EventFacts, InvoiceEventSummary, NewOutboxEvent, OutboxEvent, OutboxReader, UndispatchedEvent } from './outbox-contract.ts';

interface EventRow {
  id: number | string;
  event_id: string | null;
  tenant_id: string;
  type: string;
  payload: string;
  created_at: string;
}

/** The invoice summary an enveloped invoice event carries, or undefined. */
function summaryOf(envelope: EventEnvelope | undefined): InvoiceEventSummary | undefined {
  if (!envelope || !envelope.type.startsWith('invoice.')) return undefined;
  const d = envelope.data as Partial<InvoiceEventSummary>;
  if (typeof d.number !== 'string' || typeof d.totals !== 'object' || d.totals === null) return undefined;
  const summary: InvoiceEventSummary = {
    number: d.number, type: d.type!, kind: d.kind!, issuedAt: d.issuedAt!, status: d.status!,
    totals: { amount: d.totals.amount, tax: d.totals.tax, total: d.totals.total },
  };
  const seller = d.seller;
  if (typeof seller === 'object' && seller !== null && typeof seller.name === 'string' && typeof seller.taxId === 'string') {
    summary.seller = { name: seller.name, taxId: seller.taxId };
  }
  return summary;
}

/**
 * The members of EventFacts of an enveloped event that names an invoice but is no invoice summary (red-letter
 * moves, received-invoice changes), each taken only with its type: nothing else of `data` is passed on.
 */
function factsOf(envelope: EventEnvelope | undefined): EventFacts | undefined {
  if (!envelope) return undefined;
  const d = envelope.data;
  if (typeof d.number !== 'string') return undefined;
  const facts: EventFacts = { number: d.number };
  for (const k of ['formId', 'state', 'red', 'status'] as const) if (typeof d[k] === 'string') facts[k] = d[k];
  for (const k of ['booked', 'deductionSelected'] as const) if (typeof d[k] === 'boolean') facts[k] = d[k];
  return facts;
}

/** The invoice number a row from before envelopes names, or undefined (other events, unreadable payloads). */
function legacyNumberOf(payload: string): string | undefined {
  try {
    const p = JSON.parse(payload) as { number?: unknown };
    return typeof p.number === 'string' ? p.number : undefined;
  } catch {
    return undefined;
  }
}

/** The table whose writes the unit of work announces after commit (UnitOfWork.afterCommit). */
export const OUTBOX_TABLE = 'outbox_events';

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
    if (events.length === 0) return;
    // After the commit, the unit of work wakes whoever waits for events (the dispatchers, the live stream).
    this.scope.signal?.(OUTBOX_TABLE);
    for (let i = 0; i < events.length; i += ROWS_PER_INSERT) {
      await this.db
        .insertInto('outbox_events')
        .values(events.slice(i, i + ROWS_PER_INSERT).map((e) => ({
          tenant_id: e.tenantId, event_id: e.eventId, type: e.type, payload: e.payload, created_at: at, dispatched_at: null,
        })))
        .execute();
    }
  }

  /**
   * Events not yet fanned out to webhook deliveries (`dispatched_at` null), oldest first, locked for the transaction
   * (`FOR UPDATE SKIP LOCKED` on PostgreSQL: another node's dispatcher takes the next ones; SQLite has one writer).
   * Served by outbox_events_pending_ix (dispatched_at, id).
   */
  async lockUndispatched(limit: number): Promise<UndispatchedEvent[]> {
    stampOf(this.scope);
    let q = this.db.selectFrom('outbox_events').select(['id', 'event_id', 'tenant_id', 'type', 'created_at'])
      .where('dispatched_at', 'is', null).orderBy('id').limit(limit);
    if (this.scope.traits.engine === 'postgres') q = q.forUpdate().skipLocked();
    const rows = await q.execute();
    return rows.map((r) => {
      const id = toSafeInteger(r.id);
      return { id, eventId: r.event_id ?? `evt_${id}`, tenantId: r.tenant_id, type: r.type, createdAt: r.created_at };
    });
  }

  /** Whether any event waits to be fanned out (one probe of outbox_events_pending_ix). */
  async hasUndispatched(): Promise<boolean> {
    const r = await this.db.selectFrom('outbox_events').select('id').where('dispatched_at', 'is', null).limit(1).executeTakeFirst();
    return r !== undefined;
  }

  /** Marks events fanned out, at the unit of work's time. */
  async markDispatched(ids: readonly number[]): Promise<void> {
    const at = stampOf(this.scope);
    if (ids.length === 0) return;
    await this.db.updateTable('outbox_events').set((eb) => ({ dispatched_at: at, attempts: eb('attempts', '+', 1) }))
      .where('id', 'in', [...ids]).execute();
  }

  /** The stored bytes of events by event id (the bodies of their deliveries). */
  async payloads(eventIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (eventIds.length === 0) return out;
    const rows = await this.db.selectFrom('outbox_events').select(['event_id', 'payload']).where('event_id', 'in', [...new Set(eventIds)]).execute();
    for (const r of rows) if (r.event_id !== null) out.set(r.event_id, r.payload);
    return out;
  }

  /** A tenant's events of these types written in [from, to), oldest first (webhook replay). */
  async listForTenantBetween(tenantId: string, from: string, to: string, types: readonly string[], limit: number): Promise<{ eventId: string; type: string }[]> {
    if (types.length === 0) return [];
    const rows = await this.db.selectFrom('outbox_events').select(['id', 'event_id', 'type'])
      .where('tenant_id', '=', tenantId).where('created_at', '>=', from).where('created_at', '<', to)
      .where('type', 'in', [...types]).orderBy('id').limit(limit).execute();
    return rows.map((r) => ({ eventId: r.event_id ?? `evt_${toSafeInteger(r.id)}`, type: r.type }));
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
      .select(['id', 'event_id', 'tenant_id', 'type', 'payload', 'created_at'])
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
      .select(['id', 'event_id', 'tenant_id', 'type', 'payload', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('id', '>', afterId)
      .where('id', '<=', throughId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return this.withInvoices(rows);
  }

  /**
   * The summary of each enveloped event as written; a row from before envelopes is joined to its invoice (one query
   * for all of them; numbers are globally unique, the tenant is checked too).
   */
  private async withInvoices(rows: EventRow[]): Promise<OutboxEvent[]> {
    const numbers = new Map<EventRow, string>();
    const fixed = new Map<EventRow, InvoiceEventSummary>();
    const other = new Map<EventRow, EventFacts>();
    const requestIds = new Map<EventRow, string>();
    for (const r of rows) {
      const envelope = parseEnvelope(r.payload);
      if (typeof envelope?.requestId === 'string') requestIds.set(r, envelope.requestId);
      const summary = summaryOf(envelope);
      if (summary) {
        fixed.set(r, summary);
        continue;
      }
      const facts = factsOf(envelope);
      if (facts) {
        other.set(r, facts);
        continue;
      }
      const n = legacyNumberOf(r.payload);
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
      const id = toSafeInteger(r.id);
      const event: OutboxEvent = { id, eventId: r.event_id ?? `evt_${id}`, tenantId: r.tenant_id, type: r.type, createdAt: r.created_at };
      const requestId = requestIds.get(r);
      if (requestId !== undefined) event.requestId = requestId;
      const own = fixed.get(r);
      if (own) {
        event.invoice = own;
        return event;
      }
      const facts = other.get(r);
      if (facts) {
        event.facts = facts;
        return event;
      }
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
