import pg from 'pg';
import { PostgresDialect } from 'kysely';

export interface PostgresOpenOptions {
  /** Schema for every table (search_path); created by migrate(). Lets test runs share one database. */
  schema?: string;
  poolSize?: number;
  /** An idle pooled connection failed (server restart, failover); the pool drops it and reconnects on demand. */
  onPoolError?: (error: Error) => void;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function createPostgresDialect(url: string, opts: PostgresOpenOptions = {}): PostgresDialect {
  if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) throw new RangeError('invalid PostgreSQL schema name');
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    ...(opts.schema !== undefined ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  // Without a listener an idle client's error would crash the process.
  pool.on('error', opts.onPoolError ?? (() => undefined));
  return new PostgresDialect({ pool });
}
