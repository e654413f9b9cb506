// Picks the engine from the database URL (FAPIAO_DATABASE_URL, docs/design.md §8):
//   sqlite:<path>, sqlite://<path>, sqlite::memory:   → SQLite (better-sqlite3)
//   postgres://…, postgresql://…                      → PostgreSQL (pg Pool)
// Errors never echo the URL: it may carry a password.
import type { StorageEngine } from './storage-engine.ts';
import type { FieldKeysOptions } from './field-keys.ts';
import type { MasterKey } from '../crypto/key-store.ts';
import type { Clock } from '../../shared/clock.ts';
import type { StorageHealthEvents } from './storage-health.ts';
import type { QueryObserver } from './query-log.ts';
import { createPostgresStorage } from './postgres/postgres-storage.ts';
import { createSqliteStorage } from './sqlite/sqlite-storage.ts';

export interface StorageOptions {
  /** PostgreSQL only: schema for all tables (search_path), created by migrate(). */
  schema?: string;
  /** PostgreSQL only: pool size (default 10). */
  poolSize?: number;
  /** PostgreSQL only: parameterised statements run as named prepared statements (default true). */
  preparedStatements?: boolean;
  /** PostgreSQL only: an idle pooled connection failed; it is dropped and replaced on demand. */
  onPoolError?: (error: Error) => void;
  /** SQLite only: how long to wait for another process's write lock (default 5000 ms). */
  busyTimeoutMs?: number;
  /**
   * The master key: the buyer's personal data is encrypted at rest under per-tenant data keys and searchable through
   * blind indexes (field-keys.ts). Without it documents are stored in plaintext (storage contract tests only).
   */
  masterKey?: MasterKey;
  /** With masterKey: the algorithm of new data keys, the master key's version and earlier master keys. */
  protection?: FieldKeysOptions;
  /** The composition root's clock: it stamps the rows storage makes by itself (key rows, the probe write). */
  clock?: Clock;
  /**
   * The database stopped or resumed accepting writes (storage-health.ts): `onDown` gets the engine's error, once per
   * outage, to log; meanwhile writes answer STORAGE_UNAVAILABLE and readiness is false.
   */
  health?: StorageHealthEvents;
  /** Observes every SQL statement run (the slow-query log; query-log.ts). */
  onQuery?: QueryObserver;
}

/** Opens storage (no I/O for PostgreSQL until the first query); call migrate() before use. */
export function createStorage(url: string, opts: StorageOptions = {}): StorageEngine {
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw new RangeError('database URL: sqlite: needs a path');
    return createSqliteStorage(path, opts);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return createPostgresStorage(url, opts);
  }
  throw new RangeError('database URL: unsupported scheme (use sqlite:<path> or postgres://…)');
}
