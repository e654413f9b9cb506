// One behavioural suite for the rate limiter and the ban store, looped over the in-process implementation and the
// Redis one (the machine's Redis; skipped with a reason when unreachable, never in CI). Counters expire by Redis's
// own clock, so windows here are short and the Redis fixture really waits; ban ends follow the injected clock.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { BanService, MemoryBanStore, type Ban, type BanStore } from '../../src/modules/abuse/app/ban-service.ts';
import { MemoryRateLimiter, tenantRateKey, type RateLimiter } from '../../src/modules/abuse/app/rate-limiter.ts';
import { RedisBanStore, RedisRateLimiter } from '../../src/modules/abuse/storage/redis-abuse-store.ts';
import { AppError } from '../../src/shared/errors.ts';

const REDIS_URL = process.env.FAPIAO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REDIS_WHERE = (() => {
  const u = new URL(REDIS_URL);
  return `${u.hostname}:${u.port || '6379'}`;
})();
const REDIS_SKIP_REASON = `Redis not reachable at ${REDIS_WHERE}: Redis suites skipped`;

function connect(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 1, retryStrategy: () => null });
}

async function reachableRedis(): Promise<Redis | undefined> {
  const redis = connect();
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    if (process.env.CI) throw new Error(`Redis not reachable at ${REDIS_WHERE} (CI must not skip)`, { cause: error });
    console.warn(REDIS_SKIP_REASON);
    return undefined;
  }
}

class FakeClock {
  t = Date.parse('2026-03-01T00:00:00Z');
  now(): Date {
    return new Date(this.t);
  }
}

interface Fixture {
  name: string;
  skip: string | false;
  clock: FakeClock;
  limiter(): RateLimiter;
  store(): BanStore;
  /** Moves the injected clock; the Redis fixture also waits, so its counters expire too. */
  advance(ms: number): Promise<void>;
}

const redis = await reachableRedis();
const prefix = `fapiao:test:${randomBytes(6).toString('hex')}:`;
const extraClients: Redis[] = [];

const fixtures: Fixture[] = [
  (() => {
    const clock = new FakeClock();
    return {
      name: 'memory', skip: false, clock,
      limiter: () => new MemoryRateLimiter({ clock }),
      store: () => new MemoryBanStore({ clock }),
      advance: async (ms: number) => void (clock.t += ms),
    };
  })(),
  (() => {
    const clock = new FakeClock();
    let n = 0;
    // Each call is a fresh prefix, so the tests do not see one another's keys; `shared` fixtures reuse one.
    const next = () => `${prefix}${++n}:`;
    return {
      name: 'redis', skip: redis ? false : REDIS_SKIP_REASON, clock,
      limiter: () => new RedisRateLimiter({ redis: redis!, prefix: next(), clock }),
      store: () => new RedisBanStore({ redis: redis!, prefix: next(), clock }),
      advance: async (ms: number) => {
        clock.t += ms;
        await sleep(ms);
      },
    };
  })(),
];

after(async () => {
  if (!redis) return;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  for (const c of extraClients) c.disconnect();
  await redis.quit();
});

