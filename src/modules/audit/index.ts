// The audit module's public surface: what other modules may use (src/modules/*/ import another module only through
// its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP and CLI parts.
export type { AuditService } from './app/audit-service.ts';
export type { AuditStamp } from './storage/audit-contract.ts';
export { stampEntry, stampFields } from './storage/audit-stamp.ts';
export type { AuditRepository } from './storage/audit-repository.ts';
