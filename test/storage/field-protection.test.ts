// Storage with a master key (field-keys.ts, invoice-protection.ts) on both engines: the buyer's personal data is
// encrypted in the document and the idempotency body, readers get plaintext, blind indexes find it, and two nodes share
// one data key. Invoices are written by the issuing use case (commitIssueBatch) in its unit of work.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import { commitIssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { countRows, storageEngines } from '../helpers/storage-engines.ts';
import { invoiceNumber, makeBatch } from '../helpers/invoice-factory.ts';
import { insertTenant, setBuyer, TestClock, uowNode, type UowNode } from '../helpers/uow-b.ts';

const SERIES = '26310';
const PHONE = '13912345678';
const ID_NUMBER = '11010519491231002X';
const USCC = '91440300708461136T';
const T0 = '2026-11-24T06:03:05.123Z';

for (const fixture of await storageEngines()) {
  void describe(`field protection: ${fixture.engine}`, { skip: fixture.skip }, () => {
    const masterKey = new Uint8Array(randomBytes(32));
    const clock = new TestClock(T0);
    let s: StorageEngine;
    let node1: UowNode;
    let node2: UowNode;
    before(async () => {
      s = fixture.open({ masterKey, protection: { clock } });
      await s.migrate();
      node1 = uowNode(s);
      for (const id of ['t-p', 't-other']) await insertTenant(node1.uow, clock.now(), { id, name: id, taxId: USCC, regionCode: '31', channel: '0' });
      node2 = uowNode(fixture.open({ masterKey, protection: { clock } }));
    });
    after(async () => {
      await node2?.storage.close();
      await s?.close();
      await fixture.cleanup();
    });

    void it('encrypts personal fields, reads them back in plaintext and finds them by blind index', async () => {
      const batch = makeBatch('t-p', SERIES, 1, [{ buyerTaxId: ID_NUMBER, idempotencyKey: 'k-1' }, { buyerTaxId: USCC }]);
      for (const item of batch.items) setBuyer(item, { phone: PHONE, email: 'A@Example.com' });
      const r = await commitIssueBatch(node1.uow, clock.now(), batch);
      assert.ok(r.ok);
      const [first] = r.issued;
      assert.ok(first);
      const [n1, n2] = [invoiceNumber(SERIES, 1), invoiceNumber(SERIES, 2)];

      const rows = await s.db.selectFrom('invoices').select(['number', 'document', 'buyer_tax_id', 'buyer_email_bidx']).orderBy('number').execute();
      assert.equal(rows[0]!.buyer_tax_id, null);
      assert.equal(rows[1]!.buyer_tax_id, USCC);
      for (const row of rows) {
        assert.ok(!row.document.includes(PHONE) && !row.document.includes(ID_NUMBER));
        assert.match(row.buyer_email_bidx ?? '', /^[0-9a-f]{32}$/);
      }
      const idem = await s.db.selectFrom('idempotency_keys').select('body').executeTakeFirstOrThrow();
      // The response stored for replay carries the phone (so its absence from the row means it is encrypted).
      assert.equal((JSON.parse(first.json) as { buyer: { phone?: string } }).buyer.phone, PHONE);
      assert.ok(!idem.body.includes(PHONE));

      // Another node (cold cache) reads plaintext, exactly as issued.
      const read = node2.uow.read;
      assert.equal(JSON.stringify(await read.invoices.get('t-p', n1)), JSON.stringify(first.invoice));
      assert.equal((await read.invoices.findForVerification(n2))?.buyer.phone, PHONE);
      // The stored response is the answer as issued, byte for byte: the JSON of the invoice with its ledger index.
      assert.equal(first.json, JSON.stringify(first.invoice));
      assert.equal((await read.idempotency.get('t-p', 'k-1'))?.body, first.json);

      const q = async (query: object, tenant = 't-p') => (await read.invoices.search(tenant, { limit: 10, ...query })).items.map((i) => i.number);
      assert.deepEqual(await q({ buyerPhone: '+86 139 1234 5678' }), [n2, n1]);
      assert.deepEqual(await q({ buyerEmail: 'a@example.COM' }), [n2, n1]);
      assert.deepEqual(await q({ buyerTaxId: ID_NUMBER }), [n1]);
      assert.deepEqual(await q({ buyerTaxId: USCC }), [n2]);
      assert.deepEqual(await q({ buyerPhone: PHONE }, 't-other'), []);
    });

    void it('an envelope opened once is still refused in another row: the memo of opened envelopes is per AAD context', async () => {
      const batch = makeBatch('t-p', '26311', 1, [{ buyerTaxId: USCC }, { buyerTaxId: USCC }]);
      for (const item of batch.items) setBuyer(item, { phone: PHONE });
      assert.ok((await commitIssueBatch(node1.uow, clock.now(), batch)).ok);
      const [a, b] = [invoiceNumber('26311', 1), invoiceNumber('26311', 2)];
      const read = node1.uow.read;
      // Both opened (and remembered) by this node.
      assert.equal((await read.invoices.get('t-p', a))?.buyer.phone, PHONE);
      assert.equal((await read.invoices.get('t-p', b))?.buyer.phone, PHONE);
      const docA = (await s.db.selectFrom('invoices').select('document').where('number', '=', a).executeTakeFirstOrThrow()).document;
      const docB = (await s.db.selectFrom('invoices').select('document').where('number', '=', b).executeTakeFirstOrThrow()).document;
      const sealedOf = (doc: string) => (JSON.parse(doc) as { buyerSealed: string }).buyerSealed;
      // b's row now carries a's buyer envelope: opened before under a's context, it does not open under b's.
      assert.notEqual(sealedOf(docA), sealedOf(docB));
      const moved = JSON.stringify({ ...JSON.parse(docB), buyerSealed: sealedOf(docA) });
      await s.db.updateTable('invoices').set({ document: moved }).where('number', '=', b).execute();
      await assert.rejects(() => read.invoices.get('t-p', b), (e: Error) => e.name === 'FieldCipherError');
      await s.db.updateTable('invoices').set({ document: docB }).where('number', '=', b).execute();
      assert.equal((await read.invoices.get('t-p', b))?.buyer.phone, PHONE);
    });

    void it('keeps one data key per tenant across nodes', async () => {
      const r = await commitIssueBatch(node2.uow, clock.now(), makeBatch('t-p', SERIES, 3, [{}]));
      assert.ok(r.ok);
      assert.equal(await countRows(s, 'tenant_data_keys'), 1);
      assert.equal((await node1.uow.read.invoices.get('t-p', invoiceNumber(SERIES, 3)))?.number, invoiceNumber(SERIES, 3));
    });
  });
}
