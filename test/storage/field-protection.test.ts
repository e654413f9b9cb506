// Storage with a master key (field-protector.ts) on both engines: the buyer's personal data is encrypted in the
// document and the idempotency body, readers get plaintext, blind indexes find it, and two nodes share one data key.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { KyselyStorage } from '../../src/platform/storage/kysely-storage.ts';
import { countRows, storageEngines } from '../helpers/storage-engines.ts';
import { invoiceNumber, makeBatch } from '../helpers/invoice-factory.ts';

const SERIES = '26310';
const PHONE = '13912345678';
const ID_NUMBER = '11010519491231002X';
const USCC = '91440300708461136T';

for (const fixture of await storageEngines()) {
  void describe(`field protection: ${fixture.engine}`, { skip: fixture.skip }, () => {
    const masterKey = new Uint8Array(randomBytes(32));
    let s: KyselyStorage;
    let node2: KyselyStorage;
    before(async () => {
      s = fixture.open({ masterKey });
      await s.migrate();
      for (const id of ['t-p', 't-other']) await s.tenants.create({ id, name: id, taxId: USCC, regionCode: '31', channel: '0' });
      node2 = fixture.open({ masterKey });
    });
    after(async () => {
      await node2?.close();
      await s?.close();
      await fixture.cleanup();
    });

    void it('encrypts personal fields, reads them back in plaintext and finds them by blind index', async () => {
      const batch = makeBatch('t-p', SERIES, 1, [{ buyerTaxId: ID_NUMBER, idempotencyKey: 'k-1' }, { buyerTaxId: USCC }]);
      for (const item of batch.items) Object.assign(item.invoice.buyer, { phone: PHONE, email: 'A@Example.com' });
      const r = await s.invoices.commitIssueBatch(batch);
      assert.ok(r.ok);
      const [n1, n2] = [invoiceNumber(SERIES, 1), invoiceNumber(SERIES, 2)];

      const rows = await s.db.selectFrom('invoices').select(['number', 'document', 'buyer_tax_id', 'buyer_email_bidx']).orderBy('number').execute();
      assert.equal(rows[0]!.buyer_tax_id, null);
      assert.equal(rows[1]!.buyer_tax_id, USCC);
      for (const row of rows) {
        assert.ok(!row.document.includes(PHONE) && !row.document.includes(ID_NUMBER));
        assert.match(row.buyer_email_bidx ?? '', /^[0-9a-f]{32}$/);
      }
      const idem = await s.db.selectFrom('idempotency_keys').select('body').executeTakeFirstOrThrow();
      assert.ok(!idem.body.includes(PHONE));

      // Another node (cold cache) reads plaintext, exactly as issued.
      assert.equal(JSON.stringify(await node2.invoices.get('t-p', n1)), JSON.stringify(r.invoices[0]));
      assert.equal((await node2.invoices.findForVerification(n2))?.buyer.phone, PHONE);
      assert.equal((await node2.idempotency.get('t-p', 'k-1'))?.body, JSON.stringify(r.invoices[0]));

      const q = async (query: object, tenant = 't-p') => (await node2.invoices.search(tenant, { limit: 10, ...query })).items.map((i) => i.number);
      assert.deepEqual(await q({ buyerPhone: '+86 139 1234 5678' }), [n2, n1]);
      assert.deepEqual(await q({ buyerEmail: 'a@example.COM' }), [n2, n1]);
      assert.deepEqual(await q({ buyerTaxId: ID_NUMBER }), [n1]);
      assert.deepEqual(await q({ buyerTaxId: USCC }), [n2]);
      assert.deepEqual(await q({ buyerPhone: PHONE }, 't-other'), []);
    });

    void it('keeps one data key per tenant across nodes', async () => {
      const r = await node2.invoices.commitIssueBatch(makeBatch('t-p', SERIES, 3, [{}]));
      assert.ok(r.ok);
      assert.equal(await countRows(s, 'tenant_data_keys'), 1);
      assert.equal((await s.invoices.get('t-p', invoiceNumber(SERIES, 3)))?.number, invoiceNumber(SERIES, 3));
    });
  });
}
