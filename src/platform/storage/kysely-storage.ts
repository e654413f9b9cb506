// The Storage contract over Kysely: the repositories are shared; the engine folders supply the dialect and the
// EngineTraits (error mapping).
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.ts';
import type { FieldProtector } from './field-protector.ts';
import { runMigrations } from './migrator.ts';
import { KyselyApiKeyRepository } from '../../modules/tenants/storage/api-key-repository.ts';
import { KyselyDataKeyRepository } from '../../modules/keys/storage/data-key-repository.ts';
import { KyselyAuditRepository } from '../../modules/audit/storage/audit-repository.ts';
import type { EngineTraits } from './engine-traits.ts';
import { KyselyIdempotencyRepository } from '../../modules/invoicing/storage/idempotency-repository.ts';
import { KyselyInvoiceRepository } from '../../modules/invoicing/storage/invoice-repository.ts';
import { KyselyOutboxRepository } from '../../modules/events/storage/outbox-repository.ts';
import { KyselySigningKeyRepository } from '../../modules/keys/storage/signing-key-repository.ts';
import { KyselyTenantRepository } from '../../modules/tenants/storage/tenant-repository.ts';
import type { Engine, MigrationOutcome, Storage } from './storage.ts';
import { StorageHealth, storageUnavailable } from './storage-health.ts';

/**
 * Bytes of the probe write: about what one issuing transaction of a few invoices writes, so a database with room for
 * the probe has room for real work, not merely for a one-page update.
 */
const PROBE_BYTES = 64 * 1024;

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
   * @param health whether the database accepts writes; set by the dialect (GuardedDialect) `db` was built with.
   */
  constructor(
    readonly db: Kysely<Database>,
    traits: EngineTraits,
    private readonly schema?: string,
    protector?: FieldProtector,
    readonly health: StorageHealth = new StorageHealth(),
  ) {
    health.setProbe(() => this.probeWrite());
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

  /**
   * Readiness: the database answers, and accepts writes. After a write failed for want of space, I/O or connection
   * (storage-health.ts) the database may still answer reads; then a probe write decides, and readiness stays false
   * until one succeeds.
   */
  async ready(): Promise<void> {
    await this.ping();
    if (!(await this.health.recheck())) throw storageUnavailable();
  }

  /**
   * One committed write of fresh data (migration 0007); its success ends an outage (the dialect sees a write succeed).
   * The row is deleted afterwards, so the table stays empty and each probe needs new space again.
   */
  async probeWrite(): Promise<void> {
    await this.db
      .insertInto('storage_probe')
      .values({ probed_at: new Date().toISOString(), payload: randomBytes(PROBE_BYTES).toString('base64') })
      .execute();
    await this.db.deleteFrom('storage_probe').execute();
  }

  async close(): Promise<void> {
    this.health.close();
    await this.db.destroy();
  }
}
