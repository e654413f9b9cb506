// 查验 through a Redis outage (FAPIAO_REDIS_URL set): the limits fall back to in-process counters instead of answering
// 500, the outage is logged once and shown in /metrics, and Redis is used again once it is back. A redis-server of the
// test's own is killed and restarted on the same port (test/helpers/redis-server.ts).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { ownRedis, redisServerSkipReason, type OwnRedis } from '../helpers/redis-server.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { AppError } from '../../src/shared/errors.ts';
import { BanService, FallbackBanStore, MemoryBanStore } from '../../src/modules/abuse/app/ban-service.ts';
import { DEFAULT_REDIS_ABUSE_PREFIX, RedisBanStore, RedisHealth } from '../../src/modules/abuse/storage/redis-abuse-store.ts';
import { systemClock } from '../../src/shared/clock.ts';

const skip = redisServerSkipReason();
if (skip) console.warn(skip);

interface LogLine {
  level: number;
  msg: string;
}

describe('查验 during a Redis outage', { skip }, () => {
  let redis: OwnRedis;
  let t: TestApp;
  let probe: Redis;
  const logs: LogLine[] = [];

  before(async () => {
    redis = await ownRedis();
    await redis.start();
    const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
    t = await createTestApp({ FAPIAO_REDIS_URL: redis.url, FAPIAO_VERIFY_PER_INVOICE_PER_DAY: '3' }, { logger });
    probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    probe.on('error', () => undefined);
  });

  after(async () => {
    probe?.disconnect();
    await t?.close();
    await redis?.kill();
  });

  const issue = async (): Promise<Invoice> => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Invoice>();
  };
  const verify = (inv: Invoice) =>
    t.api.inject({ method: 'POST', url: '/v1/verify', payload: { number: inv.number, issueDate: inv.issueDate, total: inv.totals.total } });
  const metrics = async () => (await t.servers.get('metrics')!.inject({ url: '/metrics' })).body;
  const metric = (text: string, name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const countersOf = async (inv: Invoice) => {
    if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
    return probe.keys(`fapiao:abuse:rl:verify:number:${inv.number}:*`);
  };

  it('counts in Redis while it is up, in process while it is down, and in Redis again once it is back', async () => {
    const before = await issue();
    const res = await verify(before);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().result, 'authentic');
    assert.equal((await countersOf(before)).length, 1, 'the per-invoice counter is in Redis');
    assert.equal(metric(await metrics(), 'fapiao_redis_up'), 1);

    const during = await issue();
    await redis.kill();
    probe.disconnect();

    // Three checks of one invoice a day are allowed; the fourth is refused, by the in-process counter.
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await verify(during));
    assert.deepEqual(answers.map((r) => r.statusCode), [200, 200, 200, 429], answers.map((r) => r.body).join('\n'));
    assert.deepEqual(answers.slice(0, 3).map((r) => r.json<{ result: string }>().result), ['authentic', 'authentic', 'authentic']);
    assert.equal(answers[3]!.json().code, 'RATE_LIMITED');
    assert.ok(Number(answers[3]!.headers['retry-after']) >= 1, 'a refusal still says when to come back');

    const page = await t.api.inject({ method: 'GET', url: '/verify', headers: { accept: 'text/html' } });
    assert.equal(page.statusCode, 200, 'the 查验 page is served');
    // Issuing was never affected, and still is not.
    const other = await issue();
    assert.equal((await verify(other)).statusCode, 200);

    const m = await metrics();
    assert.equal(metric(m, 'fapiao_redis_up'), 0);
    assert.ok((metric(m, 'fapiao_abuse_store_fallback_total') ?? 0) >= 5, 'the fallback is counted');
    const outageWarnings = logs.filter((l) => l.level === 40 && /redis/i.test(l.msg));
    assert.equal(outageWarnings.length, 1, `warned once per outage: ${JSON.stringify(outageWarnings)}`);
    assert.equal(logs.filter((l) => l.level >= 50).length, 0, `no errors logged: ${JSON.stringify(logs.filter((l) => l.level >= 50))}`);

    await redis.start();
    // ioredis reconnects with a growing back-off (at most 2 s), and the limiter retries Redis once a second. Each
    // round checks a new invoice, so the per-invoice limit counted in process meanwhile never refuses it.
    const deadline = Date.now() + 15_000;
    let keys: string[] = [];
    while (Date.now() < deadline) {
      const fresh = await issue();
      const r = await verify(fresh);
      assert.equal(r.statusCode, 200, r.body);
      keys = await countersOf(fresh);
      if (keys.length > 0) break;
      await sleep(500);
    }
    assert.equal(keys.length, 1, 'counters are in Redis again');
    assert.equal(metric(await metrics(), 'fapiao_redis_up'), 1);
    assert.ok(logs.some((l) => l.level === 30 && /redis/i.test(l.msg) && /again|back|recover/i.test(l.msg)), 'the recovery is logged');
  });
});

