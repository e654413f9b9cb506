// The tenant's document settings over the API: GET/PATCH /v1/document-settings (defaults, partial changes, null
// resets, the audit entry, bad input answered 400 with the field and nothing changed, scopes, one tenant's settings
// never another's), and what they do to downloads: the UBL's payment terms, due date and electronic addresses, and
// 备注 with the buyer's details on the PDF and OFD, per tenant and per request (?buyerDetails=), while the signed
// invoice the documents carry stays the same.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { unzipSync } from 'fflate';
import { readInvoiceFile } from '../../src/modules/documents/app/invoice-file.ts';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';

interface Settings {
  remarks: { buyerDetails: boolean; sellerDetails: boolean };
  ubl: { endpointScheme: string; sellerEndpoint: { scheme: string; id: string } | null; paymentTerms: string | null; dueDays: number | null; paid: boolean };
}
const DEFAULTS: Settings = {
  remarks: { buyerDetails: false, sellerDetails: false },
  ubl: { endpointScheme: '0199', sellerEndpoint: null, paymentTerms: null, dueDays: null, paid: false },
};
const BUYER = {
  name: '杭州买方贸易有限公司', taxId: '91440300708461136T', address: '杭州市西湖区文三路90号', phone: '0571-88886666',
  bankName: '中国工商银行杭州文三路支行', bankAccount: '1202020409900012345',
};

