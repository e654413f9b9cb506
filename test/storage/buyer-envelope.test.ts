// One envelope per invoice for the buyer's personal data (modules/invoicing/storage/invoice-protection.ts, migration
// 0020) on both engines: what is stored, how many decryptions a full and a masked read cost (counted by the field keys,
// where envelopes are opened), that an envelope opens only in its own row and tenant, under its own label and beside its
// own masked buyer, and that the re-encryption job rewrites rows of the layout before 0020 (one envelope per field)
// and plaintext rows until no per-field envelope is left.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { commitIssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { InvoiceProtection } from '../../src/modules/invoicing/storage/invoice-protection.ts';
import { toInvoiceRow } from '../../src/modules/invoicing/storage/invoice-rows.ts';
import { isPersonalTaxId, maskInvoice, maskParty } from '../../src/modules/invoicing/domain/masking.ts';
import { ReencryptJob } from '../../src/modules/keys/app/reencrypt-job.ts';
import { encryptField, FieldCipherError, isEncryptedField, type DataKey } from '../../src/platform/crypto/field-cipher.ts';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import type { EnvelopeCounts, FieldKeys } from '../../src/platform/storage/field-keys.ts';
import type { Invoice, Party } from '../../src/shared/invoice.ts';
import { storageEngines } from '../helpers/storage-engines.ts';
import { invoiceNumber, makeBatch, makeInvoice } from '../helpers/invoice-factory.ts';
import { dataKeyService, insertTenant, setBuyer, TestClock, uowNode, type UowNode } from '../helpers/uow-b.ts';

const PHONE = '13912345678';
const ID_NUMBER = '11010519491231002X';
const USCC = '91440300708461136T';
const PERSON: Party = {
  name: '李四', taxId: ID_NUMBER, address: '北京市朝阳区建国路88号', phone: PHONE, bankName: '工商银行',
  bankAccount: '6222021234567891234', email: 'li.si.private@example.com',
};
const SECRETS = [ID_NUMBER, PERSON.address!, PHONE, PERSON.bankAccount!, PERSON.email!];
const PII_FIELDS = ['address', 'phone', 'bankAccount', 'email', 'taxId'] as const;
const T0 = '2026-11-24T06:03:05.123Z';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

type Stored = Invoice & { buyerSealed?: string };

const authFailed = (e: unknown) => e instanceof FieldCipherError && e.reason === 'authentication_failed';

/** What the field keys opened and decrypted while `fn` ran. */
async function counted(fields: FieldKeys, fn: () => Promise<unknown>): Promise<EnvelopeCounts> {
  const before = fields.envelopeCounts();
  await fn();
  const now = fields.envelopeCounts();
  return { opened: now.opened - before.opened, decrypted: now.decrypted - before.decrypted };
}

async function storedDocument(s: StorageEngine, number: string): Promise<string> {
  return (await s.db.selectFrom('invoices').select('document').where('number', '=', number).executeTakeFirstOrThrow()).document;
}

async function setDocument(s: StorageEngine, number: string, document: string): Promise<void> {
  await s.db.updateTable('invoices').set({ document }).where('number', '=', number).execute();
}

/** A stored document as the layout before 0020 wrote it: each personal buyer field an envelope of its own, in place. */
function perFieldDocument(key: DataKey, tenantId: string, invoice: Invoice): string {
  const buyer: Party = { ...invoice.buyer };
  for (const f of PII_FIELDS) {
    const v = buyer[f];
    if (v === undefined || (f === 'taxId' && !isPersonalTaxId(v))) continue;
    buyer[f] = encryptField(key, v, { tenantId, table: 'invoices', column: `buyer.${f}`, rowId: invoice.number });
  }
  return JSON.stringify({ ...invoice, buyer });
}

