// The event as it is delivered, fixed when the change commits (issue 12: a replayed or re-signed delivery carries the
// same bytes). The use case builds the envelope in its own transaction and the outbox stores its JSON text as is; the
// live stream and every webhook delivery read those bytes, never the current state of what the event names.
//
// The shape follows the Standard Webhooks payload recommendation (`type`, `timestamp`, `data`), with the event's own
// stable id: the `webhook-id` of every delivery of it (docs/events.md).
import { randomBytes } from 'node:crypto';
import type { NewOutboxEvent } from '../storage/outbox-contract.ts';

export interface EventEnvelope<D = Record<string, unknown>> {
  /** `evt_` + 32 lower-case hex digits (128 random bits): unique across nodes without coordination. */
  id: string;
  /** One of EVENT_TYPES (docs/events.md). */
  type: string;
  /** The version of the type's `data` shape. */
  version: number;
  /** ISO 8601 UTC: the time of the unit of work that wrote the event. */
  timestamp: string;
  /**
   * The HTTP request the change was made for (its checked `X-Request-Id`, or the id the server generated and answered
   * in that header); only on the events of the tenant that made the request. Absent for jobs and the CLI.
   */
  requestId?: string;
  data: D;
}

/** What an event says about where it came from, beside its business `data`. */
export interface EventOrigin {
  requestId?: string;
}

const EVENT_ID = /^evt_[0-9a-z_]{1,60}$/;

export function newEventId(): string {
  return `evt_${randomBytes(16).toString('hex')}`;
}

export function isEventId(s: string): boolean {
  return EVENT_ID.test(s);
}

/**
 * Builds the event of `tenantId` at `at` and serialises it once: these bytes are what every consumer sees. `origin`
 * names the request the change was made for; pass it only for the requesting tenant's own events.
 */
export function outboxEvent<D extends object>(tenantId: string, type: string, version: number, at: Date, data: D, origin?: EventOrigin): NewOutboxEvent {
  const envelope: EventEnvelope<D> = {
    id: newEventId(), type, version, timestamp: at.toISOString(),
    ...(origin?.requestId !== undefined ? { requestId: origin.requestId } : {}),
    data,
  };
  return { tenantId, eventId: envelope.id, type, payload: JSON.stringify(envelope) };
}

/** The envelope of a stored payload, or undefined for rows written before envelopes (migration 0011) or unreadable. */
export function parseEnvelope(payload: string): EventEnvelope | undefined {
  try {
    const p = JSON.parse(payload) as Partial<EventEnvelope>;
    if (typeof p.id !== 'string' || typeof p.type !== 'string' || typeof p.timestamp !== 'string') return undefined;
    if (typeof p.data !== 'object' || p.data === null) return undefined;
    return p as EventEnvelope;
  } catch {
    return undefined;
  }
}