describe('document settings (GET/PATCH /v1/document-settings) and the documents they shape', () => {
  let t: TestApp;
  let other: string;
  let readOnly: string;
  let number: string;
  const call = (method: 'GET' | 'PATCH', url: string, payload?: unknown, key = t.apiKey) =>
    t.api.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  const ofdPage = (body: Buffer) => new TextDecoder().decode(unzipSync(body)['Doc_0/Pages/Page_0/Content.xml']);

  before(async () => {
    t = await createTestApp();
    other = (await t.app.services.tenants.create(OTHER_SELLER)).apiKey;
    await t.app.services.tenants.update(t.tenantId, { address: '上海市浦东新区演示路1号', phone: '021-12345678', bankName: '招商银行上海分行', bankAccount: '121909876510601' });
    readOnly = (await t.app.services.tenants.createApiKey(t.tenantId, { scopes: ['invoices:read', 'pii:read'] })).secret;
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice({ type: 'special', buyer: BUYER, remarks: '合同号 HT-118' }) });
    assert.equal(res.statusCode, 201, res.body);
    number = res.json<{ number: string }>().number;
  });
  after(async () => t?.close());

  it('starts at the documented defaults', async () => {
    const res = await call('GET', '/v1/document-settings');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), DEFAULTS);
  });

  it('refuses bad input with the field at fault and changes nothing', async () => {
    const bad: [unknown, string][] = [
      [{}, '/'],
      [{ ubl: { endpointScheme: '99' } }, '/ubl/endpointScheme'],
      [{ ubl: { endpointScheme: '０１９９' } }, '/ubl/endpointScheme'],
      [{ ubl: { sellerEndpoint: { scheme: '0088' } } }, '/ubl/sellerEndpoint'],
      [{ ubl: { paymentTerms: 'net\u000730' } }, '/ubl/paymentTerms'],
      [{ ubl: { paymentTerms: 'x'.repeat(501) } }, '/ubl/paymentTerms'],
      [{ ubl: { dueDays: 1e21 } }, '/ubl/dueDays'],
      [{ ubl: { dueDays: 1.5 } }, '/ubl/dueDays'],
      [{ remarks: { buyerDetails: 'yes' } }, '/remarks/buyerDetails'],
      [{ remarks: { bogus: true } }, '/remarks'],
      [{ theme: 'dark' }, '/'],
    ];
    for (const [body, field] of bad) {
      const res = await call('PATCH', '/v1/document-settings', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
      const p = res.json<{ code: string; errors?: { path: string }[] }>();
      assert.equal(p.code, 'VALIDATION_FAILED');
      assert.ok(p.errors?.some((e) => e.path.startsWith(field)), `${JSON.stringify(body)} names ${field}: ${res.body}`);
    }
    const raw = await t.api.inject({ method: 'PATCH', url: '/v1/document-settings', headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' }, payload: '{"ubl":' });
    assert.equal(raw.statusCode, 400);
    assert.deepEqual((await call('GET', '/v1/document-settings')).json(), DEFAULTS);
  });

  it('a key without invoices:issue reads but does not change them', async () => {
    assert.equal((await call('GET', '/v1/document-settings', undefined, readOnly)).statusCode, 200);
    const res = await call('PATCH', '/v1/document-settings', { remarks: { buyerDetails: true } }, readOnly);
    assert.equal(res.statusCode, 403, res.body);
    assert.deepEqual((await call('GET', '/v1/document-settings')).json(), DEFAULTS);
  });

  it('changes what is given, keeps the rest, audits it, and leaves other tenants alone', async () => {
    let res = await call('PATCH', '/v1/document-settings', { remarks: { buyerDetails: true }, ubl: { dueDays: 30, paymentTerms: '月结 30 天' } });
    assert.equal(res.statusCode, 200, res.body);
    res = await call('PATCH', '/v1/document-settings', { ubl: { sellerEndpoint: { scheme: '0088', id: '5790000435975' } } });
    const want: Settings = {
      remarks: { buyerDetails: true, sellerDetails: false },
      ubl: { endpointScheme: '0199', sellerEndpoint: { scheme: '0088', id: '5790000435975' }, paymentTerms: '月结 30 天', dueDays: 30, paid: false },
    };
    assert.deepEqual(res.json(), want);
    assert.deepEqual((await call('GET', '/v1/document-settings')).json(), want);
    assert.deepEqual((await call('GET', '/v1/document-settings', undefined, other)).json(), DEFAULTS);
    const audit = await t.app.services.audit.search({ action: 'document-settings.update', order: 'desc', limit: 5 });
    assert.equal(audit.length, 2);
    assert.equal(audit[0]!.tenantId, t.tenantId);
  });

  it('the UBL carries the terms, the due date and the seller\'s own address; the buyer keeps its USCC', async () => {
    const res = await call('GET', `/v1/invoices/${number}?format=ubl`);
    assert.equal(res.statusCode, 200);
    const ubl = res.body;
    const issueDate = /<cbc:IssueDate>([^<]+)</.exec(ubl)![1]!;
    const due = new Date(`${issueDate}T00:00:00Z`);
    due.setUTCDate(due.getUTCDate() + 30);
    assert.ok(ubl.includes(`<cbc:DueDate>${due.toISOString().slice(0, 10)}</cbc:DueDate>`));
    assert.match(ubl, /<cac:PaymentTerms>\s*<cbc:Note>月结 30 天<\/cbc:Note>/);
    assert.match(ubl, /<cac:AccountingSupplierParty>\s*<cac:Party>\s*<cbc:EndpointID schemeID="0088">5790000435975<\/cbc:EndpointID>/);
    assert.match(ubl, /<cac:AccountingCustomerParty>\s*<cac:Party>\s*<cbc:EndpointID schemeID="0199">91440300708461136T<\/cbc:EndpointID>/);
  });

  it('the PDF and OFD print the buyer\'s details in 备注 by the tenant\'s setting, and a request can turn it off (or on)', async () => {
    const get = async (q: string) => {
      const res = await call('GET', `/v1/invoices/${number}?${q}`);
      assert.equal(res.statusCode, 200, res.body);
      return res.rawPayload;
    };
    const ofdOn = ofdPage(await get('format=ofd'));
    assert.ok(ofdOn.includes('购方地址：杭州市西湖区文三路90号'), 'the tenant\'s default');
    assert.ok(ofdOn.includes('银行账号：1202020409900012345'));
    assert.ok(!ofdPage(await get('format=ofd&buyerDetails=false')).includes('购方地址'), 'off for one request');
    assert.ok(ofdPage(await get('format=ofd&sellerDetails=true')).includes('销方开户银行：招商银行上海分行'), 'the seller\'s on for one request');
    const pdfOn = await get('format=pdf');
    const pdfOff = await get('format=pdf&buyerDetails=false');
    assert.notDeepEqual(pdfOn, pdfOff);
    assert.deepEqual((await readInvoiceFile(pdfOn)).invoice, (await readInvoiceFile(pdfOff)).invoice, 'the same signed invoice either way');
    for (const q of ['buyerDetails=yes', 'buyerDetails=', 'sellerDetails=TRUE', 'buyerDetails=true&buyerDetails=false']) {
      const res = await call('GET', `/v1/invoices/${number}?format=pdf&${q}`);
      assert.equal(res.statusCode, 400, `${q}: ${res.body}`);
    }
  });

  it('null resets a field to its default', async () => {
    const res = await call('PATCH', '/v1/document-settings', { remarks: { buyerDetails: false }, ubl: { sellerEndpoint: null, paymentTerms: null, dueDays: null } });
    assert.deepEqual(res.json(), DEFAULTS);
    const ubl = (await call('GET', `/v1/invoices/${number}?format=ubl`)).body;
    assert.ok(!ubl.includes('<cbc:DueDate>'));
    assert.match(ubl, /<cbc:Note>Payable on receipt of the invoice \(见票即付\)<\/cbc:Note>/);
  });
});
