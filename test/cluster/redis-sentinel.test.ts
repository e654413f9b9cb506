// FAPIAO_REDIS_URL naming a Redis Sentinel (`redis-sentinel://host:port/master`): two nodes find the master through a
// Sentinel of the test's own (test/helpers/redis-server.ts) and share bans through it; the ban is in that Redis
// server, not in either process. The master is then killed: the Sentinel promotes the replica and both nodes follow
// it, sharing bans again without a restart.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { ownRedis, ownSentinel, redisServerSkipReason, type OwnRedis, type OwnSentinel } from '../helpers/redis-server.ts';

const skip = redisServerSkipReason();
if (skip) console.warn(skip);

describe('Redis through Sentinel', { skip }, () => {
  let redis: OwnRedis;
  let replica: OwnRedis;
  let sentinel: OwnSentinel;
  let a: TestApp;
  let b: TestApp;
  let probe: Redis;

  before(async () => {
    redis = await ownRedis();
    await redis.start();
    replica = await ownRedis(['--replicaof', '127.0.0.1', String(redis.port)]);
    await replica.start();
    sentinel = await ownSentinel(redis.port);
    a = await createTestApp({ FAPIAO_REDIS_URL: sentinel.url });
    b = await createTestApp({ FAPIAO_REDIS_URL: sentinel.url });
    probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    probe.on('error', () => undefined);
  });

  after(async () => {
    probe?.disconnect();
    await a?.close();
    await b?.close();
    await sentinel?.kill();
    await redis?.kill();
    await replica?.kill();
  });

  it('the Sentinel names the master the nodes use', async () => {
    const s = new Redis({ host: '127.0.0.1', port: sentinel.port, maxRetriesPerRequest: 1 });
    try {
      assert.deepEqual(await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinel.masterName), ['127.0.0.1', String(redis.port)]);
    } finally {
      s.disconnect();
    }
    const metrics = await a.servers.get('metrics')?.inject({ url: '/metrics' });
    if (metrics) assert.match(metrics.body, /^fapiao_redis_up 1$/m);
  });

  it('a ban set on one node is seen by the other, and lifted on the other is lifted on the first', async () => {
    const target = '198.51.100.7';
    assert.equal(await b.app.services.bans.check(target), undefined);
    await a.app.services.bans.ban({ target, reason: 'manual', durationSec: 300, actor: 'test' });
    const seen = await b.app.services.bans.check(target);
    assert.equal(seen?.target, target);
    assert.equal(seen?.reason, 'manual');
    const stored = JSON.stringify(await probe.hgetall('fapiao:abuse:ban:exact'));
    assert.ok(stored.includes(target), `the ban is in the Redis master: ${stored}`);
    assert.equal((await b.app.services.bans.lift(target, 'test'))?.target, target);
    assert.equal(await a.app.services.bans.check(target), undefined);
  });

  it('after the master is lost the Sentinel promotes the replica, and both nodes share bans through it', async () => {
    const s = new Redis({ host: '127.0.0.1', port: sentinel.port, maxRetriesPerRequest: 1 });
    try {
      // The Sentinel learns of the replica from the master's INFO.
      await waitFor('the Sentinel to know the replica', async () => ((await s.call('SENTINEL', 'REPLICAS', sentinel.masterName)) as unknown[]).length > 0, 20_000);
      const t0 = Date.now();
      await redis.kill();
      await waitFor('the replica promoted', async () => {
        const addr = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinel.masterName)) as string[];
        return addr[1] === String(replica.port);
      }, 30_000);
      const target = '198.51.100.8';
      await waitFor('a ban set on one node seen by the other through the new master', async () => {
        await a.app.services.bans.ban({ target, reason: 'manual', durationSec: 300, actor: 'test' }).catch(() => undefined);
        return (await b.app.services.bans.check(target).catch(() => undefined))?.target === target;
      }, 30_000);
      const onReplica = new Redis(replica.url, { maxRetriesPerRequest: 1 });
      try {
        assert.ok(JSON.stringify(await onReplica.hgetall('fapiao:abuse:ban:exact')).includes(target), 'the ban is on the promoted replica');
      } finally {
        onReplica.disconnect();
      }
      console.log(`sentinel: master killed; bans shared again through the promoted replica ${Date.now() - t0} ms later`);
    } finally {
      s.disconnect();
    }
  });
});

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
