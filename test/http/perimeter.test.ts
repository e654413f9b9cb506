// The security perimeter as wired into the real listeners: rate limits with tiered bans, exploit signatures, blocks,
// bans managed through the admin API and recorded in the audit log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';

describe('perimeter of the api listener', () => {
  let t: TestApp;
  const admin = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.servers.get('admin')!.inject({ method, url, remoteAddress: '127.0.0.1', headers: { authorization: `Bearer ${t.adminToken}` }, ...(payload ? { payload } : {}) });

  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('bans an address for 5 minutes after 50 public requests in a minute', async () => {
    const from = { remoteAddress: '192.0.2.10' };
    for (let i = 1; i <= 50; i++) {
      const ok = await t.api.inject({ method: 'GET', url: '/v1/keys', ...from });
      assert.equal(ok.statusCode, 200, `request ${i}`);
      assert.equal(ok.headers['ratelimit-policy'], '"public";q=50;w=60');
    }
    const refused = await t.api.inject({ method: 'GET', url: '/v1/keys', ...from });
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers['retry-after'], '300');
    assert.equal(refused.json().code, 'RATE_LIMITED');
    const bans = (await admin('GET', '/admin/v1/bans')).json().items;
    assert.ok(bans.some((b: { target: string; reason: string }) => b.target === '192.0.2.10' && b.reason === 'rate-limit'));
    const other = await t.api.inject({ method: 'GET', url: '/v1/keys', remoteAddress: '192.0.2.11' });
    assert.equal(other.statusCode, 200, 'other addresses are unaffected');
  });

  it('bans an exploit probe for an hour, even on tenant routes', async () => {
    const from = { remoteAddress: '192.0.2.20' };
    const probe = await t.api.inject({ method: 'GET', url: "/v1/invoices?buyerTaxId=1'%20OR%201=1--", ...from, headers: { authorization: `Bearer ${t.apiKey}` } });
    assert.equal(probe.statusCode, 403);
    assert.equal(probe.json().code, 'EXPLOIT_SIGNATURE');
    const next = await t.api.inject({ method: 'POST', url: '/v1/invoices', ...from, headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
    assert.equal(next.statusCode, 403);
    assert.equal(next.json().code, 'BANNED');
    assert.ok(Number(next.headers['retry-after']) > 3500);
  });

  it('answers TRACE with 405', async () => {
    const res = await t.api.inject({ method: 'TRACE' as 'GET', url: '/v1/keys', remoteAddress: '192.0.2.30' });
    assert.equal(res.statusCode, 405);
    assert.equal(res.json().code, 'METHOD_NOT_ALLOWED');
  });

  it('adds, enforces and lifts a block through the admin API, auditing both', async () => {
    const added = await admin('POST', '/admin/v1/bans', { target: '203.0.113.0/24', reason: 'blocklist' });
    assert.equal(added.statusCode, 201, added.body);
    const blocked = await t.api.inject({ method: 'GET', url: '/v1/keys', remoteAddress: '203.0.113.77' });
    assert.equal(blocked.statusCode, 403);
    assert.equal(blocked.json().code, 'BLOCKED');
    assert.equal(blocked.headers['ratelimit-policy'], undefined, 'a permanent block carries no rate headers');
    const lifted = await admin('DELETE', `/admin/v1/bans/${encodeURIComponent('203.0.113.0/24')}`);
    assert.equal(lifted.statusCode, 204);
    assert.equal((await t.api.inject({ method: 'GET', url: '/v1/keys', remoteAddress: '203.0.113.77' })).statusCode, 200);
    const audit = (await admin('GET', '/admin/v1/audit?limit=50')).json().items as { action: string; target: string }[];
    assert.ok(audit.some((e) => e.action === 'ban.add' && e.target === '203.0.113.0/24'));
    assert.ok(audit.some((e) => e.action === 'ban.lift' && e.target === '203.0.113.0/24'));
  });

  it('writes an audit entry for every issued invoice, chained', async () => {
    const inv = (await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice(), remoteAddress: '198.51.100.9',
    })).json();
    const audit = (await admin('GET', '/admin/v1/audit?action=invoice.issue&limit=10')).json().items as { target: string; actor: string; ip?: string }[];
    const entry = audit.find((e) => e.target === inv.number);
    // Who and where from: the issuing API key by its id (never the secret) and the client address.
    const keyId = t.apiKey.split('_')[2];
    assert.equal(entry?.actor, `apikey:${keyId}`);
    assert.equal(entry?.ip, '198.51.100.9');
    const verified = await t.app.services.audit.verifyChain();
    assert.equal(verified.ok, true);
  });
});
