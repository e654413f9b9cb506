import { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import { FieldProtector, type FieldProtectorOptions } from '../field-protector.ts';
import { KyselyStorage } from '../kysely-storage.ts';
import type { EngineTraits } from '../engine-traits.ts';
import { GuardedDialect, StorageHealth, type StorageHealthEvents } from '../storage-health.ts';
import { ImmediateSqliteDialect, openSqlite, withStatementCache, type SqliteOpenOptions } from './sqlite-dialect.ts';
import { isSqliteBusy, isSqliteUnavailable, sqliteUniqueViolation } from './sqlite-errors.ts';

const traits: EngineTraits = { engine: 'sqlite', toUniqueViolation: sqliteUniqueViolation, isUnavailable: isSqliteUnavailable };

/** Storage on a SQLite file (or `:memory:`). */
export function createSqliteStorage(
  path: string,
  opts: SqliteOpenOptions & { masterKey?: Uint8Array; protection?: FieldProtectorOptions; health?: StorageHealthEvents } = {},
): KyselyStorage {
  const database = openSqlite(path, opts);
  const health = new StorageHealth(opts.health);
  const dialect = new ImmediateSqliteDialect({ database: withStatementCache(database) }, () => database.inTransaction);
  const db = new Kysely<Database>({ dialect: new GuardedDialect(dialect, health, { unavailable: isSqliteUnavailable, transient: isSqliteBusy }) });
  const protector = opts.masterKey ? new FieldProtector(opts.masterKey, opts.protection) : undefined;
  return new KyselyStorage(db, traits, undefined, protector, health);
}
