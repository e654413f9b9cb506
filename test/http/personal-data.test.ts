// Issue 3, "Personal data": the buyer's phone, e-mail, address, bank account and ID number are encrypted at rest,
// searchable through blind indexes, masked in answers without the pii:read scope, and nowhere in the database file or
// the logs in plaintext.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { sql } from 'kysely';
import type { Invoice } from '../../src/shared/invoice.ts';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';

const PHONE = '13912345678';
const ID_NUMBER = '11010519491231002X';
const EMAIL = 'li.si.private@example.com';
const ADDRESS = '北京市朝阳区建国路88号';
const BANK_ACCOUNT = '6222021234567891234';
const BUYER = { name: '李四', taxId: ID_NUMBER, phone: PHONE, email: EMAIL, address: ADDRESS, bankName: '工商银行', bankAccount: BANK_ACCOUNT };
const SECRETS = [PHONE, ID_NUMBER, EMAIL, BANK_ACCOUNT];

/** Every file under dir (the SQLite database, its -wal and -shm included), concatenated. */
function readTree(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    parts.push(statSync(p).isDirectory() ? readTree(p) : readFileSync(p));
  }
  return Buffer.concat(parts);
}

function assertAbsent(haystack: Buffer | string, where: string): void {
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : haystack;
  for (const secret of [...SECRETS, ADDRESS]) {
    const needle = Buffer.from(secret, 'utf8').toString('latin1');
    assert.ok(!text.includes(needle), `${where} contains ${secret.slice(0, 3)}…`);
  }
}

