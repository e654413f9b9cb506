// Invoice search and keyset paging, on every engine.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidCursor } from '../../src/platform/storage/storage.ts';
import type { KyselyStorage } from '../../src/platform/storage/kysely-storage.ts';
import type { Invoice } from '../../src/modules/invoicing/domain/invoice.ts';
import { storageEngines } from '../helpers/storage-engines.ts';
import { makeBatch, type InvoiceSpec } from '../helpers/invoice-factory.ts';

const SERIES = '26440';

/** Invoice i (0…24): issued 2026-01-(i+1), total (i+1)×100.00 + 0.05, every fifth buyer has tax id B5. */
function spec(i: number): InvoiceSpec {
  return {
    issueDate: `2026-01-${String(i + 1).padStart(2, '0')}`,
    totalCents: (i + 1) * 10000 + 5,
    buyerTaxId: i % 5 === 0 ? '91440300MA5FB5000B' : '91440300MA5FOTHERX',
  };
}

async function allPages(s: KyselyStorage, tenantId: string, limit: number): Promise<Invoice[][]> {
  const pages: Invoice[][] = [];
  let cursor: string | undefined;
  do {
    const page = await s.invoices.search(tenantId, { limit, ...(cursor !== undefined ? { cursor } : {}) });
    pages.push(page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

for (const fixture of await storageEngines()) {
  void describe(`invoice search: ${fixture.engine}`, { skip: fixture.skip }, () => {
    let s: KyselyStorage;
    let numbers: string[];
    before(async () => {
      s = fixture.open();
      await s.migrate();
      await s.tenants.create({ id: 't-s', name: '丙公司', taxId: '91440300MA5F00000A', regionCode: '44', channel: '0' });
      await s.tenants.create({ id: 't-o', name: '丁公司', taxId: '91440300MA5F00000B', regionCode: '44', channel: '0' });
      const r = await s.invoices.commitIssueBatch(makeBatch('t-s', SERIES, 1, Array.from({ length: 25 }, (_, i) => spec(i))));
      assert.ok(r.ok);
      numbers = r.invoices.map((i) => i.number);
      const other = await s.invoices.commitIssueBatch(makeBatch('t-o', SERIES, 26, [spec(3)]));
      assert.ok(other.ok);
    });
    after(async () => {
      await s?.close();
      await fixture.cleanup();
    });

    void it('pages through every invoice newest first without repeats', async () => {
      const pages = await allPages(s, 't-s', 10);
      assert.deepEqual(pages.map((p) => p.length), [10, 10, 5]);
      assert.deepEqual(pages.flat().map((i) => i.number), [...numbers].reverse());
    });

    void it('keeps paging stable when invoices are inserted between pages', async () => {
      const first = await s.invoices.search('t-s', { limit: 10 });
      const late = await s.invoices.commitIssueBatch(makeBatch('t-s', SERIES, 27, [{ issueDate: '2026-02-01' }, { issueDate: '2026-01-15' }]));
      assert.ok(late.ok);
      const rest = await s.invoices.search('t-s', { limit: 100, cursor: first.nextCursor! });
      const seen = [...first.items, ...rest.items].map((i) => i.number);
      assert.equal(new Set(seen).size, seen.length);
      for (const n of numbers) assert.ok(seen.includes(n), `missing ${n}`);
      // The one dated after the cursor position is not revisited; the one sorting below it shows up.
      assert.ok(!seen.includes(late.invoices[0]!.number));
      assert.ok(seen.includes(late.invoices[1]!.number));
      await s.db.deleteFrom('invoice_lines').where('number', 'in', late.invoices.map((i) => i.number)).execute();
      await s.db.deleteFrom('invoices').where('number', 'in', late.invoices.map((i) => i.number)).execute();
    });

    void it('filters by issue date, buyer, status and total (inclusive, exact cents)', async () => {
      const q = async (query: Omit<Parameters<typeof s.invoices.search>[1], 'limit'>) =>
        (await s.invoices.search('t-s', { limit: 100, ...query })).items.map((i) => i.issueDate.slice(8));
      assert.deepEqual(await q({ issuedFrom: '2026-01-03', issuedTo: '2026-01-05' }), ['05', '04', '03']);
      assert.deepEqual(await q({ buyerTaxId: '91440300MA5FB5000B' }), ['21', '16', '11', '06', '01']);
      assert.deepEqual(await q({ minTotal: '300.05', maxTotal: '500.05' }), ['05', '04', '03']);
      assert.deepEqual(await q({ minTotal: '300.06', maxTotal: '500.04' }), ['04']);
      assert.deepEqual(await q({ minTotal: '2500.05' }), ['25']);
      assert.deepEqual(await q({ status: 'red-flushed' }), []);
      await s.db.updateTable('invoices').set({ status: 'red-flushed', updated_at: '2099-01-01T00:00:00.000Z' }).where('number', '=', numbers[6]!).execute();
      assert.deepEqual(await q({ status: 'red-flushed' }), ['07']);
      assert.deepEqual(await q({ updatedSince: '2099-01-01T08:00:00+08:00' }), ['07']);
      assert.deepEqual(await q({ updatedSince: '2099-01-01T00:00:00.001Z' }), []);
      assert.deepEqual(await q({ status: 'normal', issuedFrom: '2026-01-06', issuedTo: '2026-01-08' }), ['08', '06']);
    });

    void it('pages a filtered search with the same cursor semantics', async () => {
      const p1 = await s.invoices.search('t-s', { limit: 2, buyerTaxId: '91440300MA5FB5000B' });
      const p2 = await s.invoices.search('t-s', { limit: 2, buyerTaxId: '91440300MA5FB5000B', cursor: p1.nextCursor! });
      const p3 = await s.invoices.search('t-s', { limit: 2, buyerTaxId: '91440300MA5FB5000B', cursor: p2.nextCursor! });
      assert.deepEqual([p1, p2, p3].map((p) => p.items.map((i) => i.issueDate.slice(8))), [['21', '16'], ['11', '06'], ['01']]);
      assert.equal(p3.nextCursor, undefined);
    });

    void it('does not return invoices of another tenant', async () => {
      const items = (await s.invoices.search('t-o', { limit: 100 })).items;
      assert.deepEqual(items.map((i) => i.number), [makeBatch('t-o', SERIES, 26, [{}]).items[0]!.invoice.number]);
    });

    void it('refuses a cursor it did not issue', async () => {
      for (const cursor of ['not-a-cursor', Buffer.from('{"d":1}').toString('base64url'), '']) {
        await assert.rejects(s.invoices.search('t-s', { limit: 10, cursor }), InvalidCursor);
      }
    });
  });
}
