// The operator's doors (admin, metrics) are guarded by their allowlist and token, not by the ban list that public
// traffic fills: a loopback address banned on the api listener can still lift its own ban and be probed for health.
// The admin listener keeps its own count of failed admin tokens, which locks the address out of it alone.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';

describe('operator listeners and public bans', () => {
  let t: TestApp;
  const admin = () => t.servers.get('admin')!;
  const metrics = () => t.servers.get('metrics')!;
  const from = (remoteAddress: string) => ({ remoteAddress });

  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('lets a loopback address banned on the api listener lift its ban and read /healthz and /readyz', async () => {
    // The public budget is 50 a minute: the 51st request earns a 5-minute ban.
    let last = 0;
    for (let i = 0; i < 51; i++) last = (await t.api.inject({ method: 'GET', url: '/v1/keys', ...from('127.0.0.1') })).statusCode;
    assert.equal(last, 429);
    const banned = await t.api.inject({ method: 'GET', url: '/v1/keys', ...from('127.0.0.1') });
    assert.equal(banned.statusCode, 429);
    assert.equal(banned.json().code, 'RATE_LIMITED');
    assert.equal((await t.app.services.bans.check('127.0.0.1'))?.reason, 'rate-limit');

    for (const path of ['/healthz', '/readyz', '/metrics']) {
      const res = await metrics().inject({ method: 'GET', url: path, ...from('127.0.0.1') });
      assert.equal(res.statusCode, 200, `${path}: ${res.body}`);
    }
    const auth = { authorization: `Bearer ${t.adminToken}` };
    const list = await admin().inject({ method: 'GET', url: '/admin/v1/bans', headers: auth, ...from('127.0.0.1') });
    assert.equal(list.statusCode, 200, list.body);
    assert.deepEqual(list.json<{ items: { target: string }[] }>().items.map((b) => b.target), ['127.0.0.1']);
    const lifted = await admin().inject({ method: 'DELETE', url: '/admin/v1/bans/127.0.0.1', headers: auth, ...from('127.0.0.1') });
    assert.equal(lifted.statusCode, 204, lifted.body);

    // Lifted means lifted: the spent public window is forgotten too, so the next request is not banned again.
    const again = await t.api.inject({ method: 'GET', url: '/v1/keys', ...from('127.0.0.1') });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(await t.app.services.bans.check('127.0.0.1'), undefined);
  });

  it('a manual ban or blocklist entry of the operator\'s address does not shut the admin listener either', async () => {
    await t.app.services.bans.ban({ target: '127.0.0.0/8', reason: 'blocklist', actor: 'test' });
    assert.equal((await t.api.inject({ method: 'GET', url: '/v1/keys', ...from('127.0.0.3') })).statusCode, 403);
    const auth = { authorization: `Bearer ${t.adminToken}` };
    const lifted = await admin().inject({ method: 'DELETE', url: '/admin/v1/bans/127.0.0.0%2F8', headers: auth, ...from('127.0.0.3') });
    assert.equal(lifted.statusCode, 204, lifted.body);
    assert.equal((await t.api.inject({ method: 'GET', url: '/v1/keys', ...from('127.0.0.3') })).statusCode, 200);
  });

  it('counts failed admin tokens per address and locks that address out of the admin listener alone', async () => {
    const bad = { authorization: 'Bearer not-the-admin-token' };
    // 10 failures in 5 minutes are allowed; the 11th locks the address out.
    for (let i = 0; i < 11; i++) {
      const res = await admin().inject({ method: 'GET', url: '/admin/v1/tenants', headers: bad, ...from('127.0.0.2') });
      assert.equal(res.statusCode, 401);
    }
    const good = { authorization: `Bearer ${t.adminToken}` };
    const locked = await admin().inject({ method: 'GET', url: '/admin/v1/tenants', headers: good, ...from('127.0.0.2') });
    assert.equal(locked.statusCode, 429, locked.body);
    assert.equal(locked.json().code, 'RATE_LIMITED');
    assert.ok(Number(locked.headers['retry-after']) > 0);
    // Another loopback address is not affected, and the public listeners do not inherit the lockout.
    assert.equal((await admin().inject({ method: 'GET', url: '/admin/v1/tenants', headers: good, ...from('127.0.0.1') })).statusCode, 200);
    assert.equal((await t.api.inject({ method: 'GET', url: '/v1/keys', ...from('127.0.0.2') })).statusCode, 200);
    assert.equal(await t.app.services.bans.check('127.0.0.2'), undefined, 'nothing in the shared ban list');
  });
});
