// better-sqlite3 opened for durability, and a Kysely dialect whose transactions begin IMMEDIATE.
//
// Kysely's SqliteDriver begins transactions with a plain (DEFERRED) `begin`: the write lock is taken at the first
// write, and a reader that upgrades can fail with SQLITE_BUSY regardless of busy_timeout if another process wrote in
// between. `begin immediate` takes the write lock at the start, so a second process (e.g. the CLI beside the server)
// waits up to busy_timeout instead. Within one process Kysely already serialises everything on its single connection.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type SqliteDatabase, type SqliteDialectConfig } from 'kysely';

class ImmediateSqliteDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly inTransaction: () => boolean,
  ) {
    super(config);
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  /**
   * SQLite rolls the whole transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY,
   * SQLITE_NOMEM: https://www.sqlite.org/lang_transaction.html, "Response To Errors Within A Transaction"). Kysely's
   * ROLLBACK then fails with "cannot rollback - no transaction is active", and that error replaced the one that
   * caused it (a full disk was logged and answered as an unknown error). Roll back only what is still open.
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.inTransaction()) return;
    await super.rollbackTransaction(connection);
  }
}

export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  readonly #inTransaction: () => boolean;

  /** `inTransaction`: whether the connection has a transaction open (better-sqlite3's `db.inTransaction`). */
  constructor(config: SqliteDialectConfig, inTransaction: () => boolean) {
    super(config);
    this.#config = config;
    this.#inTransaction = inTransaction;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config, this.#inTransaction);
  }
}

const STATEMENT_CACHE_MAX = 512;

/**
 * Kysely's SQLite connection prepares every query anew; preparing costs more than running a point lookup. The same
 * SQL text always compiles to the same statement, so keep them. Safe because Kysely runs one query at a time on the
 * single connection and never iterates a statement while another runs it.
 */
export function withStatementCache(db: Database.Database): SqliteDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => db.close(),
    prepare(sql: string) {
      let stmt = cache.get(sql);
      if (!stmt) {
        if (cache.size >= STATEMENT_CACHE_MAX) cache.clear();
        stmt = db.prepare(sql);
        cache.set(sql, stmt);
      }
      return stmt;
    },
  };
}

export interface SqliteOpenOptions {
  busyTimeoutMs?: number;
}

/** Opens (creating the parent directory of) a database file, or `:memory:`. */
export function openSqlite(path: string, opts: SqliteOpenOptions = {}): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  // WAL: readers do not block the writer. synchronous=FULL: a commit is fsynced before it returns (invariant 1);
  // NORMAL would be durable against a process crash only, not a power loss.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
  return db;
}
