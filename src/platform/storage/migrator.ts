// Runs the in-code migrations (platform/storage/migrations/index.ts) with Kysely's Migrator: it records applied names in
// `kysely_migration` and takes a lock (`kysely_migration_lock`, a table lock on PostgreSQL) so that several nodes
// starting together migrate once.
import { Migrator, type Kysely } from 'kysely';
import type { Database } from './database.ts';
import { migrationsFor } from './migrations/index.ts';
import type { Engine, MigrationOutcome } from './storage-engine.ts';

export async function runMigrations(db: Kysely<Database>, engine: Engine, schema?: string): Promise<MigrationOutcome[]> {
  const migrations = migrationsFor(engine);
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
    // On PostgreSQL with a schema, the Migrator creates it before anything else; the pool's search_path does the rest.
    ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) throw error instanceof Error ? error : new Error('migration failed', { cause: error });
  const applied = new Set((results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName));
  return Object.keys(migrations).map((name) => ({ name, status: applied.has(name) ? 'applied' : 'already-applied' }));
}
