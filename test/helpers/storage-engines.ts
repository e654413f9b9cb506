// The engines the storage contract suites loop over: SQLite on a temp file, PostgreSQL on a fresh database (skipped
// with a reason when the server is unreachable outside CI), and what storage tests need around them: a fixed time for
// units of work, a clock that stands still, tenant rows for setup, and units of work with the repositories adapted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStorage, type StorageOptions } from '../../src/platform/storage/create-storage.ts';
import type { Database } from '../../src/platform/storage/database.ts';
import type { Engine, StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import { UnitOfWork, type Scope } from '../../src/platform/storage/unit-of-work.ts';
import { repositories, type Repositories } from '../../src/repositories.ts';
import type { Clock } from '../../src/shared/clock.ts';
import type { NewTenant, Tenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import { TenantService } from '../../src/modules/tenants/app/tenant-service.ts';
import { PG_SKIP_REASON, pgTestUrl } from './pg.ts';

export interface EngineFixture {
  engine: Engine;
  /** false, or why the suite is skipped. */
  skip: string | false;
  /** PostgreSQL: the fresh database's URL. */
  url?: string;
  /** A new StorageEngine on the fixture's database (call again for a second "node"); opts e.g. a master key, a clock. */
  open(opts?: Pick<StorageOptions, 'masterKey' | 'protection' | 'clock'>): StorageEngine;
  cleanup(): Promise<void>;
}

export async function storageEngines(): Promise<EngineFixture[]> {
  let dir: string | undefined;
  const pgDb = await pgTestUrl();
  return [
    {
      engine: 'sqlite',
      skip: false,
      // A nested path: opening creates the parent directory.
      open: (opts = {}) => {
        dir ??= mkdtempSync(join(tmpdir(), 'fapiao-storage-'));
        return createStorage(`sqlite:${join(dir, 'data', 'fapiao.db')}`, opts);
      },
      cleanup: () => {
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    },
    {
      engine: 'postgres',
      skip: pgDb ? false : PG_SKIP_REASON,
      ...(pgDb ? { url: pgDb.url } : {}),
      open: (opts = {}) => {
        if (!pgDb) throw new Error(PG_SKIP_REASON);
        return createStorage(pgDb.url, { poolSize: 4, ...opts });
      },
      cleanup: () => pgDb?.drop() ?? Promise.resolve(),
    },
  ];
}

export async function countRows(storage: StorageEngine, table: keyof Database): Promise<number> {
  const row = await storage.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function ledgerSize(storage: StorageEngine): Promise<number> {
  const row = await storage.db.selectFrom('ledger_state').select('size').where('id', '=', 1).executeTakeFirstOrThrow();
  return Number(row.size);
}

/**
 * The time storage tests run their units of work at unless they say otherwise: 2026-11-24 14:03:05.123 in UTC+8, the
 * issue time of the invoice factory's invoices (period 2026-11).
 */
export const TEST_AT = new Date('2026-11-24T06:03:05.123Z');

/** A clock that stands still (at TEST_AT unless told) until set or advanced: what a use case under test reads as now. */
export class StillClock implements Clock {
  private t: number;

  constructor(start: Date | string = TEST_AT) {
    this.t = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  set(at: Date | string): void {
    this.t = new Date(at).getTime();
  }

  advance(ms: number): void {
    this.t += ms;
  }
}

/**
 * Tenant rows for a test's setup, inserted in one unit of work at `at` (rows only: the audit entries of a tenant's
 * creation are TenantService's, whose ids are random). Answers them as stored.
 */
export function insertTenants(uow: UnitOfWork<Repositories>, tenants: readonly NewTenant[], at: Date = TEST_AT): Promise<Tenant[]> {
  return uow.run(at, async (tx) => {
    const stored: Tenant[] = [];
    for (const tenant of tenants) stored.push(await tx.tenants.insert(tenant));
    return stored;
  });
}

/** TenantService over `uow` as the composition root makes it (src/container.ts: default channel 0, no tax-ID exceptions). */
export function tenantServiceOver(uow: UnitOfWork<Repositories>, clock: Clock): TenantService {
  return new TenantService({ uow, clock, defaultChannel: '0', taxIdExceptions: [] });
}

/**
 * A unit of work over `storage` whose repositories `adapt` may replace or wrap (e.g. fail, or act on the connection,
 * at a chosen step of a use case). `scope` is what they are bound to: `scope.db` is the transaction inside `run`
 * (`scope.at` set) and the pool for `read`.
 */
export function unitOfWorkWith(storage: StorageEngine, adapt: (repos: Repositories, scope: Scope) => Repositories): UnitOfWork<Repositories> {
  return new UnitOfWork(storage, (scope) => adapt(repositories(scope), scope));
}
