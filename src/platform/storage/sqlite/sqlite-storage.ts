import { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { MasterKey } from '../../crypto/key-store.ts';
import { FieldKeys, type FieldKeysOptions } from '../field-keys.ts';
import { StorageEngine } from '../storage-engine.ts';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { EngineTraits } from '../engine-traits.ts';
import { kyselyLog, type QueryObserver } from '../query-log.ts';
import { GuardedDialect, StorageHealth, type StorageHealthEvents } from '../storage-health.ts';
import { ImmediateSqliteDialect, openSqlite, withStatementCache, type SqliteOpenOptions } from './sqlite-dialect.ts';
import { isSqliteBusy, isSqliteUnavailable, sqliteUniqueViolation } from './sqlite-errors.ts';

const traits: EngineTraits = { engine: 'sqlite', toUniqueViolation: sqliteUniqueViolation, isUnavailable: isSqliteUnavailable };

/** Storage on a SQLite file (or `:memory:`). */
export function createSqliteStorage(
  path: string,
  opts: SqliteOpenOptions & { masterKey?: MasterKey; protection?: FieldKeysOptions; health?: StorageHealthEvents; clock?: Clock; onQuery?: QueryObserver } = {},
): StorageEngine {
  const database = openSqlite(path, opts);
  const health = new StorageHealth(opts.health);
  const dialect = new ImmediateSqliteDialect({ database: withStatementCache(database) }, () => database.inTransaction);
  const log = kyselyLog(opts.onQuery);
  const db = new Kysely<Database>({ dialect: new GuardedDialect(dialect, health, { unavailable: isSqliteUnavailable, transient: isSqliteBusy }), ...(log ? { log } : {}) });
  const clock = opts.clock ?? systemClock;
  const fields = opts.masterKey ? new FieldKeys(opts.masterKey, { clock, ...opts.protection }) : undefined;
  return new StorageEngine(db, traits, undefined, fields, health, () => clock.now());
}
