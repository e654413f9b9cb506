// The delivery module's public surface: what other modules may use (src/modules/*/ import another module only through
// its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP parts.
export type { WebhookService } from './app/webhook-service.ts';
export { webhookSecretLabel } from './app/secret-sealer.ts';
export type { WebhookDispatcher } from './app/webhook-dispatcher.ts';
