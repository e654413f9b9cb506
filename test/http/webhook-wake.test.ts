// The dispatcher wakes on commit, whatever wrote the event: a received-invoice change, a red-letter filing and its
// revocation (moves that issue nothing, so the issue writer plays no part) are delivered at once, not at the idle poll.
// The poll is set to its maximum (60 s), so a delivery that waits for it cannot pass.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { startReceiver, until, type Receiver } from '../helpers/webhook-receiver.ts';

const BUYER = { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', regionCode: '33' };
const IDLE_POLL_MS = 60_000;

describe('the webhook dispatcher wakes after every commit that writes an event', () => {
  let t: TestApp;
  let rx: Receiver;
  let buyerKey: string;
  const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}` });
  const call = (method: 'POST' | 'PATCH', url: string, payload?: unknown, key?: string) =>
    t.api.inject({ method, url, headers: auth(key), ...(payload === undefined ? {} : { payload: payload as object }) });
  const typeOf = (body: string) => (JSON.parse(body) as { type: string }).type;
  /** Waits for a delivery of `type` to `path`, failing if it takes half the idle poll: only a wake can be that quick. */
  const delivered = async (path: string, type: string) => {
    const started = Date.now();
    const deadline = started + IDLE_POLL_MS / 2;
    await until(() => rx.received.some((r) => r.path === path && typeOf(r.body) === type) || Date.now() > deadline);
    assert.ok(rx.received.some((r) => r.path === path && typeOf(r.body) === type), `${type} was not delivered within ${IDLE_POLL_MS / 2} ms (the idle poll is ${IDLE_POLL_MS} ms)`);
    return Date.now() - started;
  };

  before(async () => {
    rx = await startReceiver();
    t = await createTestApp({ FAPIAO_WEBHOOKS_ALLOW_TARGETS: '127.0.0.1', FAPIAO_WEBHOOKS_ALLOW_HTTP: 'true', FAPIAO_WEBHOOKS_IDLE_POLL_MS: String(IDLE_POLL_MS),
      // Not what is tested here: a loaded machine must not shed the requests that make the events.
      FAPIAO_MAX_EVENT_LOOP_DELAY_MS: '0' });
    buyerKey = (await t.app.services.tenants.create(BUYER)).apiKey;
  });
  after(async () => {
    await t?.close();
    await rx?.close();
  });

  it('delivers a received-invoice change, a red-letter filing and its revocation well before the idle poll', async () => {
    const seller = await call('POST', '/v1/webhooks', { url: `${rx.url}/seller`, eventTypes: ['red-letter.filed', 'red-letter.revoked'] });
    assert.equal(seller.statusCode, 201, seller.body);
    const buyer = await call('POST', '/v1/webhooks', { url: `${rx.url}/buyer`, eventTypes: ['received-invoice.booked', 'red-letter.revoked'] }, buyerKey);
    assert.equal(buyer.statusCode, 201, buyer.body);
    const issued = await call('POST', '/v1/invoices', sampleInvoice());
    assert.equal(issued.statusCode, 201, issued.body);
    const number = issued.json<{ number: string }>().number;

    const booked = await call('PATCH', `/v1/received-invoices/${number}`, { booked: true }, buyerKey);
    assert.equal(booked.statusCode, 200, booked.body);
    await delivered('/buyer', 'received-invoice.booked');

    // Booked by the buyer, the seller's form waits for the buyer's confirmation: filing issues nothing.
    const filed = await call('POST', '/v1/red-letter-requests', { invoiceNumber: number, reason: '02', lines: [{ line: 1, amount: '10.00' }] });
    assert.equal(filed.statusCode, 201, filed.body);
    const form = filed.json<{ id: string; state: string }>();
    assert.equal(form.state, '02');
    await delivered('/seller', 'red-letter.filed');

    const revoked = await call('POST', `/v1/red-letter-requests/${form.id}/revoke`);
    assert.equal(revoked.statusCode, 200, revoked.body);
    const took = await delivered('/seller', 'red-letter.revoked');
    await delivered('/buyer', 'red-letter.revoked');
    assert.ok(took < IDLE_POLL_MS / 2, `took ${took} ms`);
  });
});
