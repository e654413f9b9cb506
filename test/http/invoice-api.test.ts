import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { checkInvoice } from '../../src/modules/invoicing/app/seal.ts';
import type { Invoice } from '../../src/shared/invoice.ts';

describe('invoice API', () => {
  let t: TestApp;
  const auth = () => ({ authorization: `Bearer ${t.apiKey}` });
  const issue = (body: unknown, headers: Record<string, string> = {}) =>
    t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { ...auth(), ...headers }, payload: body as object });

  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('issues a signed invoice with exact totals, capitals, number and ledger index', async () => {
    const res = await issue(sampleInvoice());
    assert.equal(res.statusCode, 201, res.body);
    const inv = res.json<Invoice>();
    assert.match(inv.number, /^\d{2}311\d{15}$/);
    assert.equal(res.headers.location, `/v1/invoices/${inv.number}`);
    assert.deepEqual(inv.totals, { amount: '100.00', tax: '13.00', total: '113.00', totalInCapitals: '壹佰壹拾叁圆整' });
    assert.equal(inv.lines[0]!.name, '*信息技术服务*软件开发费');
    assert.equal(inv.kind, 'blue');
    assert.equal(inv.status, 'normal');
    assert.equal(typeof inv.ledger.index, 'number');
    assert.match(inv.issuedAt, /\+08:00$/);
    const keys = await t.api.inject({ method: 'GET', url: '/v1/keys' });
    const key = keys.json<{ keys: { keyId: string; publicKey: string }[] }>().keys.find((k) => k.keyId === inv.signature.keyId);
    assert.ok(key, 'signing key is published');
    assert.deepEqual(checkInvoice(inv, key.publicKey), { hashValid: true, signatureValid: true, qrValid: true });
    const tampered = { ...inv, totals: { ...inv.totals, total: '114.00' } };
    assert.equal(checkInvoice(tampered, key.publicKey).hashValid, false);
  });

  it('computes prices that include tax', async () => {
    const res = await issue(sampleInvoice({
      priceIncludesTax: true,
      lines: [{ name: '咨询费', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '106.00', taxRate: '0.06' }],
    }));
    assert.equal(res.statusCode, 201, res.body);
    const inv = res.json<Invoice>();
    assert.equal(inv.lines[0]!.amount, '100.00');
    assert.equal(inv.lines[0]!.tax, '6.00');
    assert.equal(inv.totals.total, '106.00');
  });

  it('returns the invoice by number, and 404 for another tenant', async () => {
    const created = (await issue(sampleInvoice())).json<Invoice>();
    const res = await t.api.inject({ method: 'GET', url: `/v1/invoices/${created.number}`, headers: auth() });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), created);
    const other = await t.app.services.tenants.create(OTHER_SELLER);
    const foreign = await t.api.inject({ method: 'GET', url: `/v1/invoices/${created.number}`, headers: { authorization: `Bearer ${other.apiKey}` } });
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.json().code, 'INVOICE_NOT_FOUND');
    const missing = await t.api.inject({ method: 'GET', url: '/v1/invoices/26319000000000000001', headers: auth() });
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(Object.keys(foreign.json()).sort(), Object.keys(missing.json()).sort());
  });

  it('replays the same idempotency key byte for byte and refuses it with another body', async () => {
    const key = `idem-${Date.now()}`;
    const first = await issue(sampleInvoice(), { 'idempotency-key': key });
    const again = await issue(sampleInvoice(), { 'idempotency-key': key });
    assert.equal(first.statusCode, 201);
    assert.equal(again.statusCode, 201);
    assert.equal(again.body, first.body);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    const other = await issue(sampleInvoice({ remarks: '不同' }), { 'idempotency-key': key });
    assert.equal(other.statusCode, 422);
    assert.equal(other.json().code, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('answers 409 while the same idempotency key is in flight', async () => {
    const key = `flight-${Date.now()}`;
    const [a, b] = await Promise.all([issue(sampleInvoice(), { 'idempotency-key': key }), issue(sampleInvoice(), { 'idempotency-key': key })]);
    const codes = [a.statusCode, b.statusCode].sort();
    assert.deepEqual(codes, [201, 409]);
    const conflict = a.statusCode === 409 ? a : b;
    assert.equal(conflict.json().code, 'IDEMPOTENCY_KEY_IN_FLIGHT');
  });

  it('returns the original invoice when an externalId is replayed', async () => {
    const first = await issue(sampleInvoice({ externalId: 'ERP-1001' }));
    const second = await issue(sampleInvoice({ externalId: 'ERP-1001', remarks: 'retry' }));
    assert.equal(first.statusCode, 201);
    assert.equal(second.statusCode, 200);
    assert.equal(second.json().number, first.json().number);
  });

  it('gives 200 concurrent issues 200 consecutive numbers', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => issue(sampleInvoice())));
    assert.ok(results.every((r) => r.statusCode === 201));
    const seqs = results.map((r) => Number(r.json<Invoice>().number.slice(5))).sort((x, y) => x - y);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[0]! + i);
    assert.equal(new Set(results.map((r) => r.json<Invoice>().ledger.index)).size, 200);
  });

  it('searches with filters and cursor paging', async () => {
    const buyerTaxId = '913210005691135521';
    for (let i = 0; i < 5; i++) {
      const r = await issue(sampleInvoice({ buyer: { name: '检索买方', taxId: buyerTaxId } }));
      assert.equal(r.statusCode, 201);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const url = `/v1/invoices?buyerTaxId=${buyerTaxId}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await t.api.inject({ method: 'GET', url, headers: auth() });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<{ items: Invoice[]; nextCursor?: string }>();
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((i) => i.number));
      cursor = page.nextCursor;
    } while (cursor);
    assert.equal(seen.length, 5);
    assert.equal(new Set(seen).size, 5);
    const none = await t.api.inject({ method: 'GET', url: '/v1/invoices?minTotal=1000000.00', headers: auth() });
    assert.equal(none.json().items.length, 0);
    const bad = await t.api.inject({ method: 'GET', url: '/v1/invoices?limit=0', headers: auth() });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().errors[0].path, 'querystring:/limit');
  });
});
