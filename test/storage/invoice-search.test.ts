// Invoice search and keyset paging, on every engine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidCursor } from '../../src/platform/storage/storage-errors.ts';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import type { UnitOfWork } from '../../src/platform/storage/unit-of-work.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import type { InvoiceQuery } from '../../src/modules/invoicing/storage/invoice-contract.ts';
import { commitIssueBatch, type IssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { unitOfWork, type Repositories } from '../../src/repositories.ts';
import { storageEngines } from '../helpers/storage-engines.ts';
import { makeBatch, type InvoiceSpec } from '../helpers/invoice-factory.ts';
import { insertTenants } from '../helpers/uow-c.ts';

const SERIES = '26440';
/** The time of the issuing units of work: every invoice row is stamped with it (created_at, updated_at). */
const AT = new Date('2026-02-01T02:00:00.000Z');

/** Invoice i (0…24): issued 2026-01-(i+1), total (i+1)×100.00 + 0.05, every fifth buyer has tax id B5. */
function spec(i: number): InvoiceSpec {
  return {
    issueDate: `2026-01-${String(i + 1).padStart(2, '0')}`,
    totalCents: (i + 1) * 10000 + 5,
    buyerTaxId: i % 5 === 0 ? '91440300MA5FB5000B' : '91440300MA5FOTHERX',
  };
}

async function allPages(uow: UnitOfWork<Repositories>, tenantId: string, limit: number): Promise<Invoice[][]> {
  const pages: Invoice[][] = [];
  let cursor: string | undefined;
  do {
    const page = await uow.read.invoices.search(tenantId, { limit, ...(cursor !== undefined ? { cursor } : {}) });
    pages.push(page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

for (const fixture of await storageEngines()) {
  void describe(`invoice search: ${fixture.engine}`, { skip: fixture.skip }, () => {
    let s: StorageEngine;
    let uow: UnitOfWork<Repositories>;
    let numbers: string[];
    /** Commits the batch at AT; the invoices as issued. */
    async function commit(batch: IssueBatch): Promise<Invoice[]> {
      const r = await commitIssueBatch(uow, AT, batch);
      assert.ok(r.ok, r.ok ? '' : r.reason);
      return r.issued.map((i) => i.invoice);
    }
    const search = (tenantId: string, query: InvoiceQuery) => uow.read.invoices.search(tenantId, query);
    before(async () => {
      s = fixture.open();
      await s.migrate();
      uow = unitOfWork(s);
      await insertTenants(uow, AT, [
        { id: 't-s', name: '丙公司', taxId: '91440300MA5F00000A', regionCode: '44', channel: '0' },
        { id: 't-o', name: '丁公司', taxId: '91440300MA5F00000B', regionCode: '44', channel: '0' },
      ]);
      numbers = (await commit(makeBatch('t-s', SERIES, 1, Array.from({ length: 25 }, (_, i) => spec(i))))).map((i) => i.number);
      await commit(makeBatch('t-o', SERIES, 26, [spec(3)]));
    });
    after(async () => {
      await s?.close();
      await fixture.cleanup();
    });

    void it('pages through every invoice newest first without repeats', async () => {
      const pages = await allPages(uow, 't-s', 10);
      assert.deepEqual(pages.map((p) => p.length), [10, 10, 5]);
      assert.deepEqual(pages.flat().map((i) => i.number), [...numbers].reverse());
    });

    void it('keeps paging stable when invoices are inserted between pages', async () => {
      const first = await search('t-s', { limit: 10 });
      const late = await commit(makeBatch('t-s', SERIES, 27, [{ issueDate: '2026-02-01' }, { issueDate: '2026-01-15' }]));
      const rest = await search('t-s', { limit: 100, cursor: first.nextCursor! });
      const seen = [...first.items, ...rest.items].map((i) => i.number);
      assert.equal(new Set(seen).size, seen.length);
      for (const n of numbers) assert.ok(seen.includes(n), `missing ${n}`);
      // The one dated after the cursor position is not revisited; the one sorting below it shows up.
      assert.ok(!seen.includes(late[0]!.number));
      assert.ok(seen.includes(late[1]!.number));
      await s.db.deleteFrom('invoice_lines').where('number', 'in', late.map((i) => i.number)).execute();
      await s.db.deleteFrom('invoices').where('number', 'in', late.map((i) => i.number)).execute();
    });

    void it('filters by issue date, buyer, status and total (inclusive, exact cents)', async () => {
      const q = async (query: Omit<InvoiceQuery, 'limit'>) =>
        (await search('t-s', { limit: 100, ...query })).items.map((i) => i.issueDate.slice(8));
      assert.deepEqual(await q({ issuedFrom: '2026-01-03', issuedTo: '2026-01-05' }), ['05', '04', '03']);
      assert.deepEqual(await q({ buyerTaxId: '91440300MA5FB5000B' }), ['21', '16', '11', '06', '01']);
      assert.deepEqual(await q({ minTotal: '300.05', maxTotal: '500.05' }), ['05', '04', '03']);
      assert.deepEqual(await q({ minTotal: '300.06', maxTotal: '500.04' }), ['04']);
      assert.deepEqual(await q({ minTotal: '2500.05' }), ['25']);
      assert.deepEqual(await q({ status: 'red-flushed' }), []);
      // Rows are stamped with the unit of work's time, not the wall clock's.
      assert.equal((await q({ updatedSince: AT.toISOString() })).length, 25);
      assert.deepEqual(await q({ updatedSince: new Date(AT.getTime() + 1).toISOString() }), []);
      await s.db.updateTable('invoices').set({ status: 'red-flushed', updated_at: '2099-01-01T00:00:00.000Z' }).where('number', '=', numbers[6]!).execute();
      assert.deepEqual(await q({ status: 'red-flushed' }), ['07']);
      assert.deepEqual(await q({ updatedSince: '2099-01-01T08:00:00+08:00' }), ['07']);
      assert.deepEqual(await q({ updatedSince: '2099-01-01T00:00:00.001Z' }), []);
      assert.deepEqual(await q({ status: 'normal', issuedFrom: '2026-01-06', issuedTo: '2026-01-08' }), ['08', '06']);
    });

    void it('pages a filtered search with the same cursor semantics', async () => {
      const p1 = await search('t-s', { limit: 2, buyerTaxId: '91440300MA5FB5000B' });
      const p2 = await search('t-s', { limit: 2, buyerTaxId: '91440300MA5FB5000B', cursor: p1.nextCursor! });
      const p3 = await search('t-s', { limit: 2, buyerTaxId: '91440300MA5FB5000B', cursor: p2.nextCursor! });
      assert.deepEqual([p1, p2, p3].map((p) => p.items.map((i) => i.issueDate.slice(8))), [['21', '16'], ['11', '06'], ['01']]);
      assert.equal(p3.nextCursor, undefined);
    });

    void it('does not return invoices of another tenant', async () => {
      const items = (await search('t-o', { limit: 100 })).items;
      assert.deepEqual(items.map((i) => i.number), [makeBatch('t-o', SERIES, 26, [{}]).items[0]!.invoice.number]);
    });

    void it('refuses a cursor it did not issue', async () => {
      for (const cursor of ['not-a-cursor', Buffer.from('{"d":1}').toString('base64url'), '']) {
        await assert.rejects(search('t-s', { limit: 10, cursor }), InvalidCursor);
      }
    });
  });
}
