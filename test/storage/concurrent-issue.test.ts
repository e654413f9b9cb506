// Several nodes issuing on one PostgreSQL database: the series compare-and-set lets exactly one of two racing
// batches through, the other renumbers; numbers and ledger indices end up gap-free and unique (invariant 2).
// SQLite has one writer process by design (one StorageEngine per file), so this runs on PostgreSQL only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import type { UnitOfWork } from '../../src/platform/storage/unit-of-work.ts';
import { unitOfWork, type Repositories } from '../../src/repositories.ts';
import { commitIssueBatch, type CommitIssueResult } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { TEST_AT, insertTenants, storageEngines } from '../helpers/storage-engines.ts';
import { invoiceNumber, makeBatch } from '../helpers/invoice-factory.ts';

const fixture = (await storageEngines()).find((f) => f.engine === 'postgres')!;

void describe('concurrent issuance on two nodes: postgres', { skip: fixture.skip }, () => {
  let nodeA: StorageEngine;
  let nodeB: StorageEngine;
  let uowA: UnitOfWork<Repositories>;
  let uowB: UnitOfWork<Repositories>;
  before(async () => {
    nodeA = fixture.open();
    nodeB = fixture.open();
    await Promise.all([nodeA.migrate(), nodeB.migrate()]);
    uowA = unitOfWork(nodeA);
    uowB = unitOfWork(nodeB);
    await insertTenants(uowA, [
      { id: 't-a', name: '甲', taxId: '91310000MA1FL0000X', regionCode: '31', channel: '0' },
      { id: 't-b', name: '乙', taxId: '91310000MA1FL0000Y', regionCode: '31', channel: '0' },
    ]);
  });
  after(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await fixture.cleanup();
  });

  /** Both nodes commit a batch numbered from the same sequence; the loser renumbers from nextSeq and commits. */
  async function race(series: string, from: number, sizes: [number, number]): Promise<void> {
    const [ra, rb] = await Promise.all([
      commitIssueBatch(uowA, TEST_AT, makeBatch('t-a', series, from, Array.from({ length: sizes[0] }, () => ({})))),
      commitIssueBatch(uowB, TEST_AT, makeBatch('t-b', series, from, Array.from({ length: sizes[1] }, () => ({})))),
    ]);
    const results: CommitIssueResult[] = [ra, rb];
    assert.equal(results.filter((r) => r.ok).length, 1, 'exactly one batch wins');
    const loserIsB = ra.ok;
    const loser = loserIsB ? rb : ra;
    assert.ok(!loser.ok);
    const winnerSize = loserIsB ? sizes[0] : sizes[1];
    assert.deepEqual(loser, { ok: false, reason: 'series-moved', nextSeq: from + winnerSize });
    const node = loserIsB ? uowB : uowA;
    const retry = await commitIssueBatch(
      node,
      TEST_AT,
      makeBatch(loserIsB ? 't-b' : 't-a', series, loser.nextSeq, Array.from({ length: loserIsB ? sizes[1] : sizes[0] }, () => ({}))),
    );
    assert.ok(retry.ok);
  }

  void it('lets one of two batches create a new series and renumbers the other', async () => {
    await race('26311', 1, [3, 4]);
    assert.equal(await uowB.read.series.nextSeq('26311'), 8);
  });

  void it('lets one of two batches advance an existing series, many times over', async () => {
    for (let round = 0; round < 10; round++) {
      await race('26311', await uowA.read.series.nextSeq('26311'), [1 + (round % 3), 2]);
    }
  });

  void it('leaves no gaps or duplicates in numbers and ledger indices', async () => {
    const rows = await nodeA.db.selectFrom('invoices').select(['number', 'ledger_index']).orderBy('number').execute();
    const next = await uowA.read.series.nextSeq('26311');
    assert.deepEqual(rows.map((r) => r.number), Array.from({ length: next - 1 }, (_, i) => invoiceNumber('26311', i + 1)));
    const indices = rows.map((r) => Number(r.ledger_index)).sort((a, b) => a - b);
    assert.deepEqual(indices, Array.from({ length: rows.length }, (_, i) => i));
    const leaves = await nodeA.db.selectFrom('ledger_leaves').select('idx').orderBy('idx').execute();
    assert.deepEqual(leaves.map((l) => Number(l.idx)), indices);
  });
});
