// The versioned list of event types (docs/events.md is the reference for integrators). A type's `data` shape only
// grows within a version (new optional fields); a change that removes or redefines a field is a new version.
export const EVENT_TYPES = {
  /** An invoice was issued (blue or red); `data` is InvoiceEventSummary at the issuing commit. */
  'invoice.issued': { version: 1 },
  /** A blue invoice was reversed in part or in full by a red invoice; `data`: number, tenantId, formId, red (number). */
  'invoice.red-flushed': { version: 1 },
  /** A red-letter confirmation form moved (modules/red-letter/); `data`: number (the blue invoice), tenantId, formId, state. */
  'red-letter.filed': { version: 1 },
  'red-letter.confirmed': { version: 1 },
  'red-letter.rejected': { version: 1 },
  'red-letter.revoked': { version: 1 },
  'red-letter.expired': { version: 1 },
  /**
   * To the buyer tenant (modules/received/): an invoice (blue or red) addressed to it was issued; `data` is
   * InvoiceEventSummary and `seller` { name, taxId }.
   */
  'invoice.received': { version: 1 },
  /** To the buyer tenant: a received invoice was reversed by a red invoice; `data`: number, formId, red, status. */
  'received-invoice.red-flushed': { version: 1 },
  /** To the buyer tenant: its own accounting status changed; `data`: number, booked, deductionSelected. */
  'received-invoice.booked': { version: 1 },
  'received-invoice.unbooked': { version: 1 },
  'received-invoice.deduction-selected': { version: 1 },
  'received-invoice.deduction-unselected': { version: 1 },
  /** A batch of invoices was accepted for issuing (modules/batches/); `data`: batchId, total, accepted, invalid. */
  'invoice-batch.accepted': { version: 1 },
  /** Every item of a batch is settled; `data`: batchId, total, issued, failed, invalid. */
  'invoice-batch.completed': { version: 1 },
  /** An e-mail of an invoice was queued (modules/delivery/, docs/email.md); `data`: number, deliveryId, source, formats, lang. Never the address. */
  'invoice.email-queued': { version: 1 },
  /** A test event sent to one endpoint by `POST /v1/webhooks/{id}/test`; `data`: endpointId, message. */
  'webhook.test': { version: 1 },
} as const;

export type EventType = keyof typeof EVENT_TYPES;

export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[];

export function isEventType(s: string): s is EventType {
  return Object.hasOwn(EVENT_TYPES, s);
}
