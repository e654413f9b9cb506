// The events module's public surface: what other modules may use (src/modules/*/ import another module only through
// its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP and CLI parts.
export type { OutboxRepository } from './storage/outbox-repository.ts';
