import { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import { FieldProtector, type FieldProtectorOptions } from '../field-protector.ts';
import { KyselyStorage } from '../kysely-storage.ts';
import { ImmediateSqliteDialect, openSqlite, withStatementCache, type SqliteOpenOptions } from './sqlite-dialect.ts';
import { sqliteUniqueViolation } from './sqlite-errors.ts';

/** Storage on a SQLite file (or `:memory:`). */
export function createSqliteStorage(path: string, opts: SqliteOpenOptions & { masterKey?: Uint8Array; protection?: FieldProtectorOptions } = {}): KyselyStorage {
  const database = openSqlite(path, opts);
  const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(database) }) });
  const protector = opts.masterKey ? new FieldProtector(opts.masterKey, opts.protection) : undefined;
  return new KyselyStorage(db, { engine: 'sqlite', toUniqueViolation: sqliteUniqueViolation }, undefined, protector);
}
