// The engines the storage contract suites loop over: SQLite on a temp file, PostgreSQL on a fresh database (skipped
// with a reason when the server is unreachable outside CI).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStorage, type StorageOptions } from '../../src/platform/storage/create-storage.ts';
import type { Database } from '../../src/platform/storage/database.ts';
import type { KyselyStorage } from '../../src/platform/storage/kysely-storage.ts';
import type { Engine } from '../../src/platform/storage/storage.ts';
import { PG_SKIP_REASON, pgTestUrl } from './pg.ts';

export interface EngineFixture {
  engine: Engine;
  /** false, or why the suite is skipped. */
  skip: string | false;
  /** PostgreSQL: the fresh database's URL. */
  url?: string;
  /** A new Storage on the fixture's database (call again for a second "node"); opts e.g. a master key. */
  open(opts?: Pick<StorageOptions, 'masterKey' | 'protection'>): KyselyStorage;
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

export async function countRows(storage: KyselyStorage, table: keyof Database): Promise<number> {
  const row = await storage.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function ledgerSize(storage: KyselyStorage): Promise<number> {
  const row = await storage.db.selectFrom('ledger_state').select('size').where('id', '=', 1).executeTakeFirstOrThrow();
  return Number(row.size);
}
