// The listener layout of docs/design.md §5: each port a separate door with its own route groups and lock.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { compileDeferredSchemas } from '../../src/platform/http/schema-compilers.ts';

describe('listener layout (default configuration)', () => {
  let t: TestApp;
  const admin = () => t.servers.get('admin')!;
  const metrics = () => t.servers.get('metrics')!;
  const redirect = () => t.servers.get('redirect')!;
  const push = () => t.servers.get('push')!;
  const local = { remoteAddress: '127.0.0.1' };

  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('builds api, partner, admin, push, metrics and redirect', () => {
    assert.deepEqual([...t.servers.keys()].sort(), ['admin', 'api', 'metrics', 'partner', 'push', 'redirect']);
  });

  it('compiles the request and response schemas of every route of every listener (each is compiled when first used)', async () => {
    await compileDeferredSchemas();
  });

  it('serves each route group only where it is configured', async () => {
    assert.equal((await t.api.inject({ method: 'GET', url: '/healthz' })).statusCode, 404);
    assert.equal((await t.api.inject({ method: 'GET', url: '/docs/json' })).statusCode, 404, 'no OpenAPI on the public listener');
    assert.equal((await t.api.inject({ method: 'GET', url: '/admin/v1/tenants', headers: { authorization: `Bearer ${t.adminToken}` } })).statusCode, 404);
    assert.equal((await admin().inject({ method: 'POST', url: '/v1/verify', ...local, payload: {} })).statusCode, 404);
    assert.equal((await metrics().inject({ method: 'GET', url: '/healthz', ...local })).json().status, 'ok');
    assert.equal((await metrics().inject({ method: 'GET', url: '/readyz', ...local })).json().status, 'ready');
    // The event stream only on push; push serves nothing else.
    assert.equal((await t.api.inject({ method: 'GET', url: '/v1/events', headers: { authorization: `Bearer ${t.apiKey}` } })).statusCode, 404);
    assert.equal((await push().inject({ method: 'GET', url: '/v1/events' })).statusCode, 401);
    assert.equal((await push().inject({ method: 'GET', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` } })).statusCode, 404);
  });

  it('requires the admin token on the admin API and manages tenants and keys', async () => {
    const anon = await admin().inject({ method: 'GET', url: '/admin/v1/tenants', ...local });
    assert.equal(anon.statusCode, 401);
    const wrong = await admin().inject({ method: 'GET', url: '/admin/v1/tenants', headers: { authorization: `Bearer ${t.adminToken}x` }, ...local });
    assert.equal(wrong.statusCode, 401);
    const auth = { authorization: `Bearer ${t.adminToken}` };
    const created = await admin().inject({
      method: 'POST', url: '/admin/v1/tenants', headers: auth, ...local,
      payload: { name: '管理端创建有限公司', taxId: '915300007194052520', regionCode: '53' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const { tenant, apiKey } = created.json();
    assert.match(apiKey, /^fp_live_/);
    const issued = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${apiKey}` }, payload: sampleInvoice() });
    assert.equal(issued.statusCode, 201);
    assert.match(issued.json().number, /^\d{2}53/);
    const keys = await admin().inject({ method: 'GET', url: `/admin/v1/tenants/${tenant.id}/api-keys`, headers: auth, ...local });
    assert.equal(keys.json().items.length, 1);
    assert.ok(!keys.body.includes(apiKey), 'secrets are never listed');
    const keyId = keys.json().items[0].id;
    const revoked = await admin().inject({ method: 'DELETE', url: `/admin/v1/tenants/${tenant.id}/api-keys/${keyId}`, headers: auth, ...local });
    assert.equal(revoked.statusCode, 204);
    const refused = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: { authorization: `Bearer ${apiKey}` } });
    assert.equal(refused.statusCode, 401);
    const bad = await admin().inject({ method: 'POST', url: '/admin/v1/tenants', headers: auth, ...local, payload: { name: 'x', taxId: '91110000600037341K', regionCode: '11' } });
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.json().code, 'TAX_ID_CHECKSUM');
  });

  it('allows two active API keys per tenant, for rotation', async () => {
    const auth = { authorization: `Bearer ${t.adminToken}` };
    const created = await admin().inject({
      method: 'POST', url: '/admin/v1/tenants', headers: auth, ...local,
      payload: { name: '轮换密钥有限公司', taxId: '9153000077859986X2', regionCode: '53' },
    });
    const tenantId = created.json().tenant.id as string;
    const url = `/admin/v1/tenants/${tenantId}/api-keys`;
    const second = await admin().inject({ method: 'POST', url, headers: auth, ...local, payload: {} });
    assert.equal(second.statusCode, 201);
    const third = await admin().inject({ method: 'POST', url, headers: auth, ...local, payload: {} });
    assert.equal(third.statusCode, 409);
    assert.equal(third.json().code, 'API_KEY_LIMIT');
    await admin().inject({ method: 'DELETE', url: `${url}/${second.json().key.id}`, headers: auth, ...local });
    const again = await admin().inject({ method: 'POST', url, headers: auth, ...local, payload: { scopes: ['invoices:read'] } });
    assert.equal(again.statusCode, 201);
    assert.deepEqual(again.json().key.scopes, ['invoices:read']);
  });

  it('serves the OpenAPI description of every group on the admin listener', async () => {
    const doc = (await admin().inject({ method: 'GET', url: '/docs/json', ...local })).json();
    assert.ok(doc.paths['/v1/invoices'].post);
    assert.ok(doc.paths['/admin/v1/tenants'].post);
  });

  it('refuses addresses outside the allowlist of admin and metrics', async () => {
    for (const s of [admin(), metrics()]) {
      const res = await s.inject({ method: 'GET', url: '/healthz', remoteAddress: '203.0.113.9' });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'ADDRESS_NOT_ALLOWED');
    }
    assert.equal((await metrics().inject({ method: 'GET', url: '/healthz', remoteAddress: '::1' })).statusCode, 200);
    assert.equal((await metrics().inject({ method: 'GET', url: '/healthz', remoteAddress: '::ffff:127.0.0.1' })).statusCode, 200);
  });

  it('exports Prometheus metrics per listener and issued invoices', async () => {
    await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
    const text = (await metrics().inject({ method: 'GET', url: '/metrics', ...local })).body;
    assert.match(text, /fapiao_http_requests_total\{listener="api",route="\/v1\/invoices",method="POST",status="201"\} \d+/);
    assert.match(text, /fapiao_invoices_issued_total\{type="normal"\} [1-9]/);
  });

  it('redirects browser pages to HTTPS and refuses plaintext API calls', async () => {
    const page = await redirect().inject({ method: 'GET', url: '/verify?lang=en' });
    assert.equal(page.statusCode, 301);
    assert.match(String(page.headers.location), /^https:\/\/[^/]+\/verify\?lang=en$/);
    assert.equal(page.headers['strict-transport-security'], 'max-age=63072000; includeSubDomains');
    for (const [method, url] of [['GET', '/v1/keys'], ['POST', '/v1/invoices'], ['GET', '/admin/v1/tenants'], ['POST', '/verify']] as const) {
      const res = await redirect().inject({ method, url });
      assert.equal(res.statusCode, 403, `${method} ${url}`);
      assert.equal(res.json().code, 'HTTPS_REQUIRED');
      assert.equal(res.headers.location, undefined);
    }
  });
});