for (const fixture of await storageEngines()) {
  void describe(`buyer envelope: ${fixture.engine}`, { skip: fixture.skip }, () => {
    const masterKey = new Uint8Array(randomBytes(32));
    const clock = new TestClock(T0);
    let s: StorageEngine;
    let node: UowNode;
    const nodes: UowNode[] = [];
    /** Another process on the same database: its memo of opened envelopes starts empty. */
    const coldNode = (): UowNode => {
      const n = uowNode(fixture.open({ masterKey, protection: { clock } }));
      nodes.push(n);
      return n;
    };
    before(async () => {
      s = fixture.open({ masterKey, protection: { clock } });
      await s.migrate();
      node = uowNode(s);
      for (const id of ['t-e', 't-f', 't-m']) await insertTenant(node.uow, clock.now(), { id, name: id, taxId: USCC, regionCode: '31', channel: '0' });
    });
    after(async () => {
      for (const n of nodes) await n.storage.close();
      await s?.close();
      await fixture.cleanup();
    });

    void it('stores one envelope beside the masked buyer; a full read opens it once, a masked read opens nothing', async () => {
      const batch = makeBatch('t-e', '26410', 1, [{ buyerTaxId: ID_NUMBER }, { buyerTaxId: USCC }, { buyerTaxId: USCC }]);
      setBuyer(batch.items[0]!, PERSON);
      setBuyer(batch.items[1]!, { phone: PHONE, email: 'ap@example.com' });
      const r = await commitIssueBatch(node.uow, clock.now(), batch);
      assert.ok(r.ok);
      const [person, company, plain] = r.issued.map((i) => i.invoice) as [Invoice, Invoice, Invoice];

      const rows = await s.db.selectFrom('invoices').select(['number', 'document', 'pii_layout']).where('tenant_id', '=', 't-e').orderBy('number').execute();
      assert.deepEqual(rows.map((x) => x.pii_layout), [1, 1, 1]);
      const docs = rows.map((x) => JSON.parse(x.document) as Stored);
      // The person: the masked buyer in place, one envelope last, nothing personal in plaintext.
      assert.deepEqual(docs[0]!.buyer, maskParty(PERSON));
      assert.equal(docs[0]!.buyer.name, '李*');
      assert.ok(isEncryptedField(docs[0]!.buyerSealed));
      assert.equal(Object.keys(docs[0]!).at(-1), 'buyerSealed');
      assert.equal(rows[0]!.document.match(/f1\./g)?.length, 1);
      for (const secret of SECRETS) assert.ok(!rows[0]!.document.includes(secret), `stored ${secret.slice(0, 3)}…`);
      assert.deepEqual(docs[1]!.buyer, maskParty(company.buyer));
      assert.ok(isEncryptedField(docs[1]!.buyerSealed));
      // A buyer without personal data is stored as it is.
      assert.equal(docs[2]!.buyerSealed, undefined);
      assert.deepEqual(docs[2]!.buyer, plain.buyer);

      const cold = coldNode();
      const fields = cold.storage.fields!;
      for (const inv of [person, company]) {
        let got: Invoice | undefined;
        assert.deepEqual(await counted(fields, async () => { got = await cold.uow.read.invoices.get('t-e', inv.number); }), { opened: 1, decrypted: 1 });
        assert.equal(JSON.stringify(got), JSON.stringify(inv));
        // Opened again: from the memo of opened envelopes.
        assert.deepEqual(await counted(fields, () => cold.uow.read.invoices.get('t-e', inv.number)), { opened: 1, decrypted: 0 });
      }
      assert.deepEqual(await counted(fields, () => cold.uow.read.invoices.get('t-e', plain.number)), { opened: 0, decrypted: 0 });

      // Masked: the answer a key without pii:read got before (maskInvoice of the plaintext), byte for byte, and
      // nothing opened, on a node that has never opened these envelopes either.
      const masked = coldNode();
      const mfields = masked.storage.fields!;
      for (const inv of [person, company, plain]) {
        let got: Invoice | undefined;
        assert.deepEqual(await counted(mfields, async () => { got = await masked.uow.read.invoices.getMasked('t-e', inv.number); }), { opened: 0, decrypted: 0 });
        assert.equal(JSON.stringify(got), JSON.stringify(maskInvoice(inv)));
      }
      let page: Invoice[] = [];
      assert.deepEqual(await counted(mfields, async () => {
        page = (await masked.uow.read.invoices.searchMasked('t-e', { limit: 10, buyerPhone: PHONE })).items;
      }), { opened: 0, decrypted: 0 });
      assert.deepEqual(page.map((i) => JSON.stringify(i)), [company, person].map((i) => JSON.stringify(maskInvoice(i))));
      assert.equal(mfields.envelopeCounts().decrypted, 0);
    });

    void it('opens an envelope only in its own row and tenant, under its own label and beside its own masked buyer', async () => {
      const batch = makeBatch('t-e', '26420', 1, [{ buyerTaxId: ID_NUMBER }, { buyerTaxId: ID_NUMBER }]);
      setBuyer(batch.items[0]!, PERSON);
      setBuyer(batch.items[1]!, { ...PERSON, phone: '13800000000' });
      assert.ok((await commitIssueBatch(node.uow, clock.now(), batch)).ok);
      // The other tenant has a data key of its own.
      assert.ok((await commitIssueBatch(node.uow, clock.now(), makeBatch('t-f', '26430', 1, [{}]))).ok);
      const [a, b] = [invoiceNumber('26420', 1), invoiceNumber('26420', 2)];
      const read = node.uow.read.invoices;
      // Both opened, and remembered, by this node.
      assert.equal((await read.get('t-e', a))?.buyer.phone, PHONE);
      assert.equal((await read.get('t-e', b))?.buyer.phone, '13800000000');
      const docA = await storedDocument(s, a);
      const docB = await storedDocument(s, b);
      const sealedA = (JSON.parse(docA) as Stored).buyerSealed!;
      const with_ = (doc: string, change: Partial<Stored>) => JSON.stringify({ ...(JSON.parse(doc) as Stored), ...change });
      try {
        // Moved to another row of the tenant, alone or with its masked buyer.
        await setDocument(s, b, with_(docB, { buyerSealed: sealedA }));
        await assert.rejects(read.get('t-e', b), authFailed);
        await setDocument(s, b, with_(docB, { buyerSealed: sealedA, buyer: (JSON.parse(docA) as Stored).buyer }));
        await assert.rejects(read.get('t-e', b), authFailed);
        await setDocument(s, b, docB);
        // One character of the ciphertext changed.
        const at = sealedA.length - 10;
        const flipped = `${sealedA.slice(0, at)}${sealedA[at] === 'A' ? 'B' : 'A'}${sealedA.slice(at + 1)}`;
        await setDocument(s, a, with_(docA, { buyerSealed: flipped }));
        await assert.rejects(read.get('t-e', a), authFailed);
        // The masked buyer beside it edited: the envelope vouches for it, so the full read (and 查验) refuses it.
        const edited = { ...(JSON.parse(docA) as Stored).buyer, address: '上海市浦东新区****' };
        await setDocument(s, a, with_(docA, { buyer: edited }));
        await assert.rejects(read.get('t-e', a), authFailed);
        // A masked read decrypts nothing, so it answers what is stored.
        assert.equal((await read.getMasked('t-e', a))?.buyer.address, '上海市浦东新区****');
        await setDocument(s, a, docA);
      } finally {
        await setDocument(s, a, docA);
        await setDocument(s, b, docB);
      }
      const protection = new InvoiceProtection(s.fields!);
      // Another tenant: its key and its AAD.
      await assert.rejects(protection.reveal(s.db, 't-f', docA), authFailed);
      // Another label under the right key, row and masked buyer: refused; the right label opens (the control).
      const key = await s.fields!.dataKeyFor(s.db, 't-e');
      const ctx = { tenantId: 't-e', table: 'invoices', rowId: a, bound: JSON.stringify(maskParty(PERSON)) };
      const relabelled = encryptField(key, JSON.stringify(PERSON), { ...ctx, column: 'buyer.phone' });
      await assert.rejects(protection.reveal(s.db, 't-e', with_(docA, { buyerSealed: relabelled })), authFailed);
      const resealed = encryptField(key, JSON.stringify(PERSON), { ...ctx, column: 'buyer' });
      assert.deepEqual((await protection.reveal(s.db, 't-e', with_(docA, { buyerSealed: resealed }))).buyer, PERSON);
      assert.equal((await read.get('t-e', a))?.buyer.phone, PHONE);
    });

    void it('the re-encryption job rewrites per-field and plaintext rows into one envelope; no per-field envelope is left', async () => {
      const fields = s.fields!;
      const key = await fields.dataKeyFor(s.db, 't-m');
      const protection = new InvoiceProtection(fields);
      const at = '2025-06-01T00:00:00.000Z';
      const make = (seq: number, taxId: string, extra: Partial<Party>): Invoice => {
        const inv = { ...makeInvoice(invoiceNumber('26440', seq), { buyerTaxId: taxId }), ledger: { index: 990_000 + seq } };
        Object.assign(inv.buyer, extra);
        return inv;
      };
      const person = make(1, ID_NUMBER, { ...PERSON, name: '王五' });
      const company = make(2, USCC, { phone: PHONE });
      const plaintext = make(3, ID_NUMBER, { phone: PHONE, email: 'old@example.com' });
      const bare = make(4, USCC, {});
      const legacy = [person, company, plaintext, bare];
      await s.db.insertInto('invoices').values([
        // Written between 0005 and 0020: labelled with their key version, one envelope per field.
        ...[person, company, bare].map((inv) => ({
          ...toInvoiceRow('t-m', inv, at), document: perFieldDocument(key, 't-m', inv), ...protection.indexes('t-m', inv.buyer),
          buyer_tax_id: isPersonalTaxId(inv.buyer.taxId!) ? null : inv.buyer.taxId!, data_key_version: key.version,
        })),
        // Written before 0003: plaintext, unlabelled.
        toInvoiceRow('t-m', plaintext, at),
      ]).execute();
      const layouts = async () => (await s.db.selectFrom('invoices').select('pii_layout').where('tenant_id', '=', 't-m').orderBy('number').execute()).map((x) => x.pii_layout);
      assert.deepEqual(await layouts(), [null, null, null, null]);
      // Readable before the job, in both views.
      for (const inv of legacy) {
        assert.equal(JSON.stringify(await node.uow.read.invoices.get('t-m', inv.number)), JSON.stringify(inv));
        assert.equal(JSON.stringify(await node.uow.read.invoices.getMasked('t-m', inv.number)), JSON.stringify(maskInvoice(inv)));
      }

      const keys = dataKeyService(node, clock);
      const job = new ReencryptJob({ work: keys, log: silent, batchSize: 3, retireGraceMs: 0 });
      const pass = await job.runPass();
      assert.deepEqual(pass.failures, []);
      assert.equal(pass.moved, 4);
      assert.equal((await job.runPass()).moved, 0);
      assert.deepEqual(await layouts(), [1, 1, 1, 1]);

      // Not one per-field envelope in the whole table; exactly one envelope per invoice with personal data.
      const all = await s.db.selectFrom('invoices').select(['number', 'document', 'pii_layout', 'data_key_version', 'buyer_tax_id']).execute();
      for (const row of all) {
        const doc = JSON.parse(row.document) as Stored;
        for (const f of PII_FIELDS) assert.ok(!isEncryptedField(doc.buyer[f]), `${row.number} ${f}`);
        assert.equal(row.pii_layout, 1);
        assert.equal(row.document.match(/f1\./g)?.length ?? 0, doc.buyerSealed === undefined ? 0 : 1);
      }
      const byNumber = new Map(all.map((x) => [x.number, x]));
      assert.equal(byNumber.get(plaintext.number)!.data_key_version, key.version);
      assert.equal(byNumber.get(plaintext.number)!.buyer_tax_id, null);
      for (const secret of [...SECRETS, 'old@example.com']) {
        for (const inv of legacy) assert.ok(!byNumber.get(inv.number)!.document.includes(secret), `${inv.number} stores ${secret.slice(0, 3)}…`);
      }
      assert.equal((JSON.parse(byNumber.get(bare.number)!.document) as Stored).buyerSealed, undefined);

      // The same invoices, in both views, on a node that has opened nothing; the masked view opens nothing.
      const cold = coldNode();
      for (const inv of legacy) {
        assert.equal(JSON.stringify(await cold.uow.read.invoices.get('t-m', inv.number)), JSON.stringify(inv));
        assert.deepEqual(await counted(cold.storage.fields!, async () => {
          assert.equal(JSON.stringify(await cold.uow.read.invoices.getMasked('t-m', inv.number)), JSON.stringify(maskInvoice(inv)));
        }), { opened: 0, decrypted: 0 });
      }
      // The blind indexes still find them.
      const hits = await cold.uow.read.invoices.search('t-m', { limit: 10, buyerPhone: '+86 139 1234 5678' });
      assert.deepEqual(hits.items.map((i) => i.number).sort(), [person, company, plaintext].map((i) => i.number).sort());
      assert.equal((await cold.uow.read.invoices.search('t-m', { limit: 10, buyerTaxId: ID_NUMBER })).items.length, 2);
    });
  });
}
