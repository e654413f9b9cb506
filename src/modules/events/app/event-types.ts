// The versioned list of event types (docs/events.md is the reference for integrators). A type's `data` shape only
// grows within a version (new optional fields); a change that removes or redefines a field is a new version.
export const EVENT_TYPES = {
  /** An invoice was issued (blue or red); `data` is InvoiceEventSummary at the issuing commit. */
  'invoice.issued': { version: 1 },
} as const;

export type EventType = keyof typeof EVENT_TYPES;

export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[];

export function isEventType(s: string): s is EventType {
  return Object.hasOwn(EVENT_TYPES, s);
}
