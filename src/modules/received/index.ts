// The received module's public surface: what other modules may use (src/modules/*/ import another module only through
// its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP and CLI parts.
export { buyerHasUsed, RECEIVED_EVENTS } from './app/received-service.ts';
export type { ReceivedRepository, ReceivedStatus } from './storage/received-repository.ts';
