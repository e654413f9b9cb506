// Test helpers for the unit-of-work layout (src/platform/storage/unit-of-work.ts): a clock that stands still, tenant
// rows with fixed ids for storage suites, and ways to inject a fault into (or spy on) one repository of the
// transactions a use case runs, without touching anything else of it.
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import { UnitOfWork } from '../../src/platform/storage/unit-of-work.ts';
import { repositories, type Repositories } from '../../src/repositories.ts';
import type { NewTenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import type { Clock } from '../../src/shared/clock.ts';

/** A clock that answers `at` until set to another time. */
export function fixedClock(at: string | Date): Clock & { set(at: string | Date): void } {
  let now = new Date(at);
  return {
    now: () => new Date(now),
    set(next) {
      now = new Date(next);
    },
  };
}

/**
 * Tenant rows with the ids a storage suite chooses, in one unit of work at `at` (repository level: no API key, no audit
 * entry; TenantService.create makes those with a random id).
 */
export async function insertTenants(uow: UnitOfWork<Pick<Repositories, 'tenants'>>, at: Date, tenants: readonly NewTenant[]): Promise<void> {
  await uow.run(at, async (tx) => {
    for (const t of tenants) await tx.tenants.insert(t);
  });
}

/** `repo` with some methods replaced; every other method (and the scope they run in) is the original's. */
export function withMethods<T extends object>(repo: T, methods: Partial<T>): T {
  return Object.assign(Object.create(repo) as T, methods);
}

/**
 * A unit of work over `storage` whose transactions see their repositories through `wrap` (e.g. one insert that fails,
 * inside the real transaction, which then rolls back); `read` has the real repositories.
 */
export function wrappedUnitOfWork(storage: StorageEngine, wrap: (tx: Repositories) => Repositories): UnitOfWork<Repositories> {
  return new UnitOfWork(storage, (scope) => (scope.at === undefined ? repositories(scope) : wrap(repositories(scope))));
}

export interface Interception {
  /** Transactions begun (`run` calls) since the interception started. */
  readonly count: number;
  restore(): void;
}

/**
 * Until restore(): every transaction `uow.run` begins sees its repositories through `wrap`, and is counted. For a unit
 * of work made elsewhere and held by services (the container's: its services and issue writer share it).
 */
export function interceptTransactions<R>(uow: UnitOfWork<R>, wrap: (tx: R) => R = (tx) => tx): Interception {
  // An own `run` shadows the prototype's; restore() puts back exactly what was there (an outer interception, or none).
  const own = Object.getOwnPropertyDescriptor(uow, 'run');
  const previous = uow.run.bind(uow);
  let count = 0;
  uow.run = <T>(at: Date, work: (tx: R) => Promise<T>): Promise<T> => {
    count += 1;
    return previous(at, (tx: R) => work(wrap(tx)));
  };
  return {
    get count() {
      return count;
    },
    restore() {
      if (own) Object.defineProperty(uow, 'run', own);
      else delete (uow as { run?: unknown }).run;
    },
  };
}

/** interceptTransactions for the duration of `fn`. */
export async function duringTransactions<R, T>(uow: UnitOfWork<R>, wrap: (tx: R) => R, fn: () => Promise<T>): Promise<T> {
  const interception = interceptTransactions(uow, wrap);
  try {
    return await fn();
  } finally {
    interception.restore();
  }
}
