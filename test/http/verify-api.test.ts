import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import type { Invoice } from '../../src/shared/invoice.ts';

describe('POST /v1/verify (发票查验)', () => {
  let t: TestApp;
  let inv: Invoice;
  const verify = (body: object) => t.api.inject({ method: 'POST', url: '/v1/verify', payload: body });

  before(async () => {
    t = await createTestApp();
    const res = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` },
      payload: sampleInvoice({ buyer: { name: '张三', taxId: '11010519491231002X', phone: '13812345678' } }),
    });
    inv = res.json<Invoice>();
  });
  after(async () => {
    await t.close();
  });

  it('confirms an authentic invoice without an API key, with masked parties', async () => {
    const res = await verify({ number: inv.number, issueDate: inv.issueDate, total: '113.00' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.result, 'authentic');
    assert.equal(body.invoice.status, 'normal');
    assert.equal(body.invoice.totals.total, '113.00');
    assert.equal(body.signature.valid, true);
    assert.notEqual(body.invoice.buyer.taxId, '11010519491231002X');
    assert.ok(!res.body.includes('13812345678'));
    assert.ok(!res.body.includes('11010519491231002X'));
  });

  it('accepts the total in an equivalent decimal form', async () => {
    const res = await verify({ number: inv.number, issueDate: inv.issueDate, total: '113' });
    assert.equal(res.json().result, 'authentic');
  });

  it('gives no hint of which input was wrong', async () => {
    const wrongTotal = await verify({ number: inv.number, issueDate: inv.issueDate, total: '113.01' });
    const wrongDate = await verify({ number: inv.number, issueDate: '2001-01-01', total: '113.00' });
    const wrongNumber = await verify({ number: '26319999999999999999', issueDate: inv.issueDate, total: '113.00' });
    const garbage = await verify({ number: 'abc', issueDate: 'x', total: 'y' });
    for (const r of [wrongTotal, wrongDate, wrongNumber, garbage]) {
      assert.equal(r.statusCode, 200);
      assert.equal(r.body, wrongTotal.body);
    }
    assert.deepEqual(wrongTotal.json(), { result: 'not-found' });
  });

  it('publishes the signing keys', async () => {
    const res = await t.api.inject({ method: 'GET', url: '/v1/keys' });
    const keys = res.json().keys;
    assert.equal(keys.length, 1);
    assert.match(keys[0].publicKey, /^04[0-9a-f]{128}$/);
    assert.equal(keys[0].alg, 'SM2');
  });
});
