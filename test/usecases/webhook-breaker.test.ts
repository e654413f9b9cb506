// The circuit breaker and per-endpoint bound of the webhook dispatcher (the real container on SQLite in memory, a
// manual clock, real receivers on 127.0.0.1): an endpoint that hangs until the response timeout never delays another
// tenant's deliveries, and after a run of failures it is left alone for the cool-down, then probed once.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { WebhookDelivery } from '../../src/modules/delivery/storage/webhook-contract.ts';
import { draft, OTHER_SELLER, SELLER, useCases, type Kit } from './kit.ts';
import { startReceiver, until, type Receiver } from '../helpers/webhook-receiver.ts';

const by = { actor: 'test' };
const COOLDOWN_MS = 60_000;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

void describe('webhook circuit breaker (use case)', () => {
  const open: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const o of open.reverse()) await o.close();
  });
  const receiver = async (respond: Receiver['respond']) => {
    const rx = await startReceiver(respond);
    open.push(rx);
    return rx;
  };
  const deliveriesOf = async (kit: Kit, tenantId: string, endpointId: string): Promise<WebhookDelivery[]> =>
    (await kit.app.services.webhooks.deliveries(tenantId, endpointId, undefined, 100)).items;

  void it('a hanging endpoint does not delay another tenant, opens its breaker, and is probed once per cool-down', async () => {
    const kit = await useCases({
      FAPIAO_WEBHOOKS_ALLOW_TARGETS: '127.0.0.1', FAPIAO_WEBHOOKS_ALLOW_HTTP: 'true', FAPIAO_WEBHOOKS_IDLE_POLL_MS: '20',
      FAPIAO_WEBHOOKS_RESPONSE_TIMEOUT_MS: '400', FAPIAO_WEBHOOKS_BREAKER_THRESHOLD: '3', FAPIAO_WEBHOOKS_BREAKER_COOLDOWN_MS: String(COOLDOWN_MS),
    });
    open.push(kit);
    const hanging: ServerResponse[] = [];
    const slow = await receiver((_req, res) => hanging.push(res));
    open.push({ close: async () => { for (const r of hanging) r.destroy(); } });
    const fast = await receiver((_req, res) => res.writeHead(204).end());
    const a = (await kit.app.services.tenants.create(SELLER)).tenant;
    const b = (await kit.app.services.tenants.create(OTHER_SELLER)).tenant;
    const ea = (await kit.app.services.webhooks.create(a.id, { url: `${slow.url}/hang`, eventTypes: ['invoice.issued'] }, by)).endpoint;
    const eb = (await kit.app.services.webhooks.create(b.id, { url: `${fast.url}/ok`, eventTypes: ['invoice.issued'] }, by)).endpoint;
    const dispatcher = kit.app.services.dispatcher;

    for (let i = 0; i < 12; i++) await kit.app.services.invoices.issue(a, draft(), { replayStatus: 201 });
    await until(() => slow.received.length === 4);
    for (let i = 0; i < 12; i++) await kit.app.services.invoices.issue(b, draft(), { replayStatus: 201 });
    await until(async () => (await deliveriesOf(kit, b.id, eb.id)).filter((d) => d.status === 'delivered').length === 12);
    // Every one of B's deliveries is done while A's are all still pending: A never held more than its four places.
    const aNow = await deliveriesOf(kit, a.id, ea.id);
    assert.equal(aNow.length, 12);
    assert.ok(aNow.every((d) => d.status === 'pending'));
    assert.ok(dispatcher.activeCount(a.id, ea.id) <= 4);
    assert.equal(fast.received.length, 12);

    // The four attempts time out; three consecutive failures open A's breaker: nothing more goes to A, though eight
    // of its deliveries are due (the clock stands still, so no cool-down passes).
    // (An attempt that started while the first ones were timing out one by one may still run when it opens.)
    await until(() => dispatcher.breakerState(a.id, ea.id) === 'open' && dispatcher.activeCount(a.id, ea.id) === 0);
    const atOpen = slow.received.length;
    assert.ok(atOpen >= 4 && atOpen < 12, `attempts before the breaker opened: ${atOpen}`);
    await pause(600);
    assert.equal(slow.received.length, atOpen, 'nothing is attempted while the breaker is open');
    const stillDue = (await deliveriesOf(kit, a.id, ea.id)).filter((d) => d.attempts === 0);
    assert.equal(stillDue.length, 12 - atOpen, 'deliveries held by the open breaker keep all their attempts');

    // After the cool-down: half-open, exactly one probe; it times out too, and the breaker opens again.
    kit.clock.advance(COOLDOWN_MS);
    assert.equal(dispatcher.breakerState(a.id, ea.id), 'half-open');
    dispatcher.nudge();
    await until(() => slow.received.length === atOpen + 1);
    await until(() => dispatcher.breakerState(a.id, ea.id) === 'open');
    await pause(600);
    assert.equal(slow.received.length, atOpen + 1, 'one probe per cool-down');

    // The endpoint recovers: the next probe succeeds, the breaker closes and the backlog flows.
    slow.respond = (_req, res) => res.writeHead(200).end();
    // (Past the retry waits of the failed attempts too: 10 s, then 1 min.)
    kit.clock.advance(3 * COOLDOWN_MS);
    dispatcher.nudge();
    await until(async () => (await deliveriesOf(kit, a.id, ea.id)).every((d) => d.status === 'delivered'));
    assert.equal(dispatcher.breakerState(a.id, ea.id), 'closed');
    assert.equal(slow.received.length, atOpen + 1 + 12);
  });
});
