// The reconciliation module's public surface: what other modules may use (src/modules/*/ import another module only
// through its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP and
// CLI parts.
export type { ReconciliationRepository } from './storage/reconciliation-repository.ts';
export type { StatementRepository } from './storage/statement-repository.ts';
