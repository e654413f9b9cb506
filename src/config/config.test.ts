import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseListen } from './config.ts';

describe('config', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'fapiao-config-'));

  it('needs no file: embedded defaults', () => {
    const c = loadConfig({}, cwd);
    assert.equal(c.dataDir, join(cwd, 'data'));
    assert.equal(c.databaseUrl, `sqlite:${join(cwd, 'data', 'fapiao.db')}`);
    assert.deepEqual([c.listeners.api.host, c.listeners.api.port, c.listeners.api.enabled], ['127.0.0.1', 8443, true]);
    assert.deepEqual([c.listeners.admin.host, c.listeners.admin.port], ['127.0.0.1', 8080]);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.listeners.api));
  });

  it('honours the contract environment variables', () => {
    const c = loadConfig({ FAPIAO_DATA_DIR: '/srv/f', FAPIAO_DATABASE_URL: 'postgres://u@h/db', FAPIAO_LISTEN_API: '127.0.0.1:0', FAPIAO_LISTEN_METRICS: 'off' }, cwd);
    assert.equal(c.dataDir, '/srv/f');
    assert.equal(c.databaseUrl, 'postgres://u@h/db');
    assert.deepEqual([c.listeners.api.host, c.listeners.api.port], ['127.0.0.1', 0]);
    assert.equal(c.listeners.metrics.enabled, false);
  });

  it('signs with SM2 unless signing.algorithm names ECDSA-P256 or Ed25519; any other value is refused by name', () => {
    assert.equal(loadConfig({}, cwd).signing.algorithm, 'SM2');
    assert.equal(loadConfig({ FAPIAO_SIGNING_ALGORITHM: 'ECDSA-P256' }, cwd).signing.algorithm, 'ECDSA-P256');
    assert.equal(loadConfig({ FAPIAO_SIGNING_ALGORITHM: 'Ed25519' }, cwd).signing.algorithm, 'Ed25519');
    for (const bad of ['RSA', 'ecdsa-p256', 'P-256', 'sm2']) {
      assert.throws(() => loadConfig({ FAPIAO_SIGNING_ALGORITHM: bad }, cwd), (e: unknown) => e instanceof ConfigError && e.setting === 'FAPIAO_SIGNING_ALGORITHM', bad);
    }
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-config-'));
    writeFileSync(join(dir, 'fapiao.config.json'), JSON.stringify({ signing: { algorithm: 'Ed448' } }));
    assert.throws(() => loadConfig({}, dir), (e: unknown) => e instanceof ConfigError && e.setting === 'signing.algorithm');
  });

  it('computes SM2\'s k·G with OpenSSL\'s constant-time ladder unless signing.sm2BaseMul asks for the table', () => {
    assert.equal(loadConfig({}, cwd).signing.sm2BaseMul, 'openssl');
    assert.equal(loadConfig({ FAPIAO_SM2_BASE_MUL: 'table' }, cwd).signing.sm2BaseMul, 'table');
    assert.throws(() => loadConfig({ FAPIAO_SM2_BASE_MUL: 'fast' }, cwd), (e: unknown) => e instanceof ConfigError && e.setting === 'FAPIAO_SM2_BASE_MUL');
  });

  it('takes a Redis URL, or Sentinels and a master, and refuses a malformed Sentinel URL', () => {
    assert.equal(loadConfig({ FAPIAO_REDIS_URL: 'redis://127.0.0.1:6379' }, cwd).redisUrl, 'redis://127.0.0.1:6379');
    const sentinel = 'redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/fapiao';
    assert.equal(loadConfig({ FAPIAO_REDIS_URL: sentinel }, cwd).redisUrl, sentinel);
    assert.throws(() => loadConfig({ FAPIAO_REDIS_URL: 'redis-sentinel://10.0.0.1/fapiao' }, cwd), (e: unknown) => e instanceof ConfigError && e.setting === 'FAPIAO_REDIS_URL');
    assert.throws(() => loadConfig({ FAPIAO_REDIS_URL: 'memcached://x' }, cwd), (e: unknown) => e instanceof ConfigError && e.setting === 'FAPIAO_REDIS_URL');
  });

  it('refuses a buyer who is the seller unless issuing.allowBuyerIsSeller says otherwise', () => {
    assert.equal(loadConfig({}, cwd).issuing.allowBuyerIsSeller, false);
    assert.equal(loadConfig({ FAPIAO_ALLOW_BUYER_IS_SELLER: 'true' }, cwd).issuing.allowBuyerIsSeller, true);
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-config-'));
    writeFileSync(join(dir, 'fapiao.config.json'), JSON.stringify({ issuing: { allowBuyerIsSeller: true } }));
    assert.equal(loadConfig({}, dir).issuing.allowBuyerIsSeller, true);
    assert.equal(loadConfig({ FAPIAO_ALLOW_BUYER_IS_SELLER: 'false' }, dir).issuing.allowBuyerIsSeller, false, 'the variable wins');
    assert.throws(() => loadConfig({ FAPIAO_ALLOW_BUYER_IS_SELLER: 'yes' }, cwd), (e: unknown) => e instanceof ConfigError && e.setting === 'FAPIAO_ALLOW_BUYER_IS_SELLER');
    writeFileSync(join(dir, 'fapiao.config.json'), JSON.stringify({ issuing: { allowBuyerIsSeller: 1 } }));
    assert.throws(() => loadConfig({}, dir), (e: unknown) => e instanceof ConfigError && e.setting === 'issuing.allowBuyerIsSeller');
  });

  it('binds every listener to loopback unless configured otherwise (the demo of npm start is not on the network)', () => {
    const c = loadConfig({}, cwd);
    const hosts = Object.values(c.listeners).map((l) => [l.name, l.host]);
    assert.deepEqual(hosts, ['api', 'partner', 'admin', 'push', 'metrics', 'redirect'].map((n) => [n, '127.0.0.1']));
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-config-'));
    writeFileSync(join(dir, 'fapiao.config.json'), JSON.stringify({ listeners: { reports: { port: 7443, groups: ['query'] }, push: { host: '0.0.0.0' } } }));
    const custom = loadConfig({ FAPIAO_LISTEN_API: '0.0.0.0:443', FAPIAO_LISTEN_PARTNER: ':6443' }, dir);
    assert.equal(custom.customListeners[0]!.host, '127.0.0.1', 'a custom listener without host');
    assert.equal(custom.listeners.push.host, '0.0.0.0', 'named in the file');
    assert.deepEqual([custom.listeners.api.host, custom.listeners.api.port], ['0.0.0.0', 443], 'named in the environment');
    assert.equal(custom.listeners.partner.host, '127.0.0.1', ':port keeps the default host');
  });

  it('parses host:port forms', () => {
    assert.deepEqual(parseListen('[::1]:8443', 'X'), { host: '::1', port: 8443, enabled: true });
    assert.deepEqual(parseListen(':9000', 'X'), { host: undefined, port: 9000, enabled: true });
    assert.deepEqual(parseListen('off', 'X'), { enabled: false });
  });

  it('names the bad setting and never echoes its value', () => {
    const secret = 'not-base64-secret-value';
    assert.throws(() => loadConfig({ FAPIAO_MASTER_KEY: secret }, cwd), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.setting, 'FAPIAO_MASTER_KEY');
      assert.ok(!e.message.includes(secret));
      return true;
    });
    assert.throws(() => loadConfig({ FAPIAO_LISTEN_API: 'localhost:99999' }, cwd), /FAPIAO_LISTEN_API/);
    assert.throws(() => loadConfig({ FAPIAO_DATABASE_URL: 'mysql://x' }, cwd), /FAPIAO_DATABASE_URL/);
  });

  it('reads a config file and validates it', () => {
    const file = join(cwd, 'c.json');
    writeFileSync(file, JSON.stringify({ issuing: { batchMax: 0 } }));
    assert.throws(() => loadConfig({ FAPIAO_CONFIG: file }, cwd), /issuing\.batchMax/);
    writeFileSync(file, JSON.stringify({ listeners: { admin: { enabled: true, port: 18080 } }, issuing: { taxIdExceptions: ['91350100M0001TGQXM'] } }));
    const c = loadConfig({ FAPIAO_CONFIG: file }, cwd);
    assert.equal(c.listeners.admin.port, 18080);
    assert.deepEqual(c.issuing.taxIdExceptions, ['91350100M0001TGQXM']);
  });
});
