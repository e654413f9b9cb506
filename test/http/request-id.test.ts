// One request followed from the access log to the audit log and the tenant's events: the request's id (a caller's
// acceptable X-Request-Id, else one of ours, answered in the header) is stored on its audit entries and in the envelope
// of its tenant's events, delivered in the signed webhook body and on the live stream, and searchable by
// `GET /admin/v1/audit?requestId=` and `fapiao audit list --request-id`. A hostile header is replaced and never stored.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { ok, startReceiver, until, type Receiver } from '../helpers/webhook-receiver.ts';
import { openSse, type SseStream } from '../helpers/sse-client.ts';
import { runCli } from '../helpers/spawn-server.ts';
import { generateAdminToken } from '../../src/platform/crypto/api-key-token.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Envelope { id: string; type: string; requestId?: string; data: Record<string, unknown> }
interface Entry { seq: number; action: string; target: string; requestId?: string; tenantId?: string }

void describe('request ids on audit entries and events', () => {
  let t: TestApp;
  let rx: Receiver;
  let secret: string;
  let ca: Buffer;
  let pushBase: string;
  const streams: SseStream[] = [];
  const confDir = mkdtempSync(join(tmpdir(), 'fapiao-reqid-conf-'));
  const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}` });
  const issue = async (headers: Record<string, string> = {}, key?: string, body = sampleInvoice()) => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { ...auth(key), ...headers }, payload: body });
    assert.equal(res.statusCode, 201, res.body);
    return { number: res.json<{ number: string }>().number, requestId: res.headers['x-request-id'] as string };
  };
  const auditOf = (number: string) => t.app.services.audit.search({ limit: 100, order: 'desc', action: 'invoice.issue' }).then((es) => es.filter((e) => e.target === number));
  const eventsOf = async (type: string, number: string): Promise<{ tenantId: string; envelope: Envelope }[]> => {
    const rows = await t.app.storage.db.selectFrom('outbox_events').select(['tenant_id', 'payload']).where('type', '=', type).execute();
    return rows.map((r) => ({ tenantId: r.tenant_id, envelope: JSON.parse(r.payload) as Envelope })).filter((e) => e.envelope.data.number === number);
  };

  before(async () => {
    rx = await startReceiver(ok);
    const conf = join(confDir, 'fapiao.config.json');
    writeFileSync(conf, JSON.stringify({ events: { pollIntervalMs: 20 } }));
    t = await createTestApp({
      FAPIAO_CONFIG: conf, FAPIAO_WEBHOOKS_ALLOW_TARGETS: '127.0.0.1', FAPIAO_WEBHOOKS_ALLOW_HTTP: 'true', FAPIAO_WEBHOOKS_IDLE_POLL_MS: '50',
    });
    const hook = await t.api.inject({ method: 'POST', url: '/v1/webhooks', headers: auth(), payload: { url: `${rx.url}/hook`, eventTypes: ['invoice.issued'] } });
    assert.equal(hook.statusCode, 201, hook.body);
    secret = hook.json<{ secret: string }>().secret;
    const push = t.servers.get('push')!;
    await push.listen({ host: '127.0.0.1', port: 0 });
    pushBase = `https://127.0.0.1:${(push.server.address() as AddressInfo).port}`;
    ca = readFileSync(join(t.dataDir, 'tls', 'ca.pem'));
  });
  afterEach(() => {
    for (const s of streams.splice(0)) s.close();
  });
  after(async () => {
    await t?.close();
    await rx?.close();
    rmSync(confDir, { recursive: true, force: true });
  });

  void it('carries a caller\'s X-Request-Id to the audit entry, the event, its signed webhook and the live stream', async () => {
    const stream = await openSse(`${pushBase}/v1/events`, { ca, headers: auth() });
    streams.push(stream);
    assert.equal(stream.status, 200);
    for (let i = 0; i < 200 && t.app.services.events.count() === 0; i++) await new Promise((r) => setTimeout(r, 10));

    const { number, requestId } = await issue({ 'x-request-id': 'abc-123' });
    assert.equal(requestId, 'abc-123');

    const entries = await auditOf(number);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.requestId, 'abc-123');

    const [issued, ...more] = await eventsOf('invoice.issued', number);
    assert.equal(more.length, 0);
    assert.equal(issued!.envelope.requestId, 'abc-123', 'in the envelope');
    assert.equal(issued!.envelope.data.requestId, undefined, 'not in the business data');

    // The webhook body is the stored envelope, signed as it is: the request id is covered by the signature.
    await until(() => rx.received.some((r) => r.headers['webhook-id'] === issued!.envelope.id));
    const delivery = rx.received.find((r) => r.headers['webhook-id'] === issued!.envelope.id)!;
    const verified = new Webhook(secret.slice('whsec_'.length)).verify(delivery.body, {
      'webhook-id': String(delivery.headers['webhook-id']), 'webhook-timestamp': String(delivery.headers['webhook-timestamp']),
      'webhook-signature': String(delivery.headers['webhook-signature']),
    }) as Envelope;
    assert.equal(verified.requestId, 'abc-123');

    const [message] = await stream.waitFor(1);
    assert.equal(message!.event, 'invoice.issued');
    const data = JSON.parse(message!.data) as { number: string; requestId?: string };
    assert.deepEqual([data.number, data.requestId], [number, 'abc-123']);

    // Searchable by the operator.
    const admin = await t.servers.get('admin')!.inject({ method: 'GET', url: '/admin/v1/audit?requestId=abc-123', headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(admin.statusCode, 200, admin.body);
    assert.deepEqual(admin.json<{ items: Entry[] }>().items.map((e) => [e.action, e.target, e.requestId]), [['invoice.issue', number, 'abc-123']]);
    const bad = await t.servers.get('admin')!.inject({ method: 'GET', url: '/admin/v1/audit?requestId=a%20b', headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(bad.statusCode, 400, bad.body);
  });

  void it('stores the generated id the response header shows when the request has none', async () => {
    const { number, requestId } = await issue();
    assert.match(requestId, UUID);
    assert.equal((await auditOf(number))[0]!.requestId, requestId);
    assert.equal((await eventsOf('invoice.issued', number))[0]!.envelope.requestId, requestId);
  });

  void it('puts the request id on other audited changes and the tenant\'s own events only', async () => {
    const res = await t.api.inject({ method: 'PATCH', url: '/v1/document-settings', headers: { ...auth(), 'x-request-id': 'erp:settings/7' }, payload: { remarks: { buyerDetails: true } } });
    assert.ok(res.statusCode < 300, res.body);
    const entries = await t.app.services.audit.search({ limit: 10, requestId: 'erp:settings/7' });
    assert.deepEqual(entries.map((e) => e.action), ['document-settings.update']);

    // The buyer tenant's invoice.received names no request: the request was the seller's.
    const buyer = await t.app.services.tenants.create(OTHER_SELLER, undefined, ['invoices:issue', 'invoices:read']);
    const { number } = await issue({ 'x-request-id': 'seller-req-1' }, undefined, sampleInvoice({ buyer: { name: OTHER_SELLER.name, taxId: OTHER_SELLER.taxId } }));
    const received = await eventsOf('invoice.received', number);
    assert.equal(received.length, 1);
    assert.equal(received[0]!.tenantId, buyer.tenant.id);
    assert.equal(received[0]!.envelope.requestId, undefined);
    assert.equal((await eventsOf('invoice.issued', number))[0]!.envelope.requestId, 'seller-req-1');
  });

  void it('names the submitting request on a batch\'s entries and events, issued later by the job', async () => {
    const items = [sampleInvoice({ externalId: 'rq-1' }), sampleInvoice({ externalId: 'rq-2' })];
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoice-batches', headers: { ...auth(), 'content-type': 'application/json', 'x-request-id': 'batch-req-9' }, payload: JSON.stringify(items) });
    assert.equal(res.statusCode, 202, res.body);
    const id = res.json<{ id: string }>().id;
    await until(async () => (await t.api.inject({ method: 'GET', url: `/v1/invoice-batches/${id}`, headers: auth() })).json<{ status: string }>().status === 'completed', 50);
    const entries = await t.app.services.audit.search({ limit: 20, requestId: 'batch-req-9' });
    assert.deepEqual(entries.map((e) => e.action).sort(), ['invoice-batch.complete', 'invoice-batch.submit', 'invoice.issue', 'invoice.issue'].sort());
    const rows = await t.app.storage.db.selectFrom('outbox_events').select(['type', 'payload']).execute();
    const named = rows.filter((r) => (JSON.parse(r.payload) as Envelope).requestId === 'batch-req-9').map((r) => r.type).sort();
    assert.deepEqual(named, ['invoice-batch.accepted', 'invoice-batch.completed', 'invoice.issued', 'invoice.issued']);
  });

  void it('replaces a hostile or secret-bearing X-Request-Id by its own id and never stores it', async () => {
    const hostile = [
      'abc\r\nx-injected: 1', 'abc\ninjected log line', 'x'.repeat(10 * 1024), '请求-123', 'abc\u202edef', 'a b', '',
      'buyer@example.com', t.apiKey, `erp-${t.apiKey}`, generateAdminToken(), secret, '"quoted"', 'back\\slash', '<script>',
    ];
    for (const bad of hostile) {
      const { number, requestId } = await issue({ 'x-request-id': bad });
      assert.match(requestId, UUID, `${JSON.stringify(bad.slice(0, 40))} is replaced`);
      assert.equal((await auditOf(number))[0]!.requestId, requestId);
    }
    const audit = JSON.stringify(await t.app.storage.db.selectFrom('audit_events').selectAll().execute());
    const outbox = JSON.stringify(await t.app.storage.db.selectFrom('outbox_events').selectAll().execute());
    for (const bad of hostile.filter((b) => b.length >= 3)) {
      for (const stored of [audit, outbox]) assert.ok(!stored.includes(JSON.stringify(bad).slice(1, -1)), `${JSON.stringify(bad.slice(0, 40))} is not stored`);
    }
  });

  void it('lists the entries of one request with fapiao audit list --request-id, and refuses a malformed id', async () => {
    const { number } = await issue({ 'x-request-id': 'cli-req-5' });
    const env = { FAPIAO_DATA_DIR: t.dataDir };
    const list = await runCli(['audit', 'list', '--request-id', 'cli-req-5'], env);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, list.stdout);
    assert.match(lines[0]!, new RegExp(`invoice\\.issue  ${number}  .*  request cli-req-5$`));
    const json = await runCli(['audit', 'list', '--request-id', 'cli-req-5', '--json'], env);
    assert.equal((JSON.parse(json.stdout) as Entry).requestId, 'cli-req-5');
    const bad = await runCli(['audit', 'list', '--request-id', 'a b'], env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--request-id/);
    const verify = await runCli(['audit', 'verify'], env);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /^ok: \d+ entries/);
  });
});
