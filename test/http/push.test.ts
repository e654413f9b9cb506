// The push listener: GET /v1/events streams the tenant's invoice events (SSE) from the transactional outbox, over a
// real TLS listener on 127.0.0.1.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { openSse, type SseStream } from '../helpers/sse-client.ts';

const PER_TENANT = 3;

describe('push listener: live invoice events', () => {
  let t: TestApp;
  let push: FastifyInstance;
  let base: string;
  let ca: Buffer;
  let otherKey: string;
  let issueOnlyKey: string;
  const confDir = mkdtempSync(join(tmpdir(), 'fapiao-push-conf-'));
  const streams: SseStream[] = [];

  const connect = async (key: string, headers: Record<string, string> = {}, query = '') => {
    const s = await openSse(`${base}/v1/events${query}`, { ca, headers: { authorization: `Bearer ${key}`, ...headers } });
    streams.push(s);
    return s;
  };
  const issue = async (key: string, body = sampleInvoice()) => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${key}` }, payload: body });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ number: string; totals: { amount: string; tax: string; total: string } }>();
  };
  /** Waits (bounded) until the service counts `n` open streams. */
  const streamsOpen = async (n: number, tenantId?: string) => {
    for (let i = 0; i < 200 && t.app.services.events.count(tenantId) !== n; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(t.app.services.events.count(tenantId), n);
  };
  const closeAll = async () => {
    for (const s of streams.splice(0)) s.close();
    await streamsOpen(0);
  };

  before(async () => {
    const conf = join(confDir, 'fapiao.config.json');
    writeFileSync(conf, JSON.stringify({ events: { pollIntervalMs: 20, maxStreamsPerTenant: PER_TENANT, heartbeatSec: 1 } }));
    t = await createTestApp({ FAPIAO_CONFIG: conf });
    push = t.servers.get('push')!;
    await push.listen({ host: '127.0.0.1', port: 0 });
    base = `https://127.0.0.1:${(push.server.address() as AddressInfo).port}`;
    ca = readFileSync(join(t.dataDir, 'tls', 'ca.pem'));
    otherKey = (await t.app.services.tenants.create(OTHER_SELLER, undefined, ['invoices:issue', 'invoices:read'])).apiKey;
    issueOnlyKey = (await t.app.services.tenants.createApiKey(t.tenantId, { scopes: ['invoices:issue'] })).secret;
  });
  // Also after a failed test, so one test's streams never count against the next one's limits.
  afterEach(closeAll);
  after(async () => {
    await t.close();
    rmSync(confDir, { recursive: true, force: true });
  });

  it('streams the tenant\'s new invoices, and only them, without buyer personal data', async () => {
    const mine = await connect(t.apiKey);
    const theirs = await connect(otherKey);
    assert.equal(mine.status, 200);
    assert.match(String(mine.headers['content-type']), /^text\/event-stream/);
    assert.equal(mine.headers['strict-transport-security'], 'max-age=63072000; includeSubDomains');
    await streamsOpen(2);
    const scraped = await t.servers.get('metrics')!.inject({ method: 'GET', url: '/metrics' });
    assert.match(scraped.body, /^fapiao_event_streams 2$/m, 'the open streams are a gauge on /metrics');
    const issued = await issue(t.apiKey, sampleInvoice({
      buyer: { name: '王小明', taxId: '11010519491231002X', phone: '13812345678', email: 'wang@example.com', address: '北京市朝阳区某街1号', bankAccount: '6222021234567891234' },
    }));
    const [event] = await mine.waitFor(1);
    assert.equal(event!.event, 'invoice.issued');
    assert.match(event!.id ?? '', /^[1-9]\d*$/);
    const data = JSON.parse(event!.data);
    assert.deepEqual(Object.keys(data).sort(), ['issuedAt', 'kind', 'number', 'requestId', 'status', 'totals', 'type']);
    assert.match(data.requestId, /^[A-Za-z0-9._~:/+=-]{1,128}$/, 'the id of the request that issued it (docs/events.md)');
    assert.equal(data.number, issued.number);
    assert.deepEqual(data.totals, { amount: issued.totals.amount, tax: issued.totals.tax, total: issued.totals.total });
    assert.equal(data.status, 'normal');
    for (const secret of ['13812345678', '11010519491231002X', 'wang@example.com', '6222021234567891234', '朝阳区', '王小明']) {
      assert.ok(!event!.data.includes(secret), `no ${secret} in the stream`);
    }
    // The other tenant's stream gets its own invoice next, never the first tenant's.
    const their = await issue(otherKey);
    const [theirEvent] = await theirs.waitFor(1);
    assert.equal(JSON.parse(theirEvent!.data).number, their.number);
    assert.ok(Number(theirEvent!.id) > Number(event!.id));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(theirs.messages.length, 1);
    assert.equal(mine.messages.length, 1);
  });

  it('resumes after Last-Event-ID: missed events exactly once, in order, then live ones', async () => {
    const first = await connect(t.apiKey);
    await streamsOpen(1);
    await issue(t.apiKey);
    const [seen] = await first.waitFor(1);
    first.close();
    await streamsOpen(0);
    const missed = [await issue(t.apiKey), await issue(otherKey), await issue(t.apiKey)];
    const resumed = await connect(t.apiKey, { 'last-event-id': seen!.id! });
    const replayed = await resumed.waitFor(2);
    assert.deepEqual(replayed.map((m) => (JSON.parse(m.data) as { number: string }).number), [missed[0]!.number, missed[2]!.number]);
    assert.ok(Number(replayed[0]!.id) > Number(seen!.id) && Number(replayed[1]!.id) > Number(replayed[0]!.id));
    const live = await issue(t.apiKey);
    const all = await resumed.waitFor(3);
    assert.equal(JSON.parse(all[2]!.data).number, live.number);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(resumed.messages.length, 3, 'nothing twice');
    // ?after= does the same, and the header wins over it (EventSource reconnects to the same URL with the header).
    const byQuery = await connect(t.apiKey, {}, `?after=${seen!.id}`);
    assert.deepEqual((await byQuery.waitFor(3)).map((m) => m.id), all.map((m) => m.id));
    const both = await connect(t.apiKey, { 'last-event-id': all[1]!.id! }, `?after=${seen!.id}`);
    assert.deepEqual((await both.waitFor(1)).map((m) => m.id), [all[2]!.id]);
  });

  it('refuses a missing key (401), a key without invoices:read (403) and bad resume points (400)', async () => {
    const anon = await push.inject({ method: 'GET', url: '/v1/events' });
    assert.equal(anon.statusCode, 401);
    assert.match(String(anon.headers['content-type']), /^application\/problem\+json/);
    assert.equal(anon.json().code, 'UNAUTHENTICATED');
    const scoped = await push.inject({ method: 'GET', url: '/v1/events', headers: { authorization: `Bearer ${issueOnlyKey}` } });
    assert.equal(scoped.statusCode, 403);
    assert.equal(scoped.json().code, 'FORBIDDEN');
    for (const [headers, url, path] of [
      [{ 'last-event-id': 'abc' }, '/v1/events', 'headers:/last-event-id'],
      [{ 'last-event-id': '-1' }, '/v1/events', 'headers:/last-event-id'],
      [{ 'last-event-id': '99999999999999999999' }, '/v1/events', 'headers:/last-event-id'],
      [{}, '/v1/events?after=1.5', 'querystring:/after'],
      [{}, '/v1/events?after=01', 'querystring:/after'],
    ] as const) {
      const res = await push.inject({ method: 'GET', url, headers: { authorization: `Bearer ${t.apiKey}`, ...headers } });
      assert.equal(res.statusCode, 400, `${JSON.stringify(headers)} ${url}`);
      assert.equal(res.json().code, 'EVENT_ID_INVALID');
      assert.equal(res.json().errors[0].path, path);
    }
    assert.equal(t.app.services.events.count(), 0, 'a refused request holds no stream');
  });

  it('limits open streams per tenant (429) and frees places on disconnect', async () => {
    for (let i = 0; i < PER_TENANT; i++) assert.equal((await connect(t.apiKey)).status, 200);
    await streamsOpen(PER_TENANT, t.tenantId);
    const over = await connect(t.apiKey);
    assert.equal(over.status, 429);
    assert.equal(JSON.parse(over.body).code, 'EVENT_STREAM_LIMIT');
    assert.match(String(over.headers['content-type']), /^application\/problem\+json/);
    // Another tenant has its own places.
    assert.equal((await connect(otherKey)).status, 200);
    await closeAll();
    assert.equal((await connect(t.apiKey)).status, 200);
  });

  it('answers HEAD with the headers of the stream and opens none, so HEADs cannot spend the stream places', async () => {
    /** One HEAD over its own TLS connection; rejects if no answer comes within 10 s (a liveness bound, not speed). */
    const head = (key: string) => new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = https.request(`${base}/v1/events`, {
        method: 'HEAD', ca, servername: 'localhost', agent: false, timeout: 10_000, headers: { authorization: `Bearer ${key}` },
      }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('timeout', () => req.destroy(new Error('HEAD /v1/events got no answer')));
      req.on('error', reject);
      req.end();
    });
    const answers = await Promise.all(Array.from({ length: 30 }, () => head(t.apiKey)));
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.match(String(a.headers['content-type']), /^text\/event-stream/);
      assert.equal(a.headers['cache-control'], 'no-store');
      assert.equal(a.body, '');
    }
    assert.equal(t.app.services.events.count(), 0, 'no HEAD holds a stream');
    // HEAD is checked like GET: credentials, scope and resume point.
    assert.equal((await head('fp_live_nope')).status, 401);
    assert.equal((await head(issueOnlyKey)).status, 403);
    // The places are all free: a GET stream still opens.
    const s = await connect(t.apiKey);
    assert.equal(s.status, 200);
    assert.deepEqual((await s.waitForComment(5000), s.retries), [3000]);
  });

  it('sends a heartbeat comment on an idle stream', async () => {
    const s = await connect(t.apiKey);
    assert.equal(await s.waitForComment(5000), 'keep-alive');
    assert.deepEqual(s.retries, [3000]);
  });

  it('ends open streams when the listener closes, so shutdown is not held up', async () => {
    const s = await connect(t.apiKey);
    await streamsOpen(1);
    await push.close();
    await s.ended;
    await streamsOpen(0);
  });
});
