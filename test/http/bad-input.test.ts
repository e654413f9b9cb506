import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createTestApp, sampleInvoice, SELLER, type TestApp } from '../helpers/test-app.ts';
import { renderErrorsDoc } from '../../scripts/gen-errors-doc.ts';

describe('bad input gets a problem+json answer and changes nothing', () => {
  let t: TestApp;
  const auth = () => ({ authorization: `Bearer ${t.apiKey}` });
  const count = async () =>
    (await t.api.inject({ method: 'GET', url: '/v1/invoices?limit=100', headers: auth() })).json<{ items: unknown[] }>().items.length;

  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  const cases: { name: string; body: unknown; status: number; code: string; path?: string }[] = [
    { name: 'unknown field', body: sampleInvoice({ colour: 'red' }), status: 400, code: 'VALIDATION_FAILED', path: '/colour' },
    { name: 'missing issuer', body: { ...sampleInvoice(), issuer: undefined }, status: 400, code: 'VALIDATION_FAILED', path: '/issuer' },
    { name: 'amount as a number', body: sampleInvoice({ lines: [{ name: 'x', taxCode: '3040201000000000000', amount: 100, taxRate: '0.13' }] }), status: 400, code: 'VALIDATION_FAILED', path: '/lines/0/amount' },
    { name: 'rate not in use', body: sampleInvoice({ lines: [{ name: 'x', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '100.00', taxRate: '0.17' }] }), status: 422, code: 'TAX_RATE_NOT_ALLOWED', path: '/lines/0/taxRate' },
    { name: 'three decimals in an amount', body: sampleInvoice({ lines: [{ name: 'x', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '100.001', taxRate: '0.13' }] }), status: 422, code: 'AMOUNT_INVALID', path: '/lines/0/amount' },
    { name: 'quantity × price off by more than 0.01', body: sampleInvoice({ lines: [{ name: 'x', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '3', unitPrice: '33.00', amount: '100.00', taxRate: '0.13' }] }), status: 422, code: 'AMOUNT_MISMATCH', path: '/lines/0/amount' },
    { name: 'special invoice without buyer tax id', body: sampleInvoice({ type: 'special', buyer: { name: '某公司' } }), status: 422, code: 'BUYER_TAX_ID_REQUIRED', path: '/buyer/taxId' },
    { name: 'buyer USCC with a bad checksum', body: sampleInvoice({ buyer: { name: '某公司', taxId: '91110000600037341K' } }), status: 422, code: 'TAX_ID_CHECKSUM', path: '/buyer/taxId' },
    { name: 'supplied tax outside the tolerance', body: sampleInvoice({ lines: [{ name: 'x', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '100.00', taxRate: '0.13', tax: '13.07' }] }), status: 422, code: 'TAX_MISMATCH', path: '/lines/0/tax' },
    // Schema errors of known fields carry the specific code (problem-details.ts, SCHEMA_ERROR_CODES).
    { name: 'empty lines', body: sampleInvoice({ lines: [] }), status: 422, code: 'LINES_EMPTY', path: '/lines' },
    { name: 'no lines', body: { ...sampleInvoice(), lines: undefined }, status: 422, code: 'LINES_EMPTY', path: '/lines' },
    { name: 'a short tax code', body: sampleInvoice({ lines: [{ name: 'x', taxCode: '30402010', shortName: '信息技术服务', amount: '100.00', taxRate: '0.13' }] }), status: 422, code: 'TAX_CODE_INVALID', path: '/lines/0/taxCode' },
    { name: 'an amount that is no decimal', body: sampleInvoice({ lines: [{ name: 'x', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '1e5', taxRate: '0.13' }] }), status: 422, code: 'AMOUNT_INVALID', path: '/lines/0/amount' },
    { name: 'a malformed buyer tax id', body: sampleInvoice({ buyer: { name: '某公司', taxId: 'abc' } }), status: 422, code: 'TAX_ID_INVALID', path: '/buyer/taxId' },
    { name: 'the seller as buyer', body: sampleInvoice({ buyer: { name: '上海测试科技有限公司', taxId: SELLER.taxId } }), status: 422, code: 'BUYER_IS_SELLER', path: '/buyer/taxId' },
    { name: 'a control character in a text', body: sampleInvoice({ issuer: '张\u0000三' }), status: 422, code: 'TEXT_INVALID', path: '/issuer' },
    // Different specific codes: VALIDATION_FAILED on top, each field error keeps its own.
    { name: 'errors of different kinds', body: sampleInvoice({ lines: [], issuer: '张\u0000三' }), status: 400, code: 'VALIDATION_FAILED', path: '/lines' },
    { name: '__proto__ key', body: '{"buyer":{"__proto__":{"x":1}},"type":"normal"}', status: 400, code: 'VALIDATION_FAILED', path: '/buyer/__proto__' },
    { name: 'deep nesting', body: `{"remarks":${'['.repeat(40)}${']'.repeat(40)}}`, status: 400, code: 'VALIDATION_FAILED' },
  ];

  for (const c of cases) {
    it(`refuses ${c.name}`, async () => {
      const before = await count();
      const res = await t.api.inject({
        method: 'POST', url: '/v1/invoices', headers: { ...auth(), 'content-type': 'application/json' },
        payload: typeof c.body === 'string' ? c.body : JSON.stringify(c.body),
      });
      assert.equal(res.statusCode, c.status, res.body);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      const p = res.json();
      assert.equal(p.code, c.code);
      assert.equal(p.status, c.status);
      assert.ok(!JSON.stringify(p).includes('    at '), 'no stack trace');
      if (c.path) assert.ok(p.errors.some((e: { path: string }) => e.path === c.path), JSON.stringify(p.errors));
      assert.equal(await count(), before);
    });
  }

  it('keeps each field error\'s own code when the codes differ', async () => {
    const res = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { ...auth(), 'content-type': 'application/json' },
      payload: JSON.stringify(sampleInvoice({ lines: [], issuer: '张\u0000三' })),
    });
    assert.deepEqual(res.json<{ errors: { path: string; code: string }[] }>().errors.map((e) => [e.path, e.code]), [['/lines', 'LINES_EMPTY'], ['/issuer', 'TEXT_INVALID']]);
  });

  it('answers a value outside a list with one error naming the allowed values', async () => {
    const docx = await t.api.inject({ method: 'GET', url: '/v1/invoices/26311000000000000001?format=docx', headers: auth() });
    assert.equal(docx.statusCode, 400);
    assert.deepEqual(docx.json().errors, [{ path: 'querystring:/format', code: 'VALIDATION_FAILED', message: 'must be one of "json", "xml", "pdf", "ofd", "ubl"' }]);
    const res = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { ...auth(), 'content-type': 'application/json' },
      payload: JSON.stringify(sampleInvoice({ type: 7, lines: [{ name: 'x', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '100.00', taxExemption: 'none' }] })),
    });
    assert.deepEqual(res.json().errors, [
      { path: '/type', code: 'VALIDATION_FAILED', message: 'must be one of "normal", "special"' },
      { path: '/lines/0/taxExemption', code: 'VALIDATION_FAILED', message: 'must be one of "exempt", "non-taxable"' },
    ]);
  });

  it('answers a wrong value of a "text or null" field with the text\'s error, not one per alternative', async () => {
    const admin = t.servers.get('admin')!;
    const patch = (body: unknown) => admin.inject({
      method: 'PATCH', url: `/admin/v1/tenants/${t.tenantId}`, remoteAddress: '127.0.0.1',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' }, payload: JSON.stringify(body),
    });
    const bad = await patch({ address: '' });
    assert.deepEqual(bad.json().errors, [{ path: '/address', code: 'VALIDATION_FAILED', message: 'must NOT have fewer than 1 characters' }]);
    const wrongType = await patch({ address: 7 });
    assert.deepEqual(wrongType.json().errors, [{ path: '/address', code: 'VALIDATION_FAILED', message: 'must be string or null' }]);
    const region = await patch({ regionCode: '3' });
    assert.equal(region.statusCode, 422);
    assert.equal(region.json().code, 'REGION_CODE_INVALID');
  });

  it('answers malformed JSON with MALFORMED_JSON', async () => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { ...auth(), 'content-type': 'application/json' }, payload: '{"type":' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'MALFORMED_JSON');
  });

  it('answers a non-JSON content type with 415', async () => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { ...auth(), 'content-type': 'text/plain' }, payload: 'hi' });
    assert.equal(res.statusCode, 415);
    assert.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers unknown, malformed and missing API keys identically', async () => {
    const answers = await Promise.all(
      [undefined, 'Bearer fp_live_nope_nope', 'Basic abc', `Bearer ${t.apiKey}x`].map((h) =>
        t.api.inject({ method: 'GET', url: '/v1/invoices', headers: h ? { authorization: h } : {} }),
      ),
    );
    for (const a of answers) {
      assert.equal(a.statusCode, 401);
      const { requestId: _r, ...rest } = a.json();
      const { requestId: _r0, ...first } = answers[0]!.json();
      assert.deepEqual(rest, first);
    }
  });

  it('looks a malformed key up exactly like an unknown one, so timing does not tell them apart', async () => {
    // Timing itself is not asserted (noisy by nature); the code path is: both reach the key table once, by hash.
    // The key table as the tenant service reads it (the pool's repositories of the app's unit of work).
    const keys = t.app.uow.read.apiKeys;
    const original = keys.findByHash.bind(keys);
    const looked: string[] = [];
    keys.findByHash = async (hash: string) => {
      looked.push(hash);
      return original(hash);
    };
    try {
      // Fresh values: answers (negative ones too) are cached for a few seconds by hash.
      const n = Date.now().toString(36);
      for (const h of [`Bearer fp_live_0123456789ab_NotAKeyNotAKeyNotAKey${n}`.slice(0, 52), `Bearer x${n}`, `Basic ${n}`, `Bearer ${'a'.repeat(300)}${n}`]) {
        const res = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: { authorization: h } });
        assert.equal(res.statusCode, 401, h);
      }
    } finally {
      keys.findByHash = original;
    }
    assert.equal(looked.length, 4, 'one database look-up for each, well-formed or not');
    assert.equal(new Set(looked).size, 4);
  });

  it('refuses a revoked key', async () => {
    const { record, secret } = await t.app.services.tenants.createApiKey(t.tenantId);
    const ok = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: { authorization: `Bearer ${secret}` } });
    assert.equal(ok.statusCode, 200);
    await t.app.services.tenants.revokeApiKey(t.tenantId, record.id);
    const res = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: { authorization: `Bearer ${secret}` } });
    assert.equal(res.statusCode, 401);
  });

  it('answers unknown paths with a NOT_FOUND problem', async () => {
    const res = await t.api.inject({ method: 'GET', url: '/nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'NOT_FOUND');
  });

  it('keeps docs/errors.md in sync with the error registry', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    assert.equal(doc, renderErrorsDoc(), 'run npm run docs:errors');
  });
});
