// The tenants module's public surface: what other modules may use (src/modules/*/ import another module only through
// its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP and CLI parts.
export type { Authenticated } from './app/tenant-service.ts';
export { requireScope } from './http/api-key-auth.ts';
export { adminStampOf, auditStampOf } from './http/audit-stamp.ts';
export type { ApiKeyRepository } from './storage/api-key-repository.ts';
export type { SigningKeyRecord, SigningKeyWithSecret, Tenant } from './storage/tenant-contract.ts';
export type { TenantRepository } from './storage/tenant-repository.ts';
export { buyerTenantAmong, receivesFrom, type TaxIdHolder } from './domain/buyer-tenant.ts';
