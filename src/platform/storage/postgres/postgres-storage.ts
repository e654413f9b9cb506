import { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { MasterKey } from '../../crypto/key-store.ts';
import { FieldKeys, type FieldKeysOptions } from '../field-keys.ts';
import { StorageEngine } from '../storage-engine.ts';
import { systemClock, type Clock } from '../../../shared/clock.ts';
import type { EngineTraits } from '../engine-traits.ts';
import { kyselyLog, type QueryObserver } from '../query-log.ts';
import { GuardedDialect, StorageHealth, type StorageHealthEvents } from '../storage-health.ts';
import { createPostgresDialect, type PostgresOpenOptions } from './postgres-dialect.ts';
import { isPostgresUnavailable, postgresUniqueViolation } from './postgres-errors.ts';

const traits: EngineTraits = { engine: 'postgres', toUniqueViolation: postgresUniqueViolation, isUnavailable: isPostgresUnavailable };

/**
 * Storage on PostgreSQL through a pg Pool. Commits are durable with the server's default synchronous_commit=on;
 * several nodes may share the database (numbering and ledger serialise on row locks, see modules/invoicing/app/commit-issue-batch.ts).
 */
export function createPostgresStorage(
  url: string,
  opts: PostgresOpenOptions & { masterKey?: MasterKey; protection?: FieldKeysOptions; health?: StorageHealthEvents; clock?: Clock; onQuery?: QueryObserver } = {},
): StorageEngine {
  const health = new StorageHealth(opts.health);
  const { dialect, stats } = createPostgresDialect(url, opts);
  const log = kyselyLog(opts.onQuery);
  const db = new Kysely<Database>({ dialect: new GuardedDialect(dialect, health, { unavailable: isPostgresUnavailable }), ...(log ? { log } : {}) });
  const clock = opts.clock ?? systemClock;
  const fields = opts.masterKey ? new FieldKeys(opts.masterKey, { clock, ...opts.protection }) : undefined;
  const engine = new StorageEngine(db, traits, opts.schema, fields, health, () => clock.now());
  engine.poolStats = stats;
  return engine;
}
