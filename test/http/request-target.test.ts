// The request target on every listener, through inject(): undecodable paths and over-long path segments are refused
// as problem+json from the registry (not Fastify's own JSON), after abuse control has seen the raw target (exploit
// signatures on the raw text, the request counted and banned like any other); percent-encoded aliases of a path
// (`/%76%31/keys`) reach the same decision as the path itself, on the router and in every classification.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import type { ErrorCode } from '../../src/shared/errors.ts';
import { httpStatusOf } from '../../src/platform/http/error-status.ts';

const LISTENERS = ['api', 'partner', 'admin', 'push', 'metrics', 'redirect'] as const;

function assertProblem(res: LightMyRequestResponse, status: number, code: ErrorCode, what: string): void {
  assert.equal(res.statusCode, status, `${what}: ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
  const body = res.json<{ code: string; status: number; type: string }>();
  assert.equal(body.code, code, what);
  assert.equal(body.status, httpStatusOf(code), what);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: the answer went through the onSend hooks`);
  assert.ok(!/FST_ERR/.test(res.body), `${what}: no framework code leaks`);
}

describe('request targets', () => {
  let t: TestApp;
  // Every listener accepts loopback; each test uses addresses of its own, so bans and budgets do not cross tests.
  const send = (listener: (typeof LISTENERS)[number], url: string, remoteAddress: string, headers: Record<string, string> = {}) =>
    t.servers.get(listener)!.inject({ method: 'GET', url, remoteAddress, headers });

  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  for (const listener of LISTENERS) {
    it(`${listener}: refuses an undecodable path with 400 URL_INVALID and an over-long segment with 414 URI_TOO_LONG`, async () => {
      for (const url of ['/v1/invoices/%ED%A0%80', '/v1/invoices/%zz', '/v1/%E4%B8', '/x%ff/y']) {
        assertProblem(await send(listener, url, '127.0.1.1'), 400, 'URL_INVALID', `${listener} ${url}`);
      }
      for (const url of [`/v1/invoices/${'1'.repeat(101)}`, `/admin/v1/tenants/${'t'.repeat(101)}`, `/${'%E4%B8%AD'.repeat(101)}`]) {
        assertProblem(await send(listener, url, '127.0.1.2'), 414, 'URI_TOO_LONG', `${listener} ${url.slice(0, 30)}`);
      }
      // 100 characters is still a path (whatever the route makes of it); the 中 of the last case count as one each.
      const ok = await send(listener, `/${'%E4%B8%AD'.repeat(100)}`, '127.0.1.2');
      assert.notEqual(ok.statusCode, 414);
    });
  }

  it('answers problem+json even where the router itself refuses (only inject can send a target this long)', async () => {
    // An undecodable target is routed as its escaped text; one segment of 70,000 characters passes the router's
    // parameter limit, which no request line within maxHeaderSize can reach.
    const res = await send('api', `/v1/invoices/%zz${'a'.repeat(70_000)}`, '127.0.4.1');
    assert.equal(res.statusCode, 414, res.body.slice(0, 200));
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json().code, 'URI_TOO_LONG');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.ok(!res.body.includes('FST_'));
  });

  LISTENERS.forEach((listener, n) => {
    it(`${listener}: 404, 405, 413 and a bad Content-Length are problems of the registry`, async () => {
      const server = t.servers.get(listener)!;
      const from = `127.0.2.${n + 1}`;
      const headers: Record<string, string> = listener === 'api' || listener === 'push' ? { authorization: `Bearer ${t.apiKey}` } : {};
      if (listener !== 'redirect') {
        assertProblem(await server.inject({ method: 'GET', url: '/no/such/path', headers, remoteAddress: from }), 404, 'NOT_FOUND', `${listener} 404`);
      }
      assertProblem(await server.inject({ method: 'TRACE', url: '/', remoteAddress: from }), 405, 'METHOD_NOT_ALLOWED', `${listener} 405`);
      const path = listener === 'partner' ? '/v1/invoices' : '/v1/verify';
      const big = await server.inject({ method: 'POST', url: path, remoteAddress: from, headers: { 'content-type': 'application/json' }, payload: `"${'a'.repeat(1024 * 1024 + 1)}"` });
      if (listener === 'api' || listener === 'redirect') assertProblem(big, 413, 'PAYLOAD_TOO_LARGE', `${listener} 413`);
      else assert.match(String(big.headers['content-type']), /^application\/problem\+json/, `${listener} big body`);
      // A Content-Length that is no number is a request-smuggling probe to the exploit guard (Node's parser refuses
      // it on a socket: test/e2e/framework-errors.test.ts).
      const badLength = await server.inject({ method: 'POST', url: '/v1/verify', remoteAddress: `127.0.3.${n + 1}`, headers: { 'content-type': 'application/json', 'content-length': 'abc' }, payload: '{}' });
      assertProblem(badLength, 403, 'EXPLOIT_SIGNATURE', `${listener} bad Content-Length`);
    });
  });

  it('checks exploit signatures on the raw target and bans like any other exploit (api)', async () => {
    const probe = await send('api', '/%c0%ae%c0%ae/etc/passwd', '192.0.2.10');
    assertProblem(probe, 403, 'EXPLOIT_SIGNATURE', 'overlong UTF-8 traversal');
    assert.equal((await t.app.services.bans.check('192.0.2.10'))?.reason, 'exploit');
    assertProblem(await send('api', '/v1/keys', '192.0.2.10'), 403, 'BANNED', 'banned afterwards');
    // Undecodable but also a probe: the signature wins.
    assertProblem(await send('api', '/v1/%c0%af..%c0%afetc/passwd', '192.0.2.11'), 403, 'EXPLOIT_SIGNATURE', 'overlong slash');
  });

  for (const listener of ['partner', 'push', 'redirect'] as const) {
    it(`${listener}: the same raw-target signature refuses and bans`, async () => {
      const ip = { partner: '192.0.2.12', push: '192.0.2.13', redirect: '192.0.2.14' }[listener];
      assertProblem(await send(listener, '/%c0%ae%c0%ae/etc/passwd', ip), 403, 'EXPLOIT_SIGNATURE', listener);
      assert.equal((await t.app.services.bans.check(ip))?.reason, 'exploit');
    });
  }

  it('counts refused targets against the public budget of the address', async () => {
    for (let i = 0; i < 50; i++) assert.equal((await send('api', '/v1/invoices/%ED%A0%80', '192.0.2.20')).statusCode, 400);
    const over = await send('api', '/v1/invoices/%ED%A0%80', '192.0.2.20');
    assertProblem(over, 429, 'RATE_LIMITED', 'the 51st');
    assertProblem(await send('api', '/v1/keys', '192.0.2.20'), 429, 'RATE_LIMITED', 'banned after the budget');
    for (let i = 0; i < 50; i++) assert.equal((await send('redirect', `/${'a'.repeat(101)}`, '192.0.2.21')).statusCode, 414);
    assertProblem(await send('redirect', '/verify', '192.0.2.21'), 429, 'RATE_LIMITED', 'redirect: banned after the budget');
  });

  it('serves an encoded alias exactly as its canonical path, and classifies it alike (api)', async () => {
    const canonical = await send('api', '/v1/keys', '192.0.2.30');
    const alias = await send('api', '/%76%31/%6b%65%79%73', '192.0.2.30');
    assert.equal(alias.statusCode, 200);
    assert.equal(alias.body, canonical.body);
    // A tenant route spelled with escapes is a tenant route: charged to the tenant, not to the address's public
    // budget of 50, so 60 of them from one address all pass.
    const auth = { authorization: `Bearer ${t.apiKey}` };
    for (let i = 0; i < 60; i++) {
      const res = await send('api', '/%76%31/invoices?limit=1', '192.0.2.31', auth);
      assert.equal(res.statusCode, 200, `request ${i + 1}: ${res.body}`);
      assert.match(String(res.headers['ratelimit-policy']), /^"tenant"/);
    }
    // A public path in disguise is public: counted against the address.
    const disguised = await send('api', '/%76%31/keys', '192.0.2.32');
    assert.match(String(disguised.headers['ratelimit-policy']), /^"public"/);
  });

  it('refuses an encoded API path on the redirect listener instead of redirecting it', async () => {
    for (const url of ['/%76%31/keys', '/v%31/invoices', '/%61dmin/v1/tenants', '/%76%31', '/V1/keys']) {
      assertProblem(await send('redirect', url, '192.0.2.40'), 403, 'HTTPS_REQUIRED', `redirect ${url}`);
    }
    // A page in disguise is still a page, redirected to its canonical spelling.
    const page = await send('redirect', '/%76erify?qr=01%2C31', '192.0.2.40');
    assert.equal(page.statusCode, 301);
    assert.match(String(page.headers.location), /^https:\/\/[^/]+\/verify\?qr=01%2C31$/);
    // Absolute-form (RFC 9112 §3.2.2) is routed and classified by its path.
    assertProblem(await send('redirect', 'http://example.com/v1/keys', '192.0.2.40'), 403, 'HTTPS_REQUIRED', 'absolute-form');
  });

  it('keeps reserved escapes: an encoded slash in a ban target is still one path segment (admin)', async () => {
    const auth = { authorization: `Bearer ${t.adminToken}` };
    await t.app.services.bans.ban({ target: '198.51.100.0/24', reason: 'manual', durationSec: 60, actor: 'test' });
    const lifted = await t.servers.get('admin')!.inject({ method: 'DELETE', url: '/admin/v1/bans/198.51.100.0%2f24', headers: auth, remoteAddress: '127.0.0.1' });
    assert.equal(lifted.statusCode, 204, lifted.body);
  });
});
