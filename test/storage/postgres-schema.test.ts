// createStorage(url, { schema }): every table, the migration bookkeeping included, lives in that schema, so test runs
// can share one database in isolation.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createStorage } from '../../src/platform/storage/create-storage.ts';
import { unitOfWork } from '../../src/repositories.ts';
import { commitIssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { TEST_AT, insertTenants, storageEngines } from '../helpers/storage-engines.ts';
import { makeBatch } from '../helpers/invoice-factory.ts';

const fixture = (await storageEngines()).find((f) => f.engine === 'postgres')!;

void describe('postgres schema isolation', { skip: fixture.skip }, () => {
  after(() => fixture.cleanup());

  void it('keeps two schemas of one database apart', async () => {
    const one = createStorage(fixture.url!, { schema: 'run_one' });
    const two = createStorage(fixture.url!, { schema: 'run_two' });
    try {
      assert.ok((await one.migrate()).every((m) => m.status === 'applied'));
      assert.ok((await two.migrate()).every((m) => m.status === 'applied'));
      const uowOne = unitOfWork(one);
      const uowTwo = unitOfWork(two);
      await insertTenants(uowOne, [{ id: 't', name: '甲', taxId: 'x', regionCode: '31', channel: '0' }]);
      assert.ok((await commitIssueBatch(uowOne, TEST_AT, makeBatch('t', '26310', 1, [{}, {}]))).ok);
      assert.deepEqual(await uowTwo.read.tenants.list(), []);
      assert.equal(await uowTwo.read.series.nextSeq('26310'), 1);
      assert.equal(await uowOne.read.series.nextSeq('26310'), 3);
      const tables = await sql<{ table_schema: string }>`
        select table_schema from information_schema.tables where table_name = 'invoices' order by table_schema`.execute(one.db);
      assert.deepEqual(tables.rows.map((t) => t.table_schema), ['run_one', 'run_two']);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
