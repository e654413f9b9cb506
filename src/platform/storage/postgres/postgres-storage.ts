import { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import { FieldProtector, type FieldProtectorOptions } from '../field-protector.ts';
import { KyselyStorage } from '../kysely-storage.ts';
import type { EngineTraits } from '../engine-traits.ts';
import { GuardedDialect, StorageHealth, type StorageHealthEvents } from '../storage-health.ts';
import { createPostgresDialect, type PostgresOpenOptions } from './postgres-dialect.ts';
import { isPostgresUnavailable, postgresUniqueViolation } from './postgres-errors.ts';

const traits: EngineTraits = { engine: 'postgres', toUniqueViolation: postgresUniqueViolation, isUnavailable: isPostgresUnavailable };

/**
 * Storage on PostgreSQL through a pg Pool. Commits are durable with the server's default synchronous_commit=on;
 * several nodes may share the database (numbering and ledger serialise on row locks, see issue-batch.ts).
 */
export function createPostgresStorage(
  url: string,
  opts: PostgresOpenOptions & { masterKey?: Uint8Array; protection?: FieldProtectorOptions; health?: StorageHealthEvents } = {},
): KyselyStorage {
  const health = new StorageHealth(opts.health);
  const db = new Kysely<Database>({ dialect: new GuardedDialect(createPostgresDialect(url, opts), health, { unavailable: isPostgresUnavailable }) });
  const protector = opts.masterKey ? new FieldProtector(opts.masterKey, opts.protection) : undefined;
  return new KyselyStorage(db, traits, opts.schema, protector, health);
}
