import { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import { FieldProtector, type FieldProtectorOptions } from '../field-protector.ts';
import { KyselyStorage } from '../kysely-storage.ts';
import { createPostgresDialect, type PostgresOpenOptions } from './postgres-dialect.ts';
import { postgresUniqueViolation } from './postgres-errors.ts';

/**
 * Storage on PostgreSQL through a pg Pool. Commits are durable with the server's default synchronous_commit=on;
 * several nodes may share the database (numbering and ledger serialise on row locks, see issue-batch.ts).
 */
export function createPostgresStorage(url: string, opts: PostgresOpenOptions & { masterKey?: Uint8Array; protection?: FieldProtectorOptions } = {}): KyselyStorage {
  const db = new Kysely<Database>({ dialect: createPostgresDialect(url, opts) });
  const protector = opts.masterKey ? new FieldProtector(opts.masterKey, opts.protection) : undefined;
  return new KyselyStorage(db, { engine: 'postgres', toUniqueViolation: postgresUniqueViolation }, opts.schema, protector);
}
