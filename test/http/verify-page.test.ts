// GET /verify: a self-contained page under a strict CSP. The browser behaviour is in test/e2e/verify-page.test.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

describe('GET /verify (the 查验 page)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('is served with a strict CSP that allows exactly its inline script and style', async () => {
    const res = await t.api.inject({ method: 'GET', url: '/verify' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    const csp = Object.fromEntries(
      String(res.headers['content-security-policy']).split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name, values.join(' ')];
      }),
    );
    const script = /<script>([\s\S]*?)<\/script>/.exec(res.body)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)![1]!;
    assert.deepEqual(csp, {
      'default-src': "'none'",
      'script-src': sha256(script),
      'style-src': sha256(style),
      'connect-src': "'self'",
      'img-src': "'self' data:",
      'form-action': "'self'",
      'frame-ancestors': "'none'",
      'base-uri': "'none'",
    });
  });

  it('is small and loads nothing from elsewhere', async () => {
    const res = await t.api.inject({ method: 'GET', url: '/verify' });
    assert.ok(res.rawPayload.length < 15 * 1024, `${res.rawPayload.length} bytes`);
    assert.doesNotMatch(res.body, /(src|href)="(https?:)?\/\//);
    assert.doesNotMatch(res.body, /@import|@font-face|url\(/);
    assert.doesNotMatch(res.body, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    assert.equal((res.body.match(/<script/g) ?? []).length, 1);
    assert.equal((res.body.match(/<style/g) ?? []).length, 1);
  });

  it('never reflects the query into the page', async () => {
    const plain = await t.api.inject({ method: 'GET', url: '/verify' });
    const probe = await t.api.inject({ method: 'GET', url: '/verify?qr=REFLECTED_QR_01&lang=REFLECTED_LANG' });
    assert.equal(probe.statusCode, 200);
    assert.equal(probe.body, plain.body);
  });

  it('refuses a script-injection probe in the query outright (exploit signature)', async () => {
    const probe = await t.api.inject({
      method: 'GET', url: '/verify?qr=%3Cscript%3Ealert(1)%3C%2Fscript%3E&lang=%22%3E%3Cx', remoteAddress: '198.51.100.7',
    });
    assert.equal(probe.statusCode, 403);
    assert.ok(!probe.body.includes('<script>alert'));
  });

  it('is left out of the API description', async () => {
    const res = await t.servers.get('admin')!.inject({ method: 'GET', url: '/docs/json', remoteAddress: '127.0.0.1' });
    assert.equal(res.json().paths['/verify'], undefined);
  });
});
