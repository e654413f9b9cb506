import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSentinelUrl } from './redis-url.ts';

describe('redis-sentinel:// URLs', () => {
  it('leaves redis:// and rediss:// alone', () => {
    assert.equal(parseSentinelUrl('redis://127.0.0.1:6379'), undefined);
    assert.equal(parseSentinelUrl('rediss://redis.example:6380/0'), undefined);
  });
  it('names the Sentinels and the master', () => {
    assert.deepEqual(parseSentinelUrl('redis-sentinel://10.0.0.1:26379,10.0.0.2:26379,[::1]:26380/fapiao'), {
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }, { host: '::1', port: 26380 }],
      name: 'fapiao',
    });
  });
  it('takes the Redis user and password from the user information', () => {
    assert.deepEqual(parseSentinelUrl('redis-sentinel://:s%40cret@sentinel:26379/mymaster'), {
      sentinels: [{ host: 'sentinel', port: 26379 }], name: 'mymaster', password: 's@cret',
    });
    assert.deepEqual(parseSentinelUrl('redis-sentinel://fapiao:pw@sentinel:26379/mymaster'), {
      sentinels: [{ host: 'sentinel', port: 26379 }], name: 'mymaster', username: 'fapiao', password: 'pw',
    });
  });
  it('refuses a Sentinel without a port, a missing master, a bad port', () => {
    assert.throws(() => parseSentinelUrl('redis-sentinel://sentinel/mymaster'), /not host:port/);
    assert.throws(() => parseSentinelUrl('redis-sentinel://sentinel:26379'), /expected redis-sentinel:/);
    assert.throws(() => parseSentinelUrl('redis-sentinel://sentinel:70000/m'), /not host:port/);
  });
});
