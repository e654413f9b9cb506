import type { Pool } from 'pg';
import { PostgresDialect } from 'kysely';

export interface PostgresOpenOptions {
  /** Schema for every table (search_path); created by migrate(). Lets test runs share one database. */
  schema?: string;
  poolSize?: number;
  /** An idle pooled connection failed (server restart, failover); the pool drops it and reconnects on demand. */
  onPoolError?: (error: Error) => void;
  /** How long to wait for a new connection before the query fails as STORAGE_UNAVAILABLE (default 5000 ms). */
  connectTimeoutMs?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The pool's connections: open, idle, and requests waiting for one. */
export interface PoolStats { total: number; idle: number; waiting: number }

export function createPostgresDialect(url: string, opts: PostgresOpenOptions = {}): { dialect: PostgresDialect; stats: () => PoolStats } {
  if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) throw new RangeError('invalid PostgreSQL schema name');
  // The driver (pg) is loaded when Kysely opens the pool, at the first query: a server on SQLite never loads it.
  let pool: Pool | undefined;
  const open = async (): Promise<Pool> => {
    const { default: pg } = await import('pg');
    const p = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 10,
      // pg waits forever by default: with the server unreachable (not refusing) every request would hang, not fail.
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      ...(opts.schema !== undefined ? { options: `-c search_path=${opts.schema}` } : {}),
    });
    // Without a listener an idle client's error would crash the process.
    p.on('error', opts.onPoolError ?? (() => undefined));
    // The same for a client in use: pg emits `error` on it when its socket fails (pg/lib/client.js _handleErrorEvent),
    // and pg-pool listens only while the client is idle. The query in flight fails with the same error (and is answered
    // STORAGE_UNAVAILABLE); the client is no longer queryable, so the pool discards it on release.
    p.on('connect', (client) => {
      client.on('error', () => undefined);
    });
    pool = p;
    return p;
  };
  return {
    dialect: new PostgresDialect({ pool: open }),
    stats: () => (pool ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : { total: 0, idle: 0, waiting: 0 }),
  };
}
