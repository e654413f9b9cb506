// The storage contract the services use. Two engines implement it with the same role files (sqlite/, postgres/) and
// one contract test suite (test/storage/) runs against both. Every tenant-owned query is scoped by tenant.
// This file defines the Storage aggregate; the repositories' types live in contract/ and are re-exported here, so
// callers import the whole contract from this one module.
import type { DataKeyRepository } from '../../modules/keys/storage/data-keys.ts';
import type { AuditRepository } from '../../modules/audit/storage/audit-contract.ts';
import type { IdempotencyRepository, InvoiceRepository } from '../../modules/invoicing/storage/invoice-contract.ts';
import type { OutboxRepository } from '../../modules/events/storage/outbox-contract.ts';
import type { ApiKeyRepository, SigningKeyRepository, TenantRepository } from '../../modules/tenants/storage/tenant-contract.ts';

export * from '../../modules/tenants/storage/tenant-contract.ts';
export * from '../../modules/invoicing/storage/invoice-contract.ts';
export * from '../../modules/events/storage/outbox-contract.ts';
export * from '../../modules/audit/storage/audit-contract.ts';
export * from './storage-errors.ts';

export type Engine = 'sqlite' | 'postgres';

export interface MigrationOutcome {
  name: string;
  status: 'applied' | 'already-applied';
}

export interface Storage {
  readonly engine: Engine;
  readonly tenants: TenantRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly signingKeys: SigningKeyRepository;
  readonly invoices: InvoiceRepository;
  readonly idempotency: IdempotencyRepository;
  readonly audit: AuditRepository;
  readonly outbox: OutboxRepository;
  /** Data keys, master-key rotation and re-encryption (data-keys.ts); present when a master key is configured. */
  readonly dataKeys?: DataKeyRepository;
  migrate(): Promise<MigrationOutcome[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
