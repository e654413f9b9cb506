// The events module's public surface: what other modules may use (src/modules/*/ import another module only through
// its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP and CLI parts.
export type { OutboxRepository } from './storage/outbox-repository.ts';
export { outboxEvent, parseEnvelope, isEventId, type EventEnvelope, type EventOrigin } from './app/event-envelope.ts';
export { EVENT_TYPES, EVENT_TYPE_NAMES, isEventType, type EventType } from './app/event-types.ts';
export type { NewOutboxEvent, UndispatchedEvent } from './storage/outbox-contract.ts';
