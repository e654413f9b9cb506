// Load shedding on event-loop lag (platform/http/event-loop-pressure.ts): while the lag of the last window is
// above http.maxEventLoopDelayMs, the api listener answers 503 SERVICE_UNAVAILABLE problem+json with Retry-After and
// does no work (no invoice issued), the probes and the operator listeners still answer, the shed requests are
// counted, and once the loop keeps up again requests are served. With the setting 0 nothing is ever shed. The window is
// long here so that only the test closes it (pressure.sample()), whatever the machine's load.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';

/** Blocks the event loop for `ms`, then lets its timers run once, and closes the pressure window. */
async function lag(t: TestApp, ms: number): Promise<void> {
  t.app.services.pressure.sample();
  // The monitor's first fire after a reset only starts its clock: let it fire once before the stall.
  await new Promise((r) => setTimeout(r, 25));
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy: the loop cannot run a timer
  }
  await new Promise((r) => setTimeout(r, 25));
  t.app.services.pressure.sample();
}

void describe('event-loop shedding', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ FAPIAO_MAX_EVENT_LOOP_DELAY_MS: '80', FAPIAO_EVENT_LOOP_WINDOW_MS: '60000' });
  });
  after(async () => t.close());

  void it('sheds api requests with 503 and Retry-After while the loop lags, never the probes or the admin listener', async () => {
    const auth = { authorization: `Bearer ${t.apiKey}` };
    const before = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: auth });
    assert.equal(before.statusCode, 200);

    await lag(t, 800);
    assert.ok(t.app.services.pressure.overloaded, `lag ${t.app.services.pressure.lagMs} ms`);
    const shed = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': 'shed-1' }, payload: sampleInvoice(),
    });
    assert.equal(shed.statusCode, 503, shed.body);
    assert.match(String(shed.headers['content-type']), /^application\/problem\+json/);
    assert.equal(shed.json().code, 'SERVICE_UNAVAILABLE');
    assert.match(shed.json().detail, /event-loop lag \d+ ms/);
    assert.equal(shed.headers['retry-after'], '60', 'the rest of a window');
    assert.ok(!/at .*\.ts:\d+/.test(shed.body), 'no stack trace');

    const ready = await t.servers.get('metrics')!.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200, 'the readiness probe is never shed');
    const admin = t.servers.get('admin');
    if (admin) {
      const tenants = await admin.inject({ method: 'GET', url: '/admin/v1/tenants', headers: { authorization: `Bearer ${t.adminToken}` } });
      assert.equal(tenants.statusCode, 200, 'the admin listener is never shed');
    }
    const metricsListener = t.servers.get('metrics');
    if (metricsListener) {
      const scrape = await metricsListener.inject({ method: 'GET', url: '/metrics' });
      assert.match(scrape.body, /fapiao_requests_shed_total\{reason="event_loop"\} 1\b/);
    }

    // The loop keeps up again: the next window is quiet and the same request is served (nothing was issued before).
    await new Promise((r) => setTimeout(r, 100));
    t.app.services.pressure.sample();
    assert.equal(t.app.services.pressure.overloaded, false, `lag ${t.app.services.pressure.lagMs} ms`);
    const served = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': 'shed-1' }, payload: sampleInvoice(),
    });
    assert.equal(served.statusCode, 201, served.body);
    const list = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: auth });
    assert.equal(list.json().items.length, 1, 'the shed request issued nothing');
  });
});

void describe('event-loop shedding off', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ FAPIAO_MAX_EVENT_LOOP_DELAY_MS: '0' });
  });
  after(async () => t.close());

  void it('never sheds with http.maxEventLoopDelayMs 0', async () => {
    await lag(t, 300);
    assert.equal(t.app.services.pressure.overloaded, false);
    const res = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` } });
    assert.equal(res.statusCode, 200);
  });
});
