// One database on either engine: the Kysely instance over the engine's dialect (guarded, storage-health.ts), the
// engine's traits, migrations, readiness, and the per-tenant field keys when a master key is configured. Repositories
// and transactions are made from it by a UnitOfWork (unit-of-work.ts); this object holds no business logic.
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from './database.ts';
import type { FieldKeys } from './field-keys.ts';
import { runMigrations } from './migrator.ts';
import type { EngineTraits } from './engine-traits.ts';
import { StorageHealth, storageUnavailable } from './storage-health.ts';

export type Engine = 'sqlite' | 'postgres';

export interface MigrationOutcome {
  name: string;
  status: 'applied' | 'already-applied';
}

/**
 * Bytes of the probe write: about what one issuing transaction of a few invoices writes, so a database with room for
 * the probe has room for real work, not merely for a one-page update.
 */
const PROBE_BYTES = 64 * 1024;

export class StorageEngine {
  readonly engine: Engine;
  /** PostgreSQL: the pool's connections (the metrics read them at scrape time); absent on SQLite. */
  poolStats?: () => { total: number; idle: number; waiting: number };

  /**
   * @param db the query builder over the engine's (guarded) dialect: for unit-of-work repositories and for tests that
   *   inspect tables.
   * @param schema PostgreSQL schema the pool's search_path points at (created by migrate()).
   * @param fields per-tenant data keys for the buyer's personal data at rest; absent = plaintext documents.
   * @param health whether the database accepts writes; set by the dialect (GuardedDialect) `db` was built with.
   * @param now the clock that stamps the probe write (the composition root's clock).
   */
  constructor(
    readonly db: Kysely<Database>,
    readonly traits: EngineTraits,
    private readonly schema: string | undefined,
    readonly fields: FieldKeys | undefined,
    readonly health: StorageHealth,
    private readonly now: () => Date,
  ) {
    health.setProbe(() => this.probeWrite());
    this.engine = traits.engine;
  }

  migrate(): Promise<MigrationOutcome[]> {
    return runMigrations(this.db, this.engine, this.schema);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  /**
   * PostgreSQL: when the server behind the pool started (Unix seconds). It changes when the pool reaches another
   * server (a standby promoted, a failover behind HAProxy) or the same one restarted; undefined on SQLite.
   */
  async serverStartedAt(): Promise<number | undefined> {
    if (this.engine !== 'postgres') return undefined;
    const r = await sql<{ t: string | number }>`select extract(epoch from pg_postmaster_start_time()) as t`.execute(this.db);
    const t = Number(r.rows[0]?.t);
    return Number.isFinite(t) ? t : undefined;
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
      .values({ probed_at: this.now().toISOString(), payload: randomBytes(PROBE_BYTES).toString('base64') })
      .execute();
    await this.db.deleteFrom('storage_probe').execute();
  }

  async close(): Promise<void> {
    this.health.close();
    await this.db.destroy();
  }
}
