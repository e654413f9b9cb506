// Two server nodes on one PostgreSQL racing for the last of a tenant's monthly quota (docs/design.md §9): each node's
// writer admits from its own view, the guarded usage upsert in the issuing transaction keeps the total within the
// quota, and every refused request leaves no gap in the shared series.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { twoNodesOnPostgres } from '../helpers/pg-nodes.ts';
import { pgTestUrl, PG_SKIP_REASON, type PgTestDatabase } from '../helpers/pg.ts';
import type { Invoice } from '../../src/shared/invoice.ts';

const db: PgTestDatabase | undefined = await pgTestUrl();

describe('issuing quota on two nodes sharing PostgreSQL', { skip: db ? false : PG_SKIP_REASON }, () => {
  const nodes = twoNodesOnPostgres(db!);
  let a: TestApp;
  let b: TestApp;
  before(() => ({ a, b } = nodes));

  const issue = (node: TestApp) =>
    node.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${a.apiKey}` }, payload: sampleInvoice() });
  const setQuota = (node: TestApp, monthlyQuota: string) =>
    node.servers.get('admin')!.inject({
      method: 'PATCH', url: `/admin/v1/tenants/${a.tenantId}`, remoteAddress: '127.0.0.1',
      headers: { authorization: `Bearer ${node.adminToken}` }, payload: { monthlyQuota },
    });

  it('never lets the total exceed the quota, whichever node issues', async () => {
    // Both nodes learn the tenant (and cache a view with plenty left) before the quota is set on node a only.
    assert.equal((await issue(a)).statusCode, 201);
    assert.equal((await issue(b)).statusCode, 201);
    assert.equal((await setQuota(a, '1000.00')).statusCode, 200);

    // 100.00 excluding VAT each; 200.00 already used, so at most 8 of these 30 fit.
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => issue(i % 2 === 0 ? a : b)));
    const ok = results.filter((r) => r.statusCode === 201);
    const refused = results.filter((r) => r.statusCode !== 201);
    assert.ok(refused.every((r) => r.statusCode === 422 && r.json().code === 'QUOTA_EXCEEDED'), refused.map((r) => r.body).join('\n'));
    assert.ok(ok.length >= 1 && ok.length <= 8, `${ok.length} issued`);

    const view = (await b.servers.get('admin')!.inject({
      method: 'GET', url: `/admin/v1/tenants/${a.tenantId}`, remoteAddress: '127.0.0.1', headers: { authorization: `Bearer ${b.adminToken}` },
    })).json();
    assert.equal(view.quotaUsage.used, `${200 + ok.length * 100}.00`, 'usage is exactly what was issued');
    const seqs = ok.map((r) => Number(r.json<Invoice>().number.slice(5))).sort((x, y) => x - y);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'refusals leave no gap in the shared series');
  });

  it('lets a node that cached the old quota issue once another node raised it', async () => {
    assert.equal((await issue(b)).json().code, 'QUOTA_EXCEEDED');
    assert.equal((await setQuota(a, '5000.00')).statusCode, 200);
    const r = await issue(b);
    assert.equal(r.statusCode, 201, r.body);
  });

  it('stops a node that cached a higher quota once another node lowered it', async () => {
    assert.equal((await issue(b)).statusCode, 201);
    assert.equal((await setQuota(a, '100.00')).statusCode, 200);
    const r = await issue(b);
    assert.equal(r.json().code, 'QUOTA_EXCEEDED', r.body);
    assert.equal(r.json().quota, '100.00');
  });
});