describe('ban list during a Redis outage', { skip }, () => {
  let redis: OwnRedis;
  let client: Redis;
  const events: string[] = [];

  before(async () => {
    redis = await ownRedis();
    await redis.start();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 250 });
    await new Promise((resolve) => client.once('ready', resolve));
  });

  after(async () => {
    client?.disconnect();
    await redis?.kill();
  });

  it('keeps automatic bans in process, refuses an admin’s change, and reads Redis again once it is back', async () => {
    const health = new RedisHealth({
      redis: client, retryMs: 100,
      onDown: () => events.push('down'), onUp: () => events.push('up'), onFallback: (s) => events.push(`fallback:${s}`),
    });
    const clock = systemClock;
    const store = new FallbackBanStore(new RedisBanStore({ redis: client, clock }), new MemoryBanStore({ clock }), health);
    const bans = new BanService({ store, clock });

    await bans.ban({ target: '198.51.100.7', reason: 'manual', durationSec: 600 });
    assert.equal((await bans.check('198.51.100.7'))?.reason, 'manual', 'from Redis');

    await redis.kill();
    assert.equal(await bans.check('198.51.100.7'), undefined, 'a ban held only in Redis fails open');
    assert.equal(health.isUp, false);
    await bans.ban({ target: '198.51.100.8', reason: 'rate-limit', durationSec: 600, extendOnly: true });
    assert.equal((await bans.check('198.51.100.8'))?.reason, 'rate-limit', 'an automatic ban made during the outage applies here');
    await assert.rejects(bans.ban({ target: '198.51.100.9', reason: 'manual' }), (e: unknown) => e instanceof AppError && e.code === 'SERVICE_UNAVAILABLE');
    await assert.rejects(bans.list(), (e: unknown) => e instanceof AppError && e.code === 'SERVICE_UNAVAILABLE');
    await assert.rejects(bans.lift('198.51.100.7'), (e: unknown) => e instanceof AppError && e.code === 'SERVICE_UNAVAILABLE');
    assert.deepEqual(events.filter((e) => e === 'down'), ['down'], 'one outage, one notice');
    assert.ok(events.includes('fallback:ban'));

    await redis.start();
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && client.status !== 'ready') await sleep(100);
    // The restarted Redis is empty (nothing persisted): an admin's ban goes to it again.
    await bans.ban({ target: '198.51.100.9', reason: 'manual', durationSec: 600 });
    assert.equal(health.isUp, true);
    assert.ok(await client.hget(`${DEFAULT_REDIS_ABUSE_PREFIX}ban:exact`, '198.51.100.9'), 'stored in Redis');
    assert.equal((await bans.check('198.51.100.9'))?.reason, 'manual');
    assert.deepEqual(events.filter((e) => e === 'down' || e === 'up'), ['down', 'up']);
    assert.equal((await bans.check('198.51.100.8'))?.reason, 'rate-limit', 'the local ban still applies until it ends');
  });
});
