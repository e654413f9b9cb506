// The Storage contract over Kysely: the repositories are shared; the engine folders supply the dialect and the
// EngineTraits (error mapping).
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.ts';
import type { FieldProtector } from './field-protector.ts';
import { runMigrations } from './migrator.ts';
import { KyselyApiKeyRepository } from './repositories/api-key-repository.ts';
import { KyselyDataKeyRepository } from './repositories/data-key-repository.ts';
import { KyselyAuditRepository } from './repositories/audit-repository.ts';
import type { EngineTraits } from './repositories/engine-traits.ts';
import { KyselyIdempotencyRepository } from './repositories/idempotency-repository.ts';
import { KyselyInvoiceRepository } from './repositories/invoice-repository.ts';
import { KyselyOutboxRepository } from './repositories/outbox-repository.ts';
import { KyselySigningKeyRepository } from './repositories/signing-key-repository.ts';
import { KyselyTenantRepository } from './repositories/tenant-repository.ts';
import type { Engine, MigrationOutcome, Storage } from './storage.ts';

export class KyselyStorage implements Storage {
  readonly engine: Engine;
  readonly tenants: KyselyTenantRepository;
  readonly apiKeys: KyselyApiKeyRepository;
  readonly signingKeys: KyselySigningKeyRepository;
  readonly invoices: KyselyInvoiceRepository;
  readonly idempotency: KyselyIdempotencyRepository;
  readonly audit: KyselyAuditRepository;
  readonly outbox: KyselyOutboxRepository;
  readonly dataKeys?: KyselyDataKeyRepository;

  /**
   * @param db the query builder; exposed for jobs inside storage and for tests that inspect tables, not for services.
   * @param schema PostgreSQL schema the pool's search_path points at (created by migrate()).
   * @param protector encrypts the buyer's personal data at rest; absent = plaintext documents.
   */
  constructor(
    readonly db: Kysely<Database>,
    traits: EngineTraits,
    private readonly schema?: string,
    protector?: FieldProtector,
  ) {
    this.engine = traits.engine;
    this.tenants = new KyselyTenantRepository(db, traits);
    this.apiKeys = new KyselyApiKeyRepository(db, traits);
    this.signingKeys = new KyselySigningKeyRepository(db, traits);
    this.invoices = new KyselyInvoiceRepository(db, traits, protector);
    this.idempotency = new KyselyIdempotencyRepository(db, protector);
    this.audit = new KyselyAuditRepository(db, traits);
    this.outbox = new KyselyOutboxRepository(db);
    if (protector) this.dataKeys = new KyselyDataKeyRepository(db, traits, protector);
  }

  migrate(): Promise<MigrationOutcome[]> {
    return runMigrations(this.db, this.engine, this.schema);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}
