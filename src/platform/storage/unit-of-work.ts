// The unit of work: a use case runs its changes in one transaction on either engine, through small table-level
// repositories bound to that transaction (Kysely's own idiom, `db.transaction().execute(trx => …)`, with the
// repositories made for `trx`). The caller owns the transaction and its policy: which rows, which audit entry, which
// outbox event, in which order (docs/architecture.md, "Lock order"). Storage never reads the clock: the use case's
// clock gives the time of the unit of work, and every row it stamps carries that time.
//
// Outside `run`, `read` offers the same repositories over the pool for queries; a write through them throws, so a
// change can never escape the transaction of the use case that makes it.
//
// A repository that writes rows some job waits for (the outbox's events, e-mail deliveries) signals its table in the
// scope; after the commit, and only then, the unit of work calls whoever listens for that table (`afterCommit`), once
// per unit of work. So every use case that writes an event wakes the dispatchers on this node, without knowing them.
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
  /**
   * Records that this unit of work wrote rows of `table` that a job waits for; its `afterCommit` listeners are called
   * once the transaction has committed (never on rollback). Absent for `read`, which cannot write.
   */
  readonly signal?: (table: string) => void;
}

/** The unit of work's time as stored (ISO 8601 UTC); throws for a write attempted outside `run`. */
export function stampOf(scope: Scope): string {
  if (scope.at === undefined) throw new Error('a write outside a unit of work (use UnitOfWork.run)');
  return scope.at.toISOString();
}

export class UnitOfWork<R> {
  /** The repositories over the pool, for reads. */
  readonly read: R;
  private readonly listeners = new Map<string, Array<() => void>>();

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
    const signalled = new Set<string>();
    const signal = (table: string) => {
      signalled.add(table);
    };
    let result: T;
    try {
      result = await this.storage.db.transaction().execute((trx) => work(this.repositories({ db: trx, traits, at, fields, signal })));
    } catch (error) {
      rethrow(traits, error);
    }
    for (const table of signalled) {
      for (const listener of this.listeners.get(table) ?? []) {
        try {
          listener();
        } catch {
          // A listener only wakes a job, which polls anyway: its failure must not fail a committed use case.
        }
      }
    }
    return result;
  }

  /**
   * Calls `listener` after every committed unit of work that wrote rows of `table` (repositories call
   * `scope.signal(table)`), e.g. to wake the dispatcher of the outbox at once rather than at its next poll.
   * Returns a function that removes the listener.
   */
  afterCommit(table: string, listener: () => void): () => void {
    const list = this.listeners.get(table) ?? [];
    list.push(listener);
    this.listeners.set(table, list);
    return () => {
      const now = this.listeners.get(table) ?? [];
      this.listeners.set(table, now.filter((l) => l !== listener));
    };
  }
}