for (const f of fixtures) {
  describe(`rate limiter: ${f.name}`, { skip: f.skip }, () => {
    it('allows `limit` hits in a window, then refuses and keeps counting', async () => {
      const l = f.limiter();
      for (let i = 1; i <= 3; i++) {
        const d = await l.hit('ip:public:198.51.100.1', 3, 60_000);
        assert.deepEqual({ allowed: d.allowed, remaining: d.remaining, limit: d.limit }, { allowed: true, remaining: 3 - i, limit: 3 });
        assert.ok(d.resetSec >= 59 && d.resetSec <= 60, `resetSec ${d.resetSec}`);
      }
      const refused = await l.hit('ip:public:198.51.100.1', 3, 60_000);
      assert.equal(refused.allowed, false);
      assert.equal(refused.remaining, 0);
      assert.equal((await l.hit('ip:public:198.51.100.2', 3, 60_000)).remaining, 2, 'keys are independent');
    });

    it('opens a new window after the old one ends', async () => {
      const l = f.limiter();
      assert.equal((await l.hit('k', 1, 200)).allowed, true);
      assert.equal((await l.hit('k', 1, 200)).allowed, false);
      await f.advance(260);
      const d = await l.hit('k', 1, 200);
      assert.equal(d.allowed, true);
      assert.equal(d.resetSec, 1);
    });

    it('keeps tenants apart (invariant 7)', async () => {
      const l = f.limiter();
      assert.equal((await l.hit(tenantRateKey('tenant', 'acme'), 1, 60_000)).allowed, true);
      assert.equal((await l.hit(tenantRateKey('tenant', 'acme'), 1, 60_000)).allowed, false);
      assert.equal((await l.hit(tenantRateKey('tenant', 'globex'), 1, 60_000)).allowed, true);
    });

    it('admits exactly `limit` of concurrent hits', async () => {
      const l = f.limiter();
      const ds = await Promise.all(Array.from({ length: 25 }, () => l.hit('burst', 10, 60_000)));
      assert.equal(ds.filter((d) => d.allowed).length, 10);
    });

    it('forgets a key on reset', async () => {
      const l = f.limiter();
      await l.hit('r', 1, 60_000);
      assert.equal((await l.hit('r', 1, 60_000)).allowed, false);
      await l.reset('r');
      assert.equal((await l.hit('r', 1, 60_000)).allowed, true);
    });
  });

  describe(`ban store: ${f.name}`, { skip: f.skip }, () => {
    let bans: BanService;
    let events: string[];
    before(() => {
      events = [];
      bans = new BanService({
        store: f.store(),
        clock: f.clock,
        onBan: (b, actor) => void events.push(`ban ${b.target} ${b.reason} ${actor}`),
        onLift: (b, actor) => void events.push(`lift ${b.target} ${actor}`),
      });
    });

    it('bans an address until the ban ends', async () => {
      const ban = await bans.ban({ target: '::ffff:198.51.100.5', reason: 'rate-limit', durationSec: 300 });
      assert.deepEqual(ban, { target: '198.51.100.5', reason: 'rate-limit', until: new Date(f.clock.t + 300_000).toISOString(), createdAt: f.clock.now().toISOString() });
      assert.deepEqual(await bans.check('198.51.100.5'), ban);
      assert.deepEqual(await bans.check('::ffff:198.51.100.5'), ban);
      assert.equal(await bans.check('198.51.100.6'), undefined);
      f.clock.t += 300_000;
      assert.equal(await bans.check('198.51.100.5'), undefined);
      assert.ok(!(await bans.list()).some((b) => b.target === '198.51.100.5'), 'an ended ban is not listed');
    });

    it('matches blocks and IPv6 /64s, the most severe ban first', async () => {
      await bans.ban({ target: '203.0.113.0/24', reason: 'blocklist', actor: 'admin' });
      await bans.ban({ target: '203.0.113.9', reason: 'exploit', durationSec: 3600 });
      await bans.ban({ target: '2001:db8:7:7::/64', reason: 'rate-limit', durationSec: 60 });
      assert.equal((await bans.check('203.0.113.9'))?.reason, 'blocklist', 'permanent beats temporary');
      assert.equal((await bans.check('203.0.113.200'))?.target, '203.0.113.0/24');
      assert.equal(await bans.check('203.0.114.1'), undefined);
      assert.equal((await bans.check('2001:db8:7:7:abcd::1'))?.target, '2001:db8:7:7::/64');
      assert.equal(await bans.check('2001:db8:7:8::1'), undefined);
      assert.equal(await bans.check('not-an-ip'), undefined);
    });

    it('lists active bans and lifts them by any spelling of the target', async () => {
      const listed = await bans.list();
      assert.deepEqual(listed.map((b) => b.target).sort(), ['2001:db8:7:7::/64', '203.0.113.0/24', '203.0.113.9']);
      const lifted = await bans.lift('203.0.113.9/32', 'admin');
      assert.equal(lifted?.reason, 'exploit');
      assert.equal(await bans.lift('203.0.113.9'), undefined, 'lifting twice finds nothing');
      assert.equal((await bans.lift('2001:db8:7:7:0:0:0:0/64'))?.target, '2001:db8:7:7::/64');
      assert.deepEqual((await bans.list()).map((b) => b.target), ['203.0.113.0/24']);
      assert.equal((await bans.lift('203.0.113.0/24', 'admin'))?.reason, 'blocklist');
      assert.equal(await bans.check('203.0.113.200'), undefined);
    });

    it('does not let an automatic ban shorten a longer one, but lets the admin replace it', async () => {
      const long = await bans.ban({ target: '192.0.2.1', reason: 'exploit', durationSec: 3600 });
      const again = await bans.ban({ target: '192.0.2.1', reason: 'rate-limit', durationSec: 300, extendOnly: true });
      assert.deepEqual(again, long);
      const shorter = await bans.ban({ target: '192.0.2.1', reason: 'manual', durationSec: 60, actor: 'admin' });
      assert.equal((await bans.check('192.0.2.1'))?.until, shorter.until);
      await bans.ban({ target: '192.0.2.1', reason: 'manual', actor: 'admin' });
      assert.equal((await bans.check('192.0.2.1'))?.until, undefined, 'now permanent');
      f.clock.t += 86_400_000 * 365;
      assert.equal((await bans.check('192.0.2.1'))?.reason, 'manual');
      await bans.lift('192.0.2.1', 'admin');
    });

    it('reports every change for the audit log', () => {
      assert.deepEqual(events, [
        'ban 198.51.100.5 rate-limit system',
        'ban 203.0.113.0/24 blocklist admin',
        'ban 203.0.113.9 exploit system',
        'ban 2001:db8:7:7::/64 rate-limit system',
        'lift 203.0.113.9 admin',
        'lift 2001:db8:7:7::/64 system',
        'lift 203.0.113.0/24 admin',
        'ban 192.0.2.1 exploit system',
        'ban 192.0.2.1 manual admin',
        'ban 192.0.2.1 manual admin',
        'lift 192.0.2.1 admin',
      ]);
    });

    it('refuses a target that is not an address or block', async () => {
      await assert.rejects(bans.ban({ target: '10.0.0.0/33', reason: 'manual' }), (e: unknown) => e instanceof AppError && e.code === 'VALIDATION_FAILED');
      await assert.rejects(bans.ban({ target: '10.0.0.1', reason: 'manual', durationSec: 0 }), AppError);
      await assert.rejects(bans.lift('example.com'), AppError);
    });
  });
}

