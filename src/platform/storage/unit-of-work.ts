// The unit of work: a use case runs its changes in one transaction on either engine, through small table-level
// repositories bound to that transaction (Kysely's own idiom, `db.transaction().execute(trx => …)`, with the
// repositories made for `trx`). The caller owns the transaction and its policy: which rows, which audit entry, which
// outbox event, in which order (docs/architecture.md, "Lock order"). Storage never reads the clock: the use case's
// clock gives the time of the unit of work, and every row it stamps carries that time.
//
// Outside `run`, `read` offers the same repositories over the pool for queries; a write through them throws, so a
// change can never escape the transaction of the use case that makes it.
import type { Kysely } from 'kysely';
import type { Database } from './database.ts';
import { rethrow, type EngineTraits } from './engine-traits.ts';
import type { FieldKeys } from './field-keys.ts';
import type { StorageEngine } from './storage-engine.ts';

/** What a repository is bound to: the transaction (inside `run`) or the pool (`read`), and the time of the work. */
export interface Scope {
  readonly db: Kysely<Database>;
  readonly traits: EngineTraits;
  /** The unit of work's time; undefined for `read`, whose repositories may not write. */
  readonly at: Date | undefined;
  /** Per-tenant data keys for personal data at rest; absent without a master key. */
  readonly fields: FieldKeys | undefined;
}

/** The unit of work's time as stored (ISO 8601 UTC); throws for a write attempted outside `run`. */
export function stampOf(scope: Scope): string {
  if (scope.at === undefined) throw new Error('a write outside a unit of work (use UnitOfWork.run)');
  return scope.at.toISOString();
}

export class UnitOfWork<R> {
  /** The repositories over the pool, for reads. */
  readonly read: R;

  constructor(
    private readonly storage: StorageEngine,
    private readonly repositories: (scope: Scope) => R,
  ) {
    this.read = repositories({ db: storage.db, traits: storage.traits, at: undefined, fields: storage.fields });
  }

  get engine(): StorageEngine['engine'] {
    return this.storage.engine;
  }

  /**
   * Runs `work` in one transaction at time `at` and commits it (durably: synchronous=FULL on SQLite, the server's
   * synchronous_commit on PostgreSQL) or rolls everything back when it throws. A unique-constraint violation comes out
   * as UniqueViolation with the constraint's portable name.
   */
  async run<T>(at: Date, work: (tx: R) => Promise<T>): Promise<T> {
    const { traits, fields } = this.storage;
    try {
      return await this.storage.db.transaction().execute((trx) => work(this.repositories({ db: trx, traits, at, fields })));
    } catch (error) {
      rethrow(traits, error);
    }
  }
}
