// The webhook dispatcher as a use case (the real container on SQLite in memory, a manual clock, real receivers on
// 127.0.0.1): the documented retry schedule under a fake clock, dead letters and their redelivery, and a slow
// endpoint that does not delay another tenant's deliveries.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { JITTER, MAX_ATTEMPTS, RETRY_DELAYS_MS } from '../../src/modules/delivery/domain/retry-schedule.ts';
import type { WebhookDelivery } from '../../src/modules/delivery/storage/webhook-contract.ts';
import { draft, OTHER_SELLER, SELLER, useCases, type Kit } from './kit.ts';
import { startReceiver, until, type Receiver } from '../helpers/webhook-receiver.ts';

const ENV = { FAPIAO_WEBHOOKS_ALLOW_TARGETS: '127.0.0.1', FAPIAO_WEBHOOKS_ALLOW_HTTP: 'true', FAPIAO_WEBHOOKS_IDLE_POLL_MS: '20' };
const by = { actor: 'test' };

void describe('webhook dispatcher (use case)', () => {
  const open: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const o of open.reverse()) await o.close();
  });
  const setUp = async (env: Record<string, string> = {}) => {
    const kit = await useCases({ ...ENV, ...env });
    open.push(kit);
    return kit;
  };
  const receiver = async (respond: Receiver['respond']) => {
    const rx = await startReceiver(respond);
    open.push(rx);
    return rx;
  };
  const deliveriesOf = async (kit: Kit, tenantId: string, endpointId: string): Promise<WebhookDelivery[]> =>
    (await kit.app.services.webhooks.deliveries(tenantId, endpointId, undefined, 100)).items;

  void it('retries a failing endpoint on the documented schedule for over three days, then dead-letters, then redelivers', async () => {
    const kit = await setUp();
    let status = 500;
    const rx = await receiver((_req, res) => res.writeHead(status).end('nope'));
    const tenant = (await kit.app.services.tenants.create(SELLER)).tenant;
    const { endpoint } = await kit.app.services.webhooks.create(tenant.id, { url: `${rx.url}/fail`, eventTypes: ['invoice.issued'] }, by);
    await kit.app.services.invoices.issue(tenant, draft(), { replayStatus: 201 });
    const one = async () => (await deliveriesOf(kit, tenant.id, endpoint.id))[0];
    await until(async () => (await one())?.lastStatusCode === 500);
    const firstAt = Date.parse((await one())!.lastAttemptAt!);
    for (let n = 1; n < MAX_ATTEMPTS; n++) {
      const d = (await one())!;
      assert.equal(d.attempts, n);
      assert.equal(d.status, 'pending');
      const wait = Date.parse(d.nextAttemptAt!) - Date.parse(d.lastAttemptAt!);
      const base = RETRY_DELAYS_MS[n - 1]!;
      assert.ok(wait >= base && wait <= base * (1 + JITTER), `after attempt ${n}: waited ${wait} ms, schedule ${base} ms`);
      // Not due a millisecond early.
      kit.clock.set(new Date(Date.parse(d.nextAttemptAt!) - 1).toISOString());
      kit.app.services.dispatcher.nudge();
      await new Promise((r) => setTimeout(r, 60));
      assert.equal(rx.received.length, n);
      kit.clock.set(d.nextAttemptAt!);
      kit.app.services.dispatcher.nudge();
      await until(async () => (await one())!.attempts === n + 1 && (await one())!.nextAttemptAt !== kit.clock.now().toISOString() && (await one())!.lastAttemptAt === kit.clock.now().toISOString());
    }
    const dead = (await one())!;
    assert.equal(dead.status, 'dead');
    assert.equal(dead.attempts, MAX_ATTEMPTS);
    assert.equal(dead.nextAttemptAt, null);
    assert.equal(rx.received.length, MAX_ATTEMPTS);
    const span = Date.parse(dead.lastAttemptAt!) - firstAt;
    assert.ok(span >= 72 * 3_600_000, `attempts span ${Math.round(span / 360_000) / 10} h`);
    assert.equal(new Set(rx.received.map((r) => r.body)).size, 1, 'every attempt carries the same bytes');
    assert.equal(new Set(rx.received.map((r) => r.headers['webhook-id'])).size, 1, 'and the same webhook-id');

    status = 200;
    await kit.app.services.webhooks.redeliver(tenant.id, endpoint.id, dead.id, by);
    await until(async () => (await one())!.status === 'delivered');
    assert.equal(rx.received.at(-1)!.body, rx.received[0]!.body);
  });

  void it('a slow endpoint does not delay another tenant\'s deliveries (per-endpoint bound, measured)', async () => {
    const kit = await setUp({ FAPIAO_WEBHOOKS_RESPONSE_TIMEOUT_MS: '60000' });
    const hanging: ServerResponse[] = [];
    const slow = await receiver((_req, res) => hanging.push(res));
    const fast = await receiver((_req, res) => res.writeHead(204).end());
    const a = (await kit.app.services.tenants.create(SELLER)).tenant;
    const b = (await kit.app.services.tenants.create(OTHER_SELLER)).tenant;
    const slowEndpoint = (await kit.app.services.webhooks.create(a.id, { url: `${slow.url}/slow`, eventTypes: ['invoice.issued'] }, by)).endpoint;
    const fastEndpoint = (await kit.app.services.webhooks.create(b.id, { url: `${fast.url}/fast`, eventTypes: ['invoice.issued'] }, by)).endpoint;
    for (let i = 0; i < 12; i++) await kit.app.services.invoices.issue(a, draft(), { replayStatus: 201 });
    await until(() => hanging.length === 4);
    const started = performance.now();
    await kit.app.services.invoices.issue(b, draft(), { replayStatus: 201 });
    await until(() => fast.received.length === 1);
    const ms = performance.now() - started;
    await until(async () => (await deliveriesOf(kit, b.id, fastEndpoint.id))[0]?.status === 'delivered');
    // The slow endpoint still holds its four places; the other eight of its deliveries wait their turn.
    assert.equal(kit.app.services.dispatcher.activeCount(a.id, slowEndpoint.id), 4);
    assert.equal(hanging.length, 4);
    const pending = (await deliveriesOf(kit, a.id, slowEndpoint.id)).filter((d) => d.status === 'pending');
    assert.equal(pending.length, 12);
    process.stdout.write(`# another tenant's delivery arrived ${Math.round(ms)} ms after its issue, with 4 attempts hanging on a slow endpoint and 8 queued\n`);
    slow.respond = (_req, res) => res.writeHead(200).end();
    for (const res of hanging) res.writeHead(200).end();
    await until(async () => (await deliveriesOf(kit, a.id, slowEndpoint.id)).every((d) => d.status === 'delivered'));
    assert.equal(slow.received.length, 12);
  });
});
