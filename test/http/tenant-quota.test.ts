// The monthly issuing quota (授信额度) through the API: the admin listener sets it (PATCH, audited), issuing stops at
// exactly the limit without consuming a number, a raise applies at once, and a new month (UTC+8) starts afresh.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { interceptTransactions, withMethods } from '../helpers/uow-c.ts';

/** An invoice whose amount excluding VAT is `amount` (one line, 13 %). */
function invoiceOf(amount: string): Record<string, unknown> {
  return sampleInvoice({
    lines: [{ name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '1', unitPrice: amount, amount, taxRate: '0.13' }],
  });
}

const seqOf = (number: string) => Number(number.slice(5));

describe('issuing quota', () => {
  let t: TestApp;
  let now = new Date('2026-11-15T04:00:00Z');
  const admin = (): FastifyInstance => t.servers.get('admin')!;
  const local = { remoteAddress: '127.0.0.1' };
  const auth = () => ({ authorization: `Bearer ${t.adminToken}` });
  const patch = (id: string, payload: unknown) => admin().inject({ method: 'PATCH', url: `/admin/v1/tenants/${id}`, headers: auth(), ...local, payload: payload as object });
  const getTenant = (id: string) => admin().inject({ method: 'GET', url: `/admin/v1/tenants/${id}`, headers: auth(), ...local });
  const issue = (amount: string, apiKey = t.apiKey, headers: Record<string, string> = {}) =>
    t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${apiKey}`, ...headers }, payload: invoiceOf(amount) });

  before(async () => {
    t = await createTestApp({}, { clock: { now: () => now } });
  });
  after(async () => {
    await t?.close();
  });

  it('sets the quota by PATCH and shows this month’s usage as decimal strings', async () => {
    const r = await patch(t.tenantId, { monthlyQuota: '1000' });
    assert.equal(r.statusCode, 200, r.body);
    const view = r.json();
    assert.equal(view.monthlyQuota, '1000.00');
    assert.deepEqual(view.quotaUsage, { period: '2026-11', used: '0.00', remaining: '1000.00' });
    assert.equal(view.id, t.tenantId);
    assert.equal(view.regionCode, '31');
  });

  it('issues up to exactly the quota, refuses beyond it without consuming a number', async () => {
    const first = await issue('600.00');
    assert.equal(first.statusCode, 201, first.body);
    const over = await issue('600.00');
    assert.equal(over.statusCode, 422);
    assert.match(String(over.headers['content-type']), /^application\/problem\+json/);
    const problem = over.json();
    assert.equal(problem.code, 'QUOTA_EXCEEDED');
    assert.deepEqual({ period: problem.period, quota: problem.quota, remaining: problem.remaining }, { period: '2026-11', quota: '1000.00', remaining: '400.00' });
    assert.match(problem.detail, /600\.00/);
    const exact = await issue('400.00');
    assert.equal(exact.statusCode, 201, exact.body);
    assert.equal(seqOf(exact.json<Invoice>().number), seqOf(first.json<Invoice>().number) + 1, 'no number was consumed by the refusal');

    const view = (await getTenant(t.tenantId)).json();
    assert.deepEqual(view.quotaUsage, { period: '2026-11', used: '1000.00', remaining: '0.00' });
    const cent = await issue('0.01');
    assert.equal(cent.json().code, 'QUOTA_EXCEEDED');
    assert.equal(cent.json().remaining, '0.00');
  });

  it('lists tenants with their quota and usage', async () => {
    const r = await admin().inject({ method: 'GET', url: '/admin/v1/tenants', headers: auth(), ...local });
    const mine = r.json().items.find((x: { id: string }) => x.id === t.tenantId);
    assert.equal(mine.monthlyQuota, '1000.00');
    assert.equal(mine.quotaUsage.used, '1000.00');
  });

  it('unblocks at once when the quota is raised, and the refused idempotency key is still free', async () => {
    const refused = await issue('500.00', t.apiKey, { 'idempotency-key': 'quota-raise-1' });
    assert.equal(refused.json().code, 'QUOTA_EXCEEDED');
    assert.equal((await patch(t.tenantId, { monthlyQuota: '2000.00' })).json().quotaUsage.remaining, '1000.00');
    const ok = await issue('500.00', t.apiKey, { 'idempotency-key': 'quota-raise-1' });
    assert.equal(ok.statusCode, 201, ok.body);
  });

  it('in one batch refuses only the request over its tenant’s quota; the others get consecutive numbers', async () => {
    const other = await t.app.services.tenants.create({ ...OTHER_SELLER, regionCode: '31', monthlyQuota: '100.00' });
    // Warm both keys' authentication so the five requests reach the writer together.
    await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: { authorization: `Bearer ${other.apiKey}` } });
    await t.api.inject({ method: 'GET', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` } });
    // Every issuing attempt's transaction, as the writer's unit of work runs it: the items of the batch it numbered
    // (the series compare-and-set, first in the transaction) and their tenants (the ledger leaves).
    const batches: { size: number; tenants: string[] }[] = [];
    const spy = interceptTransactions(t.app.uow, (tx) => ({
      ...tx,
      series: withMethods(tx.series, {
        advance: (series, first, n) => {
          batches.push({ size: n, tenants: [] });
          return tx.series.advance(series, first, n);
        },
      }),
      ledger: withMethods(tx.ledger, {
        append: (leaves) => {
          batches.at(-1)!.tenants.push(...leaves.map((l) => l.tenantId));
          return tx.ledger.append(leaves);
        },
      }),
    }));
    const results = await Promise.all([issue('100.00'), issue('600.00', other.apiKey), issue('100.00'), issue('100.00', other.apiKey), issue('100.00')])
      .finally(() => spy.restore());
    assert.deepEqual(results.map((r) => r.statusCode), [201, 422, 201, 201, 201]);
    assert.equal(results[1]?.json().code, 'QUOTA_EXCEEDED');
    const seqs = results.filter((r) => r.statusCode === 201).map((r) => seqOf(r.json<Invoice>().number)).sort((a, b) => a - b);
    assert.deepEqual(seqs, [0, 1, 2, 3].map((i) => seqs[0]! + i), 'the series has no gap');
    assert.deepEqual(batches.map((b) => b.size), [4], 'one batch, the refused request dropped before numbering');
    assert.deepEqual(new Set(batches[0]!.tenants), new Set([t.tenantId, other.tenant.id]), 'of both tenants');
    const view = (await getTenant(other.tenant.id)).json();
    assert.deepEqual(view.quotaUsage, { period: '2026-11', used: '100.00', remaining: '0.00' });
  });

  it('starts a new quota at midnight of the 1st in China Standard Time', async () => {
    await patch(t.tenantId, { monthlyQuota: '1700.00' });
    now = new Date('2026-11-30T15:59:59Z');
    assert.equal((await issue('600.00')).json().code, 'QUOTA_EXCEEDED', 'still November in Shanghai: 1700.00 used');
    now = new Date('2026-11-30T16:00:00Z');
    const december = await issue('600.00');
    assert.equal(december.statusCode, 201, december.body);
    assert.equal(december.json<Invoice>().issueDate, '2026-12-01');
    assert.deepEqual((await getTenant(t.tenantId)).json().quotaUsage, { period: '2026-12', used: '600.00', remaining: '1100.00' });
  });

  it('changes the region and seller fields, and removes the quota with null', async () => {
    const r = await patch(t.tenantId, { regionCode: '44', address: '广州市天河区', monthlyQuota: null });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().monthlyQuota, null);
    assert.equal(r.json().quotaUsage.remaining, null);
    const issued = await issue('5000.00');
    assert.equal(issued.statusCode, 201, issued.body);
    assert.equal(issued.json<Invoice>().number.slice(2, 4), '44', 'later numbers use the new region at once');
    assert.equal(issued.json<Invoice>().seller.address, '广州市天河区');
  });

  it('audits each change as tenant.update with the changed field names only', async () => {
    const r = await admin().inject({ method: 'GET', url: '/admin/v1/audit?action=tenant.update', headers: auth(), ...local });
    const items = r.json().items as { target: string; actor: string; details?: string; ip?: string }[];
    assert.deepEqual(items.map((e) => (JSON.parse(e.details ?? '{}') as { fields: string[] }).fields), [
      ['regionCode', 'address', 'monthlyQuota'], ['monthlyQuota'], ['monthlyQuota'], ['monthlyQuota'],
    ]);
    assert.ok(items.every((e) => e.target === t.tenantId && e.actor === 'admin-api' && e.ip === '127.0.0.1'));
    assert.ok(!items.some((e) => e.details?.includes('广州')), 'never the values');
  });

  it('answers bad updates with the field at fault and changes nothing', async () => {
    const before = (await getTenant(t.tenantId)).body;
    const cases: [unknown, number, string][] = [
      [{ monthlyQuota: 'abc' }, 400, '/monthlyQuota'],
      [{ monthlyQuota: 1000 }, 400, '/monthlyQuota'],
      [{ monthlyQuota: '-5.00' }, 400, '/monthlyQuota'],
      [{ monthlyQuota: '1.005' }, 400, '/monthlyQuota'],
      [{ monthlyQuota: '1000000000000.00' }, 400, '/monthlyQuota'],
      [{ regionCode: '3' }, 422, '/regionCode'], // REGION_CODE_INVALID, from the schema pattern
      [{ regionCode: 31 }, 400, '/regionCode'],
      [{ name: '' }, 400, '/name'],
      [{ taxId: '91310000775785552L' }, 400, '/taxId'],
      [{}, 400, '/'],
      [{ name: '   ', regionCode: '31' }, 400, '/name'],
    ];
    for (const [payload, status, path] of cases) {
      const r = await patch(t.tenantId, payload);
      assert.equal(r.statusCode, status, `${JSON.stringify(payload)}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
      assert.ok(r.json().errors.some((e: { path: string }) => e.path === path), `${JSON.stringify(payload)}: ${r.body}`);
    }
    assert.equal((await getTenant(t.tenantId)).body, before);
  });

  it('answers 404 for an unknown tenant and 400 for a malformed id', async () => {
    for (const r of [await patch('t_0000000000000000', { monthlyQuota: '1.00' }), await getTenant('t_0000000000000000')]) {
      assert.equal(r.statusCode, 404);
      assert.equal(r.json().code, 'TENANT_NOT_FOUND');
      assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
    }
    assert.equal((await patch('nope', { monthlyQuota: '1.00' })).statusCode, 400);
    assert.equal((await admin().inject({ method: 'PATCH', url: `/admin/v1/tenants/${t.tenantId}`, ...local, payload: { name: 'x' } })).statusCode, 401);
  });
});
