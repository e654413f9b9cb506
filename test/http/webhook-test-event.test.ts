// `POST /v1/webhooks/{id}/test`: a `webhook.test` event delivered to that endpoint alone, signed per Standard
// Webhooks (checked with the `standardwebhooks` package), logged; `POST /v1/webhooks/{id}/replay`: a time range's
// events again, same ids and bytes; another tenant's endpoint is 404.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { startReceiver, until, type Receiver } from '../helpers/webhook-receiver.ts';

describe('webhooks: test events', () => {
  let t: TestApp;
  let rx: Receiver;
  let otherKey: string;
  const call = (method: 'GET' | 'POST', url: string, payload?: unknown, key = t.apiKey) =>
    t.api.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload: payload as object }) });

  before(async () => {
    rx = await startReceiver();
    t = await createTestApp({ FAPIAO_WEBHOOKS_ALLOW_TARGETS: '127.0.0.1', FAPIAO_WEBHOOKS_ALLOW_HTTP: 'true', FAPIAO_WEBHOOKS_IDLE_POLL_MS: '50' });
    otherKey = (await t.app.services.tenants.create(OTHER_SELLER)).apiKey;
  });
  after(async () => {
    await t?.close();
    await rx?.close();
  });

  it('delivers a signed webhook.test event to that endpoint alone and logs it', async () => {
    const mk = async (path: string) => (await call('POST', '/v1/webhooks', { url: `${rx.url}${path}`, eventTypes: ['invoice.issued'] })).json<{ id: string; secret: string }>();
    const e = await mk('/tested');
    const bystander = await mk('/bystander');
    const res = await call('POST', `/v1/webhooks/${e.id}/test`);
    assert.equal(res.statusCode, 202, res.body);
    const d = res.json<{ id: string; eventType: string; eventId: string }>();
    assert.equal(d.eventType, 'webhook.test');
    await until(() => rx.received.some((r) => r.path === '/tested'));
    const got = rx.received.find((r) => r.path === '/tested')!;
    const h = { 'webhook-id': String(got.headers['webhook-id']), 'webhook-timestamp': String(got.headers['webhook-timestamp']), 'webhook-signature': String(got.headers['webhook-signature']) };
    const payload = new Webhook(e.secret).verify(got.body, h) as { id: string; type: string; data: { endpointId: string } };
    assert.deepEqual([payload.type, payload.id, payload.data.endpointId], ['webhook.test', d.eventId, e.id]);
    await until(async () => (await call('GET', `/v1/webhooks/${e.id}/deliveries`)).json<{ items: { id: string; status: string }[] }>().items[0]?.status === 'delivered');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(rx.received.filter((r) => r.path === '/bystander').length, 0, 'other endpoints do not get it');
    assert.deepEqual((await call('GET', `/v1/webhooks/${bystander.id}/deliveries`)).json<{ items: unknown[] }>().items, []);
    const other = await call('POST', `/v1/webhooks/${e.id}/test`, undefined, otherKey);
    assert.equal(other.statusCode, 404);
    assert.equal(other.json<{ code: string }>().code, 'WEBHOOK_NOT_FOUND');
  });

  it('replays the events of a time range with the same ids and bytes', async () => {
    const e = (await call('POST', '/v1/webhooks', { url: `${rx.url}/replayed`, eventTypes: ['invoice.issued'] })).json<{ id: string }>();
    const from = new Date(Date.now() - 1000).toISOString();
    for (let i = 0; i < 2; i++) {
      const r = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
      assert.equal(r.statusCode, 201);
    }
    const mine = () => rx.received.filter((r) => r.path === '/replayed');
    await until(() => mine().length === 2);
    await until(async () => (await call('GET', `/v1/webhooks/${e.id}/deliveries`)).json<{ items: { status: string }[] }>().items.every((d) => d.status === 'delivered'));
    const res = await call('POST', `/v1/webhooks/${e.id}/replay`, { from, to: new Date(Date.now() + 1000).toISOString() });
    assert.equal(res.statusCode, 202, res.body);
    assert.deepEqual(res.json(), { replayed: 2, truncated: false });
    await until(() => mine().length === 4);
    const [a, b, c, d] = mine();
    assert.deepEqual([c!.body, d!.body].sort(), [a!.body, b!.body].sort(), 'the same bytes');
    assert.deepEqual([c!.headers['webhook-id'], d!.headers['webhook-id']].sort(), [a!.headers['webhook-id'], b!.headers['webhook-id']].sort(), 'the same ids');
    const bad = await call('POST', `/v1/webhooks/${e.id}/replay`, { from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' });
    assert.equal(bad.statusCode, 400);
    assert.equal((await call('POST', `/v1/webhooks/${e.id}/replay`, { from, to: new Date(Date.now() + 1000).toISOString() }, otherKey)).statusCode, 404);
  });

  it('shows dead letters of every tenant on the admin listener, behind the admin token', async () => {
    const gone = await startReceiver((_req, res) => res.writeHead(410).end());
    try {
      const e = (await call('POST', '/v1/webhooks', { url: `${gone.url}/gone`, eventTypes: ['invoice.issued'] }, otherKey)).json<{ id: string }>();
      assert.equal((await call('POST', `/v1/webhooks/${e.id}/test`, undefined, otherKey)).statusCode, 202);
      const admin = (headers: Record<string, string>) => t.servers.get('admin')!.inject({ method: 'GET', url: '/admin/v1/dead-letters', remoteAddress: '127.0.0.1', headers });
      await until(async () => (await admin({ authorization: `Bearer ${t.adminToken}` })).json<{ items: { endpointId: string }[] }>().items.some((d) => d.endpointId === e.id));
      const items = (await admin({ authorization: `Bearer ${t.adminToken}` })).json<{ items: { endpointId: string; tenantId: string; lastStatusCode: number }[] }>().items;
      const mine = items.find((d) => d.endpointId === e.id)!;
      assert.equal(mine.lastStatusCode, 410);
      assert.notEqual(mine.tenantId, t.tenantId);
      assert.equal((await admin({})).statusCode, 401);
    } finally {
      await gone.close();
    }
  });
});
