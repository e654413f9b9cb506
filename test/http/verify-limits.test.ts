// Anti-enumeration of 发票查验 (docs/invoice-rules.md, "Verification"): per-invoice-per-day and per-address limits, with no
// hint of which input was wrong.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { MemoryRateLimiter } from '../../src/modules/abuse/app/rate-limiter.ts';
import { VerifyService } from '../../src/modules/verification/app/verify-service.ts';
import type { InvoiceRepository } from '../../src/modules/invoicing/storage/invoice-repository.ts';
import type { KeyService } from '../../src/modules/keys/app/key-service.ts';
import { AppError } from '../../src/shared/errors.ts';

async function issue(t: TestApp): Promise<Invoice> {
  const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
  assert.equal(res.statusCode, 201);
  return res.json<Invoice>();
}

describe('verification limits per invoice', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });
  const verify = (body: object, remoteAddress = '127.0.0.1') => t.api.inject({ method: 'POST', url: '/v1/verify', payload: body, remoteAddress });

  it('refuses the 6th check of one invoice in a day, counting mismatched checks too', async () => {
    const inv = await issue(t);
    const right = { number: inv.number, issueDate: inv.issueDate, total: '113.00' };
    const answers = [
      await verify(right),
      await verify({ ...right, total: '113.01' }),
      await verify({ ...right, issueDate: '2001-01-01' }),
      await verify({ ...right, total: 'garbage' }),
      await verify(right, '10.9.9.9'),
    ];
    assert.deepEqual(answers.map((r) => r.json<{ result: string }>().result), ['authentic', 'not-found', 'not-found', 'not-found', 'authentic']);
    const sixth = await verify(right, '10.8.8.8');
    assert.equal(sixth.statusCode, 429, 'the limit is per invoice, whatever the address');
    assert.equal(sixth.json().code, 'RATE_LIMITED');
    const retry = Number(sixth.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 86_400, `retry-after ${retry} runs to the end of the day in UTC+8`);

    const other = await issue(t);
    assert.equal((await verify({ number: other.number, issueDate: other.issueDate, total: '113.00' })).json().result, 'authentic');
  });

  it('refuses a nonexistent number exactly like an existing one', async () => {
    const ghost = { number: '26319999999999999999', issueDate: '2026-01-01', total: '1.00' };
    for (let i = 0; i < 5; i++) assert.equal((await verify(ghost)).json().result, 'not-found');
    const inv = await issue(t);
    const real = { number: inv.number, issueDate: '2001-01-01', total: '1.00' };
    for (let i = 0; i < 5; i++) assert.equal((await verify(real)).json().result, 'not-found');
    const a = await verify(ghost);
    const b = await verify(real);
    assert.equal(a.statusCode, 429);
    assert.equal(b.statusCode, 429);
    const strip = (r: typeof a) => ({ ...r.json<Record<string, unknown>>(), requestId: undefined });
    assert.deepEqual(strip(a), strip(b));
  });
});

