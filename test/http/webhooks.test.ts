// Webhooks end to end: `/v1/webhooks` on the api listener, the dispatcher of the running app, a real receiver on
// 127.0.0.1 (allowed explicitly: the SSRF guard refuses loopback by default), and the signatures checked with the
// `standardwebhooks` package, the reference implementation of the Standard Webhooks specification.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { ok, startReceiver, until, type Receiver } from '../helpers/webhook-receiver.ts';

interface Endpoint { id: string; url: string; eventTypes: string[]; description: string; enabled: boolean; disabledReason: string | null; secret?: string }
interface Delivery { id: string; eventId: string; status: string; attempts: number; lastStatusCode: number | null; lastLatencyMs: number | null; lastResponse: string | null; lastError: string | null }

const headersOf = (h: Record<string, string | string[] | undefined>) => ({
  'webhook-id': String(h['webhook-id']), 'webhook-timestamp': String(h['webhook-timestamp']), 'webhook-signature': String(h['webhook-signature']),
});

describe('webhooks: subscriptions, signed deliveries, log and redelivery', () => {
  let t: TestApp;
  let rx: Receiver;
  let otherKey: string;
  const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}` });
  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown, key?: string) =>
    t.api.inject({ method, url, headers: auth(key), ...(payload === undefined ? {} : { payload: payload as object }) });
  const create = async (body: Record<string, unknown>, key?: string) => {
    const res = await call('POST', '/v1/webhooks', body, key);
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Endpoint>();
  };
  const issue = async (key = t.apiKey) => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(key), payload: sampleInvoice() });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ number: string }>().number;
  };
  const deliveries = async (id: string, query = '') => (await call('GET', `/v1/webhooks/${id}/deliveries${query}`)).json<{ items: Delivery[]; next?: string }>();

  before(async () => {
    rx = await startReceiver();
    t = await createTestApp({ FAPIAO_WEBHOOKS_ALLOW_TARGETS: '127.0.0.1', FAPIAO_WEBHOOKS_ALLOW_HTTP: 'true', FAPIAO_WEBHOOKS_IDLE_POLL_MS: '50' });
    otherKey = (await t.app.services.tenants.create(OTHER_SELLER)).apiKey;
  });
  after(async () => {
    await t?.close();
    await rx?.close();
  });

  it('creates an endpoint and shows its whsec_ secret once, sealed at rest', async () => {
    const e = await create({ url: `${rx.url}/a`, eventTypes: ['invoice.issued'], description: '记账系统' });
    assert.match(e.secret!, /^whsec_[A-Za-z0-9+/]{32}$/);
    assert.match(e.id, /^whe_[0-9a-f]{24}$/);
    assert.deepEqual([e.url, e.eventTypes, e.description, e.enabled, e.disabledReason], [`${rx.url}/a`, ['invoice.issued'], '记账系统', true, null]);
    const got = (await call('GET', `/v1/webhooks/${e.id}`)).json<Endpoint>();
    assert.equal(got.secret, undefined);
    assert.equal((await call('GET', '/v1/webhooks')).json<{ items: Endpoint[] }>().items.some((x) => x.id === e.id), true);
    const row = await t.app.storage.db.selectFrom('webhook_endpoints').selectAll().where('id', '=', e.id).executeTakeFirstOrThrow();
    assert.ok(!JSON.stringify(row).includes(e.secret!.slice(6)), 'the secret is not stored in the clear');
    assert.match(row.secret_sealed, /^v1\.aes-256-gcm\./);
    await call('DELETE', `/v1/webhooks/${e.id}`);
  });

  it('never shows or changes one tenant\'s endpoint to another (404)', async () => {
    const e = await create({ url: `${rx.url}/mine`, eventTypes: ['invoice.issued'] });
    for (const [method, url, body] of [
      ['GET', `/v1/webhooks/${e.id}`], ['PATCH', `/v1/webhooks/${e.id}`, { enabled: false }], ['DELETE', `/v1/webhooks/${e.id}`],
      ['POST', `/v1/webhooks/${e.id}/rotate-secret`], ['GET', `/v1/webhooks/${e.id}/deliveries`],
    ] as const) {
      const res = await call(method, url, body, otherKey);
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json<{ code: string }>().code, 'WEBHOOK_NOT_FOUND');
    }
    assert.deepEqual((await call('GET', '/v1/webhooks', undefined, otherKey)).json<{ items: Endpoint[] }>().items, []);
    assert.equal((await call('DELETE', `/v1/webhooks/${e.id}`)).statusCode, 204);
    assert.equal((await call('GET', `/v1/webhooks/${e.id}`)).statusCode, 404);
  });

  it('refuses non-https URLs and SSRF targets, unknown event types and malformed ids as problem+json', async () => {
    for (const url of ['https://10.1.2.3/hook', 'https://169.254.169.254/latest/meta-data', 'https://[::ffff:192.168.1.1]/x', 'https://100.100.100.200/', 'https://user:pw@example.com/', 'ftp://example.com/x']) {
      const res = await call('POST', '/v1/webhooks', { url, eventTypes: ['invoice.issued'] });
      assert.equal(res.statusCode, 422, url);
      assert.equal(res.json<{ code: string; errors: { path: string }[] }>().code, 'WEBHOOK_URL_REFUSED', url);
    }
    for (const body of [{ url: 'https://example.com/', eventTypes: ['invoice.deleted'] }, { url: 'https://example.com/', eventTypes: [] }, { url: 'x'.repeat(5000), eventTypes: ['invoice.issued'] }, { url: 'https://example.com/', eventTypes: ['invoice.issued'], extra: 1 }]) {
      const res = await call('POST', '/v1/webhooks', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(res.json<{ code: string }>().code, 'VALIDATION_FAILED');
    }
    for (const url of ['/v1/webhooks/whe_nope', '/v1/webhooks/whe_0123456789ABCDEF01234567', `/v1/webhooks/${'é'.repeat(30)}`, '/v1/webhooks/whe_0123456789abcdef01234567/deliveries?cursor=%F0%9F%92%A9', '/v1/webhooks/whe_0123456789abcdef01234567/deliveries?limit=1e99']) {
      const res = await call('GET', url);
      assert.ok([400, 404].includes(res.statusCode), `${url}: ${res.statusCode}`);
      assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    }
  });

  it('delivers each issued invoice\'s event, signed per Standard Webhooks, with the outbox bytes', async () => {
    const e = await create({ url: `${rx.url}/signed`, eventTypes: ['invoice.issued'] });
    const number = await issue();
    await until(() => rx.received.some((r) => r.path === '/signed'));
    const got = rx.received.find((r) => r.path === '/signed')!;
    const payload = new Webhook(e.secret!).verify(got.body, headersOf(got.headers)) as { id: string; type: string; data: { number: string } };
    assert.equal(payload.type, 'invoice.issued');
    assert.equal(payload.data.number, number);
    assert.equal(got.headers['webhook-id'], payload.id);
    const row = await t.app.storage.db.selectFrom('outbox_events').select(['payload', 'event_id']).where('event_id', '=', payload.id).executeTakeFirstOrThrow();
    assert.equal(got.body, row.payload, 'the body is the stored event, byte for byte');
    assert.equal(got.headers['content-type'], 'application/json');
    // The reference implementation refuses a wrong secret, a changed body and a stale or future timestamp.
    assert.throws(() => new Webhook('whsec_' + Buffer.alloc(24, 7).toString('base64')).verify(got.body, headersOf(got.headers)), WebhookVerificationError);
    assert.throws(() => new Webhook(e.secret!).verify(got.body.replace(number, '0'.repeat(20)), headersOf(got.headers)), WebhookVerificationError);
    for (const skew of [-600, 600]) {
      const h = { ...headersOf(got.headers), 'webhook-timestamp': String(Number(got.headers['webhook-timestamp']) + skew) };
      assert.throws(() => new Webhook(e.secret!).verify(got.body, h), WebhookVerificationError);
    }
    await until(async () => (await deliveries(e.id)).items[0]?.status === 'delivered');
    const [d] = (await deliveries(e.id)).items;
    assert.equal(d!.eventId, payload.id);
    assert.equal(d!.attempts, 1);
    assert.equal(d!.lastStatusCode, 200);
    assert.equal(d!.lastResponse, 'thanks');
    assert.ok(d!.lastLatencyMs !== null && d!.lastLatencyMs >= 0);
    await call('DELETE', `/v1/webhooks/${e.id}`);
  });

  it('pages the delivery log with a cursor and redelivers the same bytes under the same webhook-id', async () => {
    const e = await create({ url: `${rx.url}/log`, eventTypes: ['invoice.issued'] });
    for (let i = 0; i < 3; i++) await issue();
    await until(async () => (await deliveries(e.id)).items.filter((d) => d.status === 'delivered').length === 3);
    const first = await deliveries(e.id, '?limit=2');
    assert.equal(first.items.length, 2);
    const second = await deliveries(e.id, `?limit=2&cursor=${first.next!}`);
    assert.equal(second.items.length, 1);
    assert.equal(second.next, undefined);
    assert.equal(new Set([...first.items, ...second.items].map((d) => d.id)).size, 3);
    const bad = await call('GET', `/v1/webhooks/${e.id}/deliveries?cursor=bm9wZQ`);
    assert.deepEqual([bad.statusCode, bad.json<{ code: string }>().code], [400, 'CURSOR_INVALID']);

    const target = second.items[0]!;
    const before = rx.received.filter((r) => r.headers['webhook-id'] === target.eventId);
    assert.equal(before.length, 1);
    const res = await call('POST', `/v1/webhooks/${e.id}/deliveries/${target.id}/redeliver`);
    assert.equal(res.statusCode, 202, res.body);
    await until(() => rx.received.filter((r) => r.headers['webhook-id'] === target.eventId).length === 2);
    const [a, b] = rx.received.filter((r) => r.headers['webhook-id'] === target.eventId);
    assert.equal(b!.body, a!.body);
    const missing = await call('POST', `/v1/webhooks/${e.id}/deliveries/whd_0123456789abcdef01234567/redeliver`);
    assert.deepEqual([missing.statusCode, missing.json<{ code: string }>().code], [404, 'WEBHOOK_DELIVERY_NOT_FOUND']);
    const foreign = await t.api.inject({ method: 'POST', url: `/v1/webhooks/${e.id}/deliveries/${target.id}/retry`, headers: auth(otherKey) });
    assert.equal(foreign.statusCode, 404);
    await call('DELETE', `/v1/webhooks/${e.id}`);
  });

  it('signs with the old and the new secret for a day after a rotation', async () => {
    const e = await create({ url: `${rx.url}/rotate`, eventTypes: ['invoice.issued'] });
    const res = await call('POST', `/v1/webhooks/${e.id}/rotate-secret`);
    assert.equal(res.statusCode, 200);
    const { secret, previousSecretExpiresAt } = res.json<{ secret: string; previousSecretExpiresAt: string }>();
    assert.notEqual(secret, e.secret);
    const hours = (Date.parse(previousSecretExpiresAt) - Date.now()) / 3_600_000;
    assert.ok(hours > 23.9 && hours <= 24, String(hours));
    await issue();
    await until(() => rx.received.some((r) => r.path === '/rotate'));
    const got = rx.received.find((r) => r.path === '/rotate')!;
    assert.equal(String(got.headers['webhook-signature']).split(' ').length, 2);
    for (const s of [secret, e.secret!]) new Webhook(s).verify(got.body, headersOf(got.headers));
    await call('DELETE', `/v1/webhooks/${e.id}`);
  });

  it('disables an endpoint that answers 410 Gone, and does not follow redirects', async () => {
    const gone = await create({ url: `${rx.url}/gone`, eventTypes: ['invoice.issued'] });
    const moved = await create({ url: `${rx.url}/moved`, eventTypes: ['invoice.issued'] });
    rx.respond = (req, res) => {
      if (req.path === '/gone') res.writeHead(410).end();
      else if (req.path === '/moved') res.writeHead(302, { location: `${rx.url}/elsewhere` }).end();
      else ok(req, res);
    };
    await issue();
    await until(async () => (await call('GET', `/v1/webhooks/${gone.id}`)).json<Endpoint>().enabled === false);
    assert.equal((await call('GET', `/v1/webhooks/${gone.id}`)).json<Endpoint>().disabledReason, 'gone');
    assert.equal((await deliveries(gone.id)).items[0]!.status, 'dead');
    await until(async () => (await deliveries(moved.id)).items[0]?.lastStatusCode === 302);
    const d = (await deliveries(moved.id)).items[0]!;
    assert.equal(d.status, 'pending', 'a redirect is a failed attempt, retried later');
    assert.equal(rx.received.some((r) => r.path === '/elsewhere'), false);
    // Enabled again by hand, it receives the next events.
    const patched = await call('PATCH', `/v1/webhooks/${gone.id}`, { enabled: true, description: 'back' });
    assert.deepEqual([patched.json<Endpoint>().enabled, patched.json<Endpoint>().disabledReason, patched.json<Endpoint>().description], [true, null, 'back']);
    rx.respond = ok;
    for (const e of [gone, moved]) await call('DELETE', `/v1/webhooks/${e.id}`);
  });
});
