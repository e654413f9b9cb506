// Errors and log lines never carry the values of personal data (docs/operations.md, "Logs"): a renderer, format or
// validation error names the field at fault, never its value, even when the invoice being rendered holds the
// buyer's decrypted address, phone, e-mail and bank account. The logger writes to a stream captured here.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Invoice } from '../../src/shared/invoice.ts';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';

const PHONE = '13987654321';
const EMAIL = 'wang.wu.private@example.com';
const ADDRESS = '上海市浦东新区世纪大道100号';
const BANK_ACCOUNT = '6222029876543210987';
const BUYER = { name: '上海买方贸易有限公司', taxId: '91440300708461136T', phone: PHONE, email: EMAIL, address: ADDRESS, bankName: '建设银行', bankAccount: BANK_ACCOUNT };
const FORMATS = ['json', 'xml', 'pdf', 'ofd', 'ubl'];

describe('no personal data in error messages and logs', () => {
  let t: TestApp;
  const logs: string[] = [];
  const auth = () => ({ authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' });
  const get = (number: string, format: string) => t.api.inject({ method: 'GET', url: `/v1/invoices/${number}?format=${format}`, headers: auth() });

  function assertNoValues(text: string, where: string): void {
    for (const v of [PHONE, EMAIL, ADDRESS, BANK_ACCOUNT]) assert.ok(!text.includes(v), `${where} contains ${v.slice(0, 4)}…`);
  }

  /** Overwrites the stored document of an invoice (as a bug or a damaged row would leave it); fields stay encrypted. */
  async function damage(number: string, edit: (doc: Invoice) => void): Promise<void> {
    const db = (t.app.storage).db;
    const row = await db.selectFrom('invoices').select('document').where('number', '=', number).executeTakeFirstOrThrow();
    const doc = JSON.parse(row.document) as Invoice;
    edit(doc);
    await db.updateTable('invoices').set({ document: JSON.stringify(doc) }).where('number', '=', number).execute();
  }

  before(async () => {
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { logs.push(chunk.toString('utf8')); done(); } });
    t = await createTestApp({}, { logger: pino({ level: 'trace' }, sink) });
  });
  after(async () => {
    await t.close();
  });

  it('refuses text that could not be rendered without quoting it, and logs none of the buyer data', async () => {
    const from = logs.length;
    const res = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: auth(), payload: JSON.stringify(sampleInvoice({ buyer: { ...BUYER, address: `${ADDRESS}\uffff` } })),
    });
    assert.notEqual(res.statusCode, 500, res.body);
    // A 201 shows the buyer to this key (it has pii:read), and so do the documents; a problem never does.
    if (res.statusCode >= 400) assertNoValues(res.body, 'the problem');
    if (res.statusCode === 201) {
      for (const f of FORMATS) {
        const doc = await get(res.json<Invoice>().number, f);
        if (doc.statusCode >= 400) assertNoValues(doc.body, `the ${f} problem`);
      }
    }
    assertNoValues(logs.slice(from).join(''), 'the log');
  });

  it('logs a failed rendering of an invoice with decrypted personal data without any of its values', async () => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(), payload: JSON.stringify(sampleInvoice({ buyer: BUYER })) });
    assert.equal(res.statusCode, 201, res.body);
    const inv = res.json<Invoice>();
    // An amount no renderer can use, spelled with the buyer's phone number: a message quoting it would leak the phone.
    await damage(inv.number, (doc) => { doc.lines[0]!.amount = `${PHONE}.123`; });
    const from = logs.length;
    const ubl = await get(inv.number, 'ubl');
    assert.equal(ubl.statusCode, 500);
    assert.equal(ubl.json<{ code: string }>().code, 'INTERNAL');
    assertNoValues(ubl.body, 'the answer');
    const logged = logs.slice(from).join('');
    assertNoValues(logged, 'the log');
    assert.match(logged, /\/lines\/0\/amount/, 'the log names the field at fault');
    assert.ok(logged.includes(ubl.json<{ requestId: string }>().requestId), 'the log line carries the request id');
  });

  it('renders a stored invoice holding characters no document can carry, in every format', async () => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(), payload: JSON.stringify(sampleInvoice({ buyer: BUYER })) });
    const inv = res.json<Invoice>();
    // As an invoice stored before the text rules could be.
    await damage(inv.number, (doc) => {
      doc.lines[0]!.name = `*信息技术服务*软件\u0000\ufffe\u0001`;
      doc.lines[0]!.unit = '\uffff';
      doc.remarks = 'a\ud800b\u0007';
      doc.issuer = '张\n三';
    });
    const from = logs.length;
    for (const f of FORMATS) {
      const doc = await get(inv.number, f);
      assert.equal(doc.statusCode, 200, `${f}: ${doc.body.slice(0, 200)}`);
    }
    const xml = (await get(inv.number, 'xml')).body;
    assert.ok(xml.includes('<ItemName>*信息技术服务*软件\ufffd\ufffd\ufffd</ItemName>'), 'XML writes U+FFFD for what it cannot carry');
    assertNoValues(logs.slice(from).join(''), 'the log');
  });
});
