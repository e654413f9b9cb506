// OutboxRepository, the read side of the live event stream, on every engine: ordering, bounds, tenant scoping, and
// no buyer data in what it returns (documents encrypted at rest, as in production).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { KyselyStorage } from '../../src/platform/storage/kysely-storage.ts';
import { storageEngines } from '../helpers/storage-engines.ts';
import { invoiceNumber, makeBatch } from '../helpers/invoice-factory.ts';

const SERIES_A = '26310';
const SERIES_B = '26110';

for (const fixture of await storageEngines()) {
  void describe(`outbox repository: ${fixture.engine}`, { skip: fixture.skip }, () => {
    let s: KyselyStorage;
    before(async () => {
      s = fixture.open({ masterKey: randomBytes(32) });
      await s.migrate();
      await s.tenants.create({ id: 't-a', name: '甲公司', taxId: '91310000MA1FL0000X', regionCode: '31', channel: '0' });
      await s.tenants.create({ id: 't-b', name: '乙公司', taxId: '91110000MA1FL0000Y', regionCode: '11', channel: '0' });
    });
    after(async () => {
      await s?.close();
      await fixture.cleanup();
    });

    void it('is empty at first', async () => {
      assert.equal(await s.outbox.lastId(), 0);
      assert.deepEqual(await s.outbox.listAfter(0, 10), []);
    });

    void it('lists every tenant\'s events in id order with the invoice summary, and no buyer data', async () => {
      const a = makeBatch('t-a', SERIES_A, 1, [{ totalCents: 11300 }, { totalCents: 22600, buyerTaxId: '11010519491231002X' }]);
      a.items[1]!.invoice.buyer = { ...a.items[1]!.invoice.buyer, phone: '13812345678', email: 'wang@example.com', address: '北京市朝阳区' };
      assert.equal((await s.invoices.commitIssueBatch(a)).ok, true);
      assert.equal((await s.invoices.commitIssueBatch(makeBatch('t-b', SERIES_B, 1, [{}]))).ok, true);
      assert.equal((await s.invoices.commitIssueBatch(makeBatch('t-a', SERIES_A, 3, [{}]))).ok, true);

      const all = await s.outbox.listAfter(0, 100);
      assert.deepEqual(all.map((e) => [e.tenantId, e.invoice?.number]), [
        ['t-a', invoiceNumber(SERIES_A, 1)], ['t-a', invoiceNumber(SERIES_A, 2)], ['t-b', invoiceNumber(SERIES_B, 1)], ['t-a', invoiceNumber(SERIES_A, 3)],
      ]);
      assert.ok(all.every((e, i) => i === 0 || e.id > all[i - 1]!.id), 'ids increase');
      assert.equal(await s.outbox.lastId(), all.at(-1)!.id);
      const second = all[1]!;
      assert.equal(second.type, 'invoice.issued');
      assert.deepEqual(second.invoice, {
        number: invoiceNumber(SERIES_A, 2), type: 'normal', kind: 'blue', issuedAt: '2026-11-24T14:03:05.123+08:00', status: 'normal',
        totals: { amount: '200.00', tax: '26.00', total: '226.00' },
      });
      const text = JSON.stringify(all);
      for (const secret of ['13812345678', 'wang@example.com', '11010519491231002X', '朝阳区', '北京买方']) assert.ok(!text.includes(secret), secret);

      assert.deepEqual((await s.outbox.listAfter(all[0]!.id, 2)).map((e) => e.id), [all[1]!.id, all[2]!.id], 'after and limit');
    });

    void it('lists one tenant\'s events in (after, through], never another tenant\'s', async () => {
      const all = await s.outbox.listAfter(0, 100);
      const ids = (t: string) => all.filter((e) => e.tenantId === t).map((e) => e.id);
      const last = all.at(-1)!.id;
      assert.deepEqual((await s.outbox.listForTenant('t-a', 0, last, 100)).map((e) => e.id), ids('t-a'));
      assert.deepEqual((await s.outbox.listForTenant('t-b', 0, last, 100)).map((e) => e.id), ids('t-b'));
      assert.deepEqual((await s.outbox.listForTenant('t-a', all[0]!.id, all[2]!.id, 100)).map((e) => e.id), [all[1]!.id]);
      assert.deepEqual((await s.outbox.listForTenant('t-a', 0, last, 1)).map((e) => e.id), [all[0]!.id]);
      assert.deepEqual(await s.outbox.listForTenant('t-c', 0, last, 100), []);
    });

    void it('shows the invoice\'s current status', async () => {
      const number = invoiceNumber(SERIES_B, 1);
      await s.db.updateTable('invoices').set({ status: 'red-flushed' }).where('number', '=', number).execute();
      const [event] = await s.outbox.listForTenant('t-b', 0, await s.outbox.lastId(), 10);
      assert.equal(event?.invoice?.status, 'red-flushed');
    });
  });
}
