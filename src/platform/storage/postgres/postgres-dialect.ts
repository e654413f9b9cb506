import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { PostgresDialect } from 'kysely';

export interface PostgresOpenOptions {
  /** Schema for every table (search_path); created by migrate(). Lets test runs share one database. */
  schema?: string;
  poolSize?: number;
  /** An idle pooled connection failed (server restart, failover); the pool drops it and reconnects on demand. */
  onPoolError?: (error: Error) => void;
  /** How long to wait for a new connection before the query fails as STORAGE_UNAVAILABLE (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Parameterised statements run as named prepared statements of their connection (default true). */
  preparedStatements?: boolean;
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
      if (opts.preparedStatements !== false) prepareStatements(client);
    });
    pool = p;
    return p;
  };
  return {
    dialect: new PostgresDialect({ pool: open }),
    stats: () => (pool ? { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount } : { total: 0, idle: 0, waiting: 0 }),
  };
}

/** Statements a connection keeps prepared at most; beyond, a new text runs unnamed (parsed each time). */
const MAX_PREPARED = 256;
/** Longer texts (multi-row inserts of a batch: one text per row count) run unnamed. */
const MAX_PREPARED_TEXT = 2048;
const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `f${createHash('sha256').update(text).digest('base64url').slice(0, 24)}`;
    if (names.size < 4096) names.set(text, name);
  }
  return name;
}

/**
 * Runs each parameterised statement as a named prepared statement of its connection: PostgreSQL parses and plans a
 * text once per connection instead of on every execution (Kysely sends the same texts over and over). Statements
 * without parameters (migrations, scripts of several commands) keep the simple protocol.
 */
function prepareStatements(client: PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const prepared = new Set<string>();
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (config: unknown, values?: unknown, callback?: unknown) => {
    if (typeof config === 'string' && Array.isArray(values) && values.length > 0 && config.length <= MAX_PREPARED_TEXT) {
      const name = statementName(config);
      if (prepared.has(name) || prepared.size < MAX_PREPARED) {
        prepared.add(name);
        return query({ name, text: config, values }, callback);
      }
    }
    return query(config, values, callback);
  };
}
