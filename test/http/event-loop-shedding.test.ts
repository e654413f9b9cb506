// Load shedding on event-loop lag (platform/http/event-loop-pressure.ts): while the lag of the last windows was
// above http.maxEventLoopDelayMs, the api listener answers a share of new requests 503 SERVICE_UNAVAILABLE problem+json with Retry-After and
// does no work (no invoice issued), the probes and the operator listeners still answer, the shed requests are
// counted, and once the loop keeps up again requests are served. With the setting 0 nothing is ever shed. The window is
// long here so that only the test closes it (pressure.sample()), whatever the machine's load.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { pino } from 'pino';
import { EventLoopPressure } from '../../src/platform/http/event-loop-pressure.ts';
import { ShedReport } from '../../src/platform/http/shed-report.ts';

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
  const logged: { msg?: string; message?: string; 'http.response.status_code'?: number; 'fapiao.shed.reason'?: string }[] = [];
  before(async () => {
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    t = await createTestApp({ FAPIAO_MAX_EVENT_LOOP_DELAY_MS: '80', FAPIAO_EVENT_LOOP_WINDOW_MS: '60000' }, { logger });
  });
  after(async () => t.close());

  void it('sheds api requests with 503 and Retry-After while the loop lags, never the probes or the admin listener', async () => {
    const auth = { authorization: `Bearer ${t.apiKey}` };
    const before = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: auth });
    assert.equal(before.statusCode, 200);

    // Lagging windows until every new request is shed (each adds half the relative excess of its lag to the share).
    for (let i = 0; i < 6 && t.app.services.pressure.shedShare < 1; i++) await lag(t, 800);
    assert.equal(t.app.services.pressure.shedShare, 1, `lag ${t.app.services.pressure.lagMs} ms`);
    const shed = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': 'shed-1' }, payload: sampleInvoice(),
    });
    assert.equal(shed.statusCode, 503, shed.body);
    assert.match(String(shed.headers['content-type']), /^application\/problem\+json/);
    assert.equal(shed.json().code, 'SERVICE_UNAVAILABLE');
    assert.match(shed.json().detail, /event-loop lag \d+ ms/);
    assert.equal(shed.headers['retry-after'], '60', 'the rest of a window');
    assert.ok(!/at .*\.ts:\d+/.test(shed.body), 'no stack trace');
    // Counted and reported once, not logged per request: under overload a line per refusal costs more than the refusal.
    for (let i = 2; i <= 5; i++) {
      const again = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: auth });
      assert.equal(again.statusCode, 503);
    }
    const text = (l: (typeof logged)[number]) => l.msg ?? l.message;
    assert.deepEqual(logged.filter((l) => l['http.response.status_code'] === 503 || text(l) === 'request failed'), [], 'no access-log or error line per shed request');
    assert.deepEqual(logged.filter((l) => text(l)?.startsWith('overloaded')).map((l) => l['fapiao.shed.reason']), ['event_loop'], 'one warning when shedding begins');

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
      assert.match(scrape.body, /fapiao_requests_shed_total\{reason="event_loop"\} 5\b/);
      assert.match(scrape.body, /fapiao_load_shed_share 1\b/);
    }

    // The loop keeps up again: the share shed falls with each quiet window (by half the relative shortfall of the lag,
    // so two windows from all to none), then the same request is served (nothing was issued before).
    const shares: number[] = [];
    for (let i = 0; i < 4 && t.app.services.pressure.overloaded; i++) {
      await new Promise((r) => setTimeout(r, 100));
      t.app.services.pressure.sample();
      shares.push(t.app.services.pressure.shedShare);
    }
    assert.equal(t.app.services.pressure.overloaded, false, `lag ${t.app.services.pressure.lagMs} ms, shares ${shares.join(', ')}`);
    assert.ok(shares.length >= 2, `the share falls gradually: ${shares.join(', ')}`);
    const served = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': 'shed-1' }, payload: sampleInvoice(),
    });
    assert.equal(served.statusCode, 201, served.body);
    const list = await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: auth });
    assert.equal(list.json().items.length, 1, 'the shed request issued nothing');
  });
});

void describe('the share shed follows the lag', () => {
  /** A monitor whose windows are closed by hand with a given lag (the histogram's own, replaced). */
  function pressureAt(maxDelayMs: number, draws: number[]) {
    const p = new EventLoopPressure({ maxDelayMs, sampleMs: 60_000, random: () => draws.shift() ?? 0.5 });
    const withLag = (lagMs: number) => {
      (p as unknown as { histogram: { count: number; mean: number; reset(): void } }).histogram = { count: 1, mean: (lagMs + 10) * 1e6, reset() {} };
      p.sample();
      return p.shedShare;
    };
    return { p, withLag };
  }

  void it('rises by half the relative excess of the lag, falls the same way, and sheds that share of requests', () => {
    const { p, withLag } = pressureAt(100, [0.1, 0.3, 0.2, 0.9]);
    assert.equal(withLag(50), 0, 'below the limit from the start: nothing shed');
    assert.equal(p.shouldShed(), false);
    assert.equal(withLag(150), 0.25, 'lag 1.5 × the limit: a quarter');
    assert.equal(p.shouldShed(), true, 'draw 0.1 < 0.25');
    assert.equal(p.shouldShed(), false, 'draw 0.3 ≥ 0.25');
    assert.equal(withLag(200), 0.75);
    assert.equal(p.shouldShed(), true, 'draw 0.2');
    assert.equal(p.shouldShed(), false, 'draw 0.9');
    assert.equal(withLag(1000), 1, 'never more than all');
    assert.equal(p.shouldShed(), true, 'all: no draw');
    assert.equal(withLag(100), 1, 'at the limit the share holds');
    assert.equal(withLag(0), 0.5, 'a quiet window takes half off');
    assert.equal(withLag(0), 0);
    assert.equal(withLag(0), 0, 'never less than none');
    assert.equal(p.overloaded, false);
  });
});

void describe('shed report', () => {
  void it('counts every refusal, warns once when shedding begins, sums up per interval, and says when it stopped', () => {
    const lines: [string, string, Record<string, unknown>][] = [];
    const log = {
      warn: (o: Record<string, unknown>, m: string) => void lines.push(['warn', m, o]),
      info: (o: Record<string, unknown>, m: string) => void lines.push(['info', m, o]),
    };
    const counted: string[] = [];
    const report = new ShedReport({ log: log as never, count: (r) => counted.push(r), state: () => ({ 'fapiao.shed.share': 0.5 }) });
    for (let i = 0; i < 600; i++) report.record('event_loop');
    for (let i = 0; i < 400; i++) report.record('issue_queue');
    assert.equal(counted.length, 1000, 'the metric sees each one');
    assert.deepEqual(lines, [['warn', 'overloaded: shedding requests with 503 and Retry-After', { 'fapiao.shed.reason': 'event_loop', 'fapiao.shed.share': 0.5 }]]);
    report.flush();
    assert.deepEqual(lines[1], ['warn', 'requests shed since the last report', { 'fapiao.shed.event_loop': 600, 'fapiao.shed.issue_queue': 400, 'fapiao.shed.share': 0.5 }]);
    report.record('issue_queue');
    report.flush();
    report.flush();
    assert.deepEqual(lines.slice(2).map(([level, m, o]) => [level, m, o['fapiao.shed.total'] ?? o['fapiao.shed.issue_queue']]), [
      ['warn', 'requests shed since the last report', 1],
      ['info', 'no longer shedding requests', 1001],
    ]);
    report.flush();
    assert.equal(lines.length, 4, 'nothing more while nothing is shed');
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
