// Storage contract: the transactional outbox as the live event stream reads it.
import type { InvoiceKind, InvoiceStatus, InvoiceType } from '../../../shared/invoice.ts';

/** What the live event stream may show of an invoice: no buyer data at all (invariant 8). */
export interface InvoiceEventSummary {
  number: string;
  type: InvoiceType;
  kind: InvoiceKind;
  issuedAt: string;
  /** The status when the event was written (fixed: a later red letter does not change this event). */
  status: InvoiceStatus;
  /** Decimal strings, as issued. */
  totals: { amount: string; tax: string; total: string };
  /** In the buyer's `invoice.received`: who issued it (never the buyer block). */
  seller?: { name: string; taxId: string };
}

/**
 * What the live stream may show of an event that is not an invoice summary (red-letter moves, the buyer's received
 * invoices): only these members of the envelope's `data`, whatever else it holds.
 */
export interface EventFacts {
  /** The invoice the event is about. */
  number: string;
  formId?: string;
  state?: string;
  red?: string;
  status?: string;
  booked?: boolean;
  deductionSelected?: boolean;
}

/** One row of the transactional outbox (written in the issuing transaction) as the live event stream reads it. */
export interface OutboxEvent {
  /** BIGSERIAL / AUTOINCREMENT: grows with every event of every tenant; the SSE `id`. */
  id: number;
  /** The stable, unique event id (`evt_…`): the envelope's `id`, the `webhook-id` of its deliveries. */
  eventId: string;
  tenantId: string;
  /** e.g. `invoice.issued`. */
  type: string;
  createdAt: string;
  /** The envelope's `requestId`: the HTTP request of the tenant's own that wrote it, if any. */
  requestId?: string;
  /** The invoice the event names; absent when the event names none (or it is gone). */
  invoice?: InvoiceEventSummary;
  /** For other enveloped events naming an invoice: what the stream may show (EventFacts). */
  facts?: EventFacts;
}

/** An event to append: its tenant, stable id and type, and the JSON text of its envelope (the delivered bytes). */
export interface NewOutboxEvent {
  tenantId: string;
  eventId: string;
  type: string;
  payload: string;
}

export interface OutboxReader {
  /** The highest event id, 0 when there is none. */
  lastId(): Promise<number>;
  /** Events of every tenant with id > afterId, oldest first, at most `limit` (a range scan of the primary key). */
  listAfter(afterId: number, limit: number): Promise<OutboxEvent[]>;
  /** One tenant's events with afterId < id ≤ throughId, oldest first, at most `limit`. */
  listForTenant(tenantId: string, afterId: number, throughId: number, limit: number): Promise<OutboxEvent[]>;
}

/** An event waiting to be fanned out to webhook deliveries (modules/delivery/). */
export interface UndispatchedEvent {
  id: number;
  eventId: string;
  tenantId: string;
  type: string;
  createdAt: string;
}
