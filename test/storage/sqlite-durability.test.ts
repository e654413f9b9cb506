// SQLite opened for durability (invariant 1) and with write transactions that take the lock up front.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { createStorage } from '../../src/platform/storage/create-storage.ts';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import { unitOfWork } from '../../src/repositories.ts';
import { TEST_AT } from '../helpers/storage-engines.ts';

void describe('sqlite storage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-sqlite-'));
  const path = join(dir, 'a', 'b', 'fapiao.db');
  let s: StorageEngine;
  before(async () => {
    s = createStorage(`sqlite:${path}`);
    await s.migrate();
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('creates the parent directory of the database file', () => {
    assert.ok(existsSync(path));
  });

  void it('runs in WAL mode with synchronous=FULL, foreign keys and a busy timeout', async () => {
    const pragma = async (name: string) => (await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(s.db)).rows[0];
    assert.deepEqual(await pragma('journal_mode'), { journal_mode: 'wal' });
    assert.deepEqual(await pragma('synchronous'), { synchronous: 2 });
    assert.deepEqual(await pragma('foreign_keys'), { foreign_keys: 1 });
    assert.deepEqual(await pragma('busy_timeout'), { timeout: 5000 });
  });

  void it('begins transactions IMMEDIATE: another connection cannot write even before our first write', async () => {
    // A unit of work is one such transaction (UnitOfWork.run); its first statement here only reads.
    await unitOfWork(s).run(TEST_AT, async (tx) => {
      await tx.tenants.list();
      const other = new Database(path);
      try {
        other.pragma('busy_timeout = 0');
        assert.throws(() => other.exec('begin immediate'), { code: 'SQLITE_BUSY' });
      } finally {
        other.close();
      }
    });
  });

  void it('refuses an invoice line whose invoice does not exist (foreign keys on)', async () => {
    await assert.rejects(
      s.db
        .insertInto('invoice_lines')
        .values({ tenant_id: 't', number: 'n', line_no: 1, kind: 'item', name: 'x', tax_code: '1', amount: '1.00', amount_cents: 100, tax_rate: '0', tax_exemption: null, tax: '0.00', tax_cents: 0 })
        .execute(),
      { code: 'SQLITE_CONSTRAINT_FOREIGNKEY' },
    );
  });

  void it('opens an in-memory database for sqlite::memory:', async () => {
    const mem = createStorage('sqlite::memory:');
    try {
      const applied = await mem.migrate();
      assert.ok(applied.length > 0 && applied.every((m) => m.status === 'applied'));
      assert.equal(await unitOfWork(mem).read.series.nextSeq('26310'), 1);
    } finally {
      await mem.close();
    }
  });
});

void describe('createStorage', () => {
  void it('picks the engine from the URL scheme', async () => {
    const pg = createStorage('postgresql://user:secret@127.0.0.1:1/none');
    assert.equal(pg.engine, 'postgres');
    await pg.close();
  });

  void it('refuses an unknown scheme without echoing the URL', () => {
    assert.throws(() => createStorage('mysql://user:secret@host/db'), (e: unknown) => e instanceof RangeError && !e.message.includes('secret'));
    assert.throws(() => createStorage('sqlite:'), RangeError);
  });

  void it('refuses a PostgreSQL schema name that is not a plain identifier', () => {
    assert.throws(() => createStorage('postgres://127.0.0.1/db', { schema: 'x; drop table y' }), RangeError);
  });
});
