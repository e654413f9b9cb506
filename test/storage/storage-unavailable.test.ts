// The storage layer's side of "the database cannot write now" (src/platform/storage/storage-health.ts): which engine errors
// count, that a refused issuing transaction (commitIssueBatch in its unit of work) surfaces as STORAGE_UNAVAILABLE
// with nothing of it kept (not as the error of the ROLLBACK after it), and that the storage recovers by itself. test/http/storage-outage.test.ts covers
// the HTTP answers, readiness and logs.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { AppError } from '../../src/shared/errors.ts';
import { createStorage } from '../../src/platform/storage/create-storage.ts';
import { isPostgresUnavailable } from '../../src/platform/storage/postgres/postgres-errors.ts';
import { isSqliteUnavailable } from '../../src/platform/storage/sqlite/sqlite-errors.ts';
import { unitOfWork } from '../../src/repositories.ts';
import { commitIssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { TEST_AT, countRows, insertTenants, ledgerSize, storageEngines, unitOfWorkWith } from '../helpers/storage-engines.ts';
import { makeBatch } from '../helpers/invoice-factory.ts';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });
const isUnavailable = (e: unknown) => e instanceof AppError && e.code === 'STORAGE_UNAVAILABLE';

describe('which engine errors mean "cannot write now"', () => {
  it('PostgreSQL: disk full, connection failures, shutdowns, read-only, I/O — not statement errors', () => {
    for (const code of ['53100', '53200', '53300', '08000', '08001', '08003', '08006', '57P01', '57P02', '57P03', '57P05', '58030', '25006']) {
      assert.equal(isPostgresUnavailable(withCode(code)), true, code);
    }
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']) assert.equal(isPostgresUnavailable(withCode(code)), true, code);
    assert.equal(isPostgresUnavailable(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isPostgresUnavailable(new Error('timeout exceeded when trying to connect')), true);
    for (const code of ['23505', '23503', '40001', '40P01', '42P01', '22P02', '57014']) assert.equal(isPostgresUnavailable(withCode(code)), false, code);
    assert.equal(isPostgresUnavailable(new Error('something else')), false);
    assert.equal(isPostgresUnavailable('53100'), false);
  });

  it('SQLite: full, I/O errors, read-only, cannot open, busy — not constraint or corruption errors', () => {
    for (const code of ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_READONLY', 'SQLITE_READONLY_DBMOVED', 'SQLITE_CANTOPEN', 'SQLITE_BUSY']) {
      assert.equal(isSqliteUnavailable(withCode(code)), true, code);
    }
    for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_ERROR', 'SQLITE_CORRUPT', 'SQLITE_MISMATCH', 'SQLITE_FULLX']) {
      assert.equal(isSqliteUnavailable(withCode(code)), false, code);
    }
  });
});

describe('SQLite: a write lock held by another process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-busy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is answered STORAGE_UNAVAILABLE without marking the storage unwritable', async () => {
    const path = join(dir, 'fapiao.db');
    const storage = createStorage(`sqlite:${path}`, { busyTimeoutMs: 50 });
    const other = new Database(path);
    try {
      await storage.migrate();
      const uow = unitOfWork(storage);
      const tenant = { id: 't1', name: '甲', taxId: '91310000775785552L', regionCode: '31', channel: '0' };
      other.exec('begin immediate');
      const refused = await insertTenants(uow, [tenant]).catch((e: unknown) => e);
      assert.ok(isUnavailable(refused), `refused with ${String(refused)}`);
      assert.equal(storage.health.writable, true, 'the database is fine, only locked');
      other.exec('rollback');
      await insertTenants(uow, [tenant]);
      assert.equal((await uow.read.tenants.list()).length, 1);
    } finally {
      other.close();
      await storage.close();
    }
  });
});

for (const f of await storageEngines()) {
  describe(`a refused issuing transaction: ${f.engine}`, { skip: f.skip }, () => {
    after(() => f.cleanup());

    it('is STORAGE_UNAVAILABLE, keeps nothing, and the storage recovers', async () => {
      const storage = f.open();
      try {
        await storage.migrate();
        const uow = unitOfWork(storage);
        await insertTenants(uow, [{ id: 't1', name: '甲', taxId: '91310000775785552L', regionCode: '31', channel: '0' }]);
        assert.ok((await commitIssueBatch(uow, TEST_AT, makeBatch('t1', '26310', 1, [{}, {}]))).ok);
        assert.equal(storage.health.writable, true);

        let refused: unknown;
        if (f.engine === 'sqlite') {
          const pages = await sql<{ page_count: number }>`pragma page_count`.execute(storage.db);
          await sql.raw(`pragma max_page_count = ${pages.rows[0]!.page_count}`).execute(storage.db);
          refused = await commitIssueBatch(uow, TEST_AT, makeBatch('t1', '26310', 3, Array.from({ length: 40 }, () => ({})))).catch((e: unknown) => e);
        } else {
          // The server ends the session in the middle of the issuing transaction (57P01, as on `pg_ctl stop -m fast`):
          // after the series moved and the quota was charged, just before the ledger leaves are appended.
          const admin = new pg.Client({ connectionString: f.url });
          await admin.connect();
          let terminated = false;
          const dying = unitOfWorkWith(storage, (repos, scope) => {
            if (scope.at === undefined) return repos;
            const append = repos.ledger.append.bind(repos.ledger);
            repos.ledger.append = async (leaves) => {
              const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(scope.db);
              await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
              terminated = true;
              return append(leaves);
            };
            return repos;
          });
          try {
            refused = await commitIssueBatch(dying, TEST_AT, makeBatch('t1', '26310', 3, [{}, {}])).then(() => 'committed', (e: unknown) => e);
          } finally {
            await admin.end();
          }
          assert.ok(terminated, 'the session was ended inside the transaction');
        }
        assert.ok(isUnavailable(refused), `refused with ${String(refused)}`);
        assert.equal((refused as AppError).headers?.['retry-after'], '5');
        assert.equal(storage.health.writable, false);
        assert.equal(await uow.read.series.nextSeq('26310'), 3, 'nothing of the refused transaction is kept');
        assert.equal(await ledgerSize(storage), 2);
        assert.equal(await countRows(storage, 'invoices'), 2);
        assert.deepEqual(await uow.read.quotaUsage.quotaUsage('t1', '2026-11'), { quotaCents: null, usedCents: 20000n }, 'nor its quota charge');
        // SQLite is still at its limit: reads work, the probe write does not. (PostgreSQL's pool has reconnected.)
        if (f.engine === 'sqlite') await assert.rejects(storage.ready(), isUnavailable, 'not ready while writes fail');

        if (f.engine === 'sqlite') await sql.raw('pragma max_page_count = 1000000').execute(storage.db);
        // The probe runs at most once a second.
        const deadline = Date.now() + 10_000;
        while (!(await storage.ready().then(() => true, () => false)) && Date.now() < deadline) await sleep(100);
        assert.equal(storage.health.writable, true);
        assert.equal(await countRows(storage, 'storage_probe'), 0, 'the probe leaves nothing behind');
        assert.ok((await commitIssueBatch(uow, TEST_AT, makeBatch('t1', '26310', 3, [{}]))).ok);
        assert.equal(await countRows(storage, 'invoices'), 3);
      } finally {
        await storage.close();
      }
    });
  });
}