describe('buyer personal data (issue 3)', () => {
  let t: TestApp;
  let masked: string;
  let other: string;
  const logs: string[] = [];
  let issued: Invoice;
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  before(async () => {
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { logs.push(chunk.toString('utf8')); done(); } });
    t = await createTestApp({}, { logger: pino({ level: 'trace' }, sink) });
    masked = (await t.app.services.tenants.createApiKey(t.tenantId)).secret;
    other = (await t.app.services.tenants.create(OTHER_SELLER)).apiKey;
    const res = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { ...auth(t.apiKey), 'idempotency-key': 'pd-1' }, payload: sampleInvoice({ buyer: BUYER }),
    });
    assert.equal(res.statusCode, 201, res.body);
    issued = res.json<Invoice>();
  });
  after(async () => {
    await t.close();
  });

  it('answers the full buyer to a key with pii:read', async () => {
    assert.deepEqual(issued.buyer, BUYER);
    const res = await t.api.inject({ method: 'GET', url: `/v1/invoices/${issued.number}`, headers: auth(t.apiKey) });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json<Invoice>().buyer, BUYER);
  });

  it('masks the buyer for a key without pii:read (get, search, issue replay) and refuses it the documents', async () => {
    const get = await t.api.inject({ method: 'GET', url: `/v1/invoices/${issued.number}`, headers: auth(masked) });
    assert.equal(get.statusCode, 200);
    const buyer = get.json<Invoice>().buyer;
    assert.equal(buyer.phone, '139****5678');
    assert.equal(buyer.taxId, '110105********002X');
    assert.equal(buyer.email, 'l*******@example.com');
    assert.equal(buyer.bankAccount, '6222 **** **** 1234');
    assert.equal(buyer.name, '李*');
    const search = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: auth(masked) });
    const replay = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { ...auth(masked), 'idempotency-key': 'pd-1' }, payload: sampleInvoice({ buyer: BUYER }),
    });
    assert.equal(replay.statusCode, 201);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    for (const body of [get.body, search.body, replay.body]) assertAbsent(body, 'a masked answer');
    const pdf = await t.api.inject({ method: 'GET', url: `/v1/invoices/${issued.number}?format=pdf`, headers: auth(masked) });
    assert.equal(pdf.statusCode, 403);
  });

  it('finds the invoice by buyer phone, e-mail and tax ID, only within the tenant', async () => {
    const search = async (key: string, q: string) => {
      const res = await t.api.inject({ method: 'GET', url: `/v1/invoices?${q}`, headers: auth(key) });
      assert.equal(res.statusCode, 200, res.body);
      return res.json<{ items: Invoice[] }>().items.map((i) => i.number);
    };
    assert.deepEqual(await search(t.apiKey, `buyerPhone=${encodeURIComponent('+86 139-1234-5678')}`), [issued.number]);
    assert.deepEqual(await search(masked, `buyerEmail=${encodeURIComponent(EMAIL.toUpperCase())}`), [issued.number]);
    assert.deepEqual(await search(t.apiKey, `buyerTaxId=${ID_NUMBER}`), [issued.number]);
    assert.deepEqual(await search(t.apiKey, 'buyerPhone=13900000000'), []);
    assert.deepEqual(await search(other, `buyerPhone=${PHONE}`), []);
    assert.deepEqual(await search(other, `buyerTaxId=${ID_NUMBER}`), []);
  });

  it('still verifies as authentic: the signature covers the decrypted body', async () => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/verify', payload: { number: issued.number, issueDate: issued.issueDate, total: issued.totals.total } });
    assert.equal(res.json<{ result: string }>().result, 'authentic');
  });

  it('answers a key without pii:read, and 查验 again, without decrypting anything', async () => {
    const fields = t.app.storage.fields!;
    const fresh = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(masked), payload: sampleInvoice({ buyer: { ...BUYER, phone: '13700002222' } }) });
    assert.equal(fresh.statusCode, 201, fresh.body);
    const inv = fresh.json<Invoice>();
    assert.equal(inv.buyer.phone, '137****2222');
    const counts = async (fn: () => Promise<void>) => {
      const before = fields.envelopeCounts();
      await fn();
      const now = fields.envelopeCounts();
      return { opened: now.opened - before.opened, decrypted: now.decrypted - before.decrypted };
    };
    const verify = () => t.api.inject({ method: 'POST', url: '/v1/verify', payload: { number: inv.number, issueDate: inv.issueDate, total: inv.totals.total } });
    assert.deepEqual(await counts(async () => {
      const get = await t.api.inject({ method: 'GET', url: `/v1/invoices/${inv.number}`, headers: auth(masked) });
      assert.equal(get.statusCode, 200);
      assert.deepEqual(get.json<Invoice>().buyer, { name: '李*', taxId: '110105********002X', address: '北京市朝阳区****', phone: '137****2222', bankName: '工商银行', bankAccount: '6222 **** **** 1234', email: 'l*******@example.com' });
      const search = await t.api.inject({ method: 'GET', url: `/v1/invoices?buyerPhone=13700002222`, headers: auth(masked) });
      assert.deepEqual(search.json<{ items: Invoice[] }>().items.map((i) => [i.number, i.buyer.phone]), [[inv.number, '137****2222']]);
    }), { opened: 0, decrypted: 0 });
    // 查验 checks the signature over the body as signed, so the first check of a stored state opens its one
    // envelope (not one per field); every later check of that state is answered from the check cache.
    assert.deepEqual(await counts(async () => assert.equal((await verify()).json<{ result: string }>().result, 'authentic')), { opened: 1, decrypted: 1 });
    assert.deepEqual(await counts(async () => {
      for (let i = 0; i < 3; i++) {
        const res = (await verify()).json<{ result: string; invoice: Invoice }>();
        assert.equal(res.result, 'authentic');
        assert.deepEqual(res.invoice.buyer, { name: '李*', taxId: '110105********002X' });
      }
    }), { opened: 0, decrypted: 0 });
    // A key with pii:read gets the buyer as issued.
    const full = await t.api.inject({ method: 'GET', url: `/v1/invoices/${inv.number}`, headers: auth(t.apiKey) });
    assert.deepEqual(full.json<Invoice>().buyer, { ...BUYER, phone: '13700002222' });
  });

  it('stores no personal data in plaintext: database file, WAL and logs', async () => {
    const db = (t.app.storage).db;
    const row = await db.selectFrom('invoices').select(['document', 'buyer_tax_id', 'buyer_phone_bidx']).where('number', '=', issued.number).executeTakeFirstOrThrow();
    assert.equal(row.buyer_tax_id, null);
    assert.match(row.buyer_phone_bidx ?? '', /^[0-9a-f]{32}$/);
    assertAbsent(row.document, 'the stored document');
    const idem = await db.selectFrom('idempotency_keys').select('body').where('key', '=', 'pd-1').executeTakeFirstOrThrow();
    assertAbsent(idem.body, 'the idempotency body');
    // Both before and after a checkpoint: the WAL and the main file.
    assertAbsent(readTree(t.dataDir), 'the data directory');
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
    assertAbsent(readTree(t.dataDir), 'the data directory after a checkpoint');
    assert.ok(logs.length > 0, 'the logger wrote something');
    assertAbsent(logs.join('\n'), 'the logs');
  });

  it('refuses an envelope moved to another invoice (AAD binds the row)', async () => {
    const second = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(t.apiKey), payload: sampleInvoice({ buyer: { ...BUYER, phone: '13700001111' } }) });
    assert.equal(second.statusCode, 201);
    const victim = second.json<Invoice>();
    const db = (t.app.storage).db;
    const read = async (number: string) =>
      JSON.parse((await db.selectFrom('invoices').select('document').where('number', '=', number).executeTakeFirstOrThrow()).document) as Invoice & { buyerSealed: string };
    const source = await read(issued.number);
    const target = await read(victim.number);
    assert.notEqual(target.buyerSealed, source.buyerSealed);
    target.buyerSealed = source.buyerSealed;
    await db.updateTable('invoices').set({ document: JSON.stringify(target) }).where('number', '=', victim.number).execute();

    const get = await t.api.inject({ method: 'GET', url: `/v1/invoices/${victim.number}`, headers: auth(t.apiKey) });
    assert.equal(get.statusCode, 500);
    assertAbsent(get.body, 'the error answer');
    const verify = await t.api.inject({ method: 'POST', url: '/v1/verify', payload: { number: victim.number, issueDate: victim.issueDate, total: victim.totals.total } });
    assert.equal(verify.json<{ result: string }>().result, 'tampered');
    // The untouched invoice still reads.
    const ok = await t.api.inject({ method: 'GET', url: `/v1/invoices/${issued.number}`, headers: auth(t.apiKey) });
    assert.equal(ok.statusCode, 200);
  });
});