describe('verification limits per client address', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ FAPIAO_VERIFY_PER_IP_PER_MINUTE: '4', FAPIAO_VERIFY_PER_INVOICE_PER_DAY: '2' });
  });
  after(async () => {
    await t.close();
  });

  it('takes the per-invoice limit from the configuration', async () => {
    const inv = await issue(t);
    const body = { number: inv.number, issueDate: inv.issueDate, total: '113.00' };
    const codes = [];
    for (const ip of ['10.1.0.1', '10.1.0.2', '10.1.0.3']) {
      codes.push((await t.api.inject({ method: 'POST', url: '/v1/verify', payload: body, remoteAddress: ip })).statusCode);
    }
    assert.deepEqual(codes, [200, 200, 429]);
  });

  it('refuses an address past its per-minute limit with Retry-After, page and API together', async () => {
    const ip = '10.2.0.1';
    const body = { number: '26319999999999999998', issueDate: '2026-01-01', total: '1.00' };
    const page = await t.api.inject({ method: 'GET', url: '/verify', remoteAddress: ip });
    assert.equal(page.statusCode, 200);
    const codes = [];
    for (let i = 0; i < 3; i++) {
      codes.push((await t.api.inject({ method: 'POST', url: '/v1/verify', payload: { ...body, number: `2631999999999999990${i}` }, remoteAddress: ip })).statusCode);
    }
    assert.deepEqual(codes, [200, 200, 200]);
    const refused = await t.api.inject({ method: 'POST', url: '/v1/verify', payload: body, remoteAddress: ip });
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.json().code, 'RATE_LIMITED');
    assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
    const retry = Number(refused.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 60, `retry-after ${retry}`);

    const malformed = await t.api.inject({ method: 'POST', url: '/v1/verify', payload: 'x', headers: { 'content-type': 'application/json' }, remoteAddress: ip });
    assert.equal(malformed.statusCode, 429, 'counted before the body is parsed');

    const browser = await t.api.inject({ method: 'GET', url: '/verify', headers: { accept: 'text/html' }, remoteAddress: ip });
    assert.equal(browser.statusCode, 429);
    assert.match(String(browser.headers['content-type']), /^text\/html/);
    assert.ok(Number(browser.headers['retry-after']) >= 1);
    assert.match(String(browser.headers['content-security-policy']), /default-src 'none'/);
    const script = await t.api.inject({ method: 'GET', url: '/verify', remoteAddress: ip });
    assert.equal(script.statusCode, 429);
    assert.equal(script.json().code, 'RATE_LIMITED');

    const elsewhere = await t.api.inject({ method: 'POST', url: '/v1/verify', payload: body, remoteAddress: '10.2.0.2' });
    assert.equal(elsewhere.statusCode, 200, 'another address has its own budget');
  });

  it('counts an IPv6 client by its /64', async () => {
    const body = { number: '26319999999999999997', issueDate: '2026-01-01', total: '1.00' };
    const codes = [];
    for (let i = 1; i <= 5; i++) {
      codes.push((await t.api.inject({ method: 'POST', url: '/v1/verify', payload: body, remoteAddress: `2001:db8:1:2::${i}` })).statusCode);
    }
    assert.equal(codes.at(-1), 429);
  });
});

describe('the per-invoice day', () => {
  it('is the calendar day in UTC+8', async () => {
    const clock = { t: new Date('2026-11-24T15:59:00Z').getTime(), now: () => new Date(clock.t) }; // 23:59 in Shanghai
    const invoices = { findStoredForVerification: async () => undefined } as unknown as InvoiceRepository;
    const svc = new VerifyService(invoices, {} as KeyService, {
      limiter: new MemoryRateLimiter({ clock }), limits: { perInvoicePerDay: 1, perIpPerMinute: 100 }, clock,
    });
    const input = { number: '26319999999999999996', issueDate: '2026-11-24', total: '1.00' };
    assert.deepEqual(await svc.verify(input), { result: 'not-found' });
    await assert.rejects(svc.verify(input), (e: unknown) => e instanceof AppError && e.code === 'RATE_LIMITED' && e.headers?.['retry-after'] === '60');
    clock.t += 60_000; // 00:00 on the 25th in Shanghai
    assert.deepEqual(await svc.verify(input), { result: 'not-found' });
  });
});

describe('verify limits configuration', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'fapiao-config-'));
  after(() => rmSync(cwd, { recursive: true, force: true }));
  it('defaults to 5 checks per invoice per day and 50 requests per address per minute', () => {
    const c = loadConfig({}, cwd);
    assert.deepEqual(c.verify, { perInvoicePerDay: 5, perIpPerMinute: 50 });
  });
  it('names the setting when a limit is invalid', () => {
    assert.throws(() => loadConfig({ FAPIAO_VERIFY_PER_IP_PER_MINUTE: '0' }, cwd), (e: unknown) => e instanceof ConfigError && e.setting === 'verify.perIpPerMinute');
  });
});