describe('several nodes on one Redis', { skip: redis ? false : REDIS_SKIP_REASON }, () => {
  it('share counters and bans', async () => {
    const other = connect();
    extraClients.push(other);
    await other.connect();
    const shared = `${prefix}shared:`;
    const clock = new FakeClock();
    const [l1, l2] = [new RedisRateLimiter({ redis: redis!, prefix: shared }), new RedisRateLimiter({ redis: other, prefix: shared })];
    assert.equal((await l1.hit('ip:public:198.51.100.1', 2, 60_000)).allowed, true);
    assert.equal((await l2.hit('ip:public:198.51.100.1', 2, 60_000)).allowed, true);
    assert.equal((await l1.hit('ip:public:198.51.100.1', 2, 60_000)).allowed, false);

    const node1 = new BanService({ store: new RedisBanStore({ redis: redis!, prefix: shared, clock }), clock });
    const node2 = new BanService({ store: new RedisBanStore({ redis: other, prefix: shared, clock }), clock });
    const ban: Ban = await node1.ban({ target: '198.51.100.1', reason: 'rate-limit', durationSec: 300 });
    assert.deepEqual(await node2.check('198.51.100.1'), ban);
    await node2.lift('198.51.100.1');
    assert.equal(await node1.check('198.51.100.1'), undefined);
  });

  it('sweeps ended bans out of Redis', async () => {
    const clock = new FakeClock();
    const store = new RedisBanStore({ redis: redis!, prefix: `${prefix}sweep:`, clock });
    const bans = new BanService({ store, clock });
    for (let i = 1; i <= 5; i++) await bans.ban({ target: `198.51.100.${i}`, reason: 'rate-limit', durationSec: 60 });
    await bans.ban({ target: '198.51.100.0/24', reason: 'blocklist' });
    clock.t += 61_000;
    assert.equal(await store.sweep(), 5);
    assert.equal(await redis!.hlen(`${prefix}sweep:ban:exact`), 0);
    assert.equal(await redis!.zcard(`${prefix}sweep:ban:expiry`), 0);
    assert.equal(await redis!.hlen(`${prefix}sweep:ban:ranges`), 1, 'a permanent block stays');
  });
});
