// Two server nodes sharing one PostgreSQL database (docs/design.md §9): 200 concurrent issues split across both nodes get
// 200 consecutive numbers of the shared series and 200 distinct ledger indices (invariant 2).
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { twoNodesOnPostgres } from '../helpers/pg-nodes.ts';
import { pgTestUrl, PG_SKIP_REASON, type PgTestDatabase } from '../helpers/pg.ts';
import type { Invoice } from '../../src/shared/invoice.ts';

const db: PgTestDatabase | undefined = await pgTestUrl();

describe('two nodes on one PostgreSQL', { skip: db ? false : PG_SKIP_REASON }, () => {
  const nodes = twoNodesOnPostgres(db!);
  let a: TestApp;
  let b: TestApp;
  before(() => ({ a, b } = nodes));

  it('numbers 200 concurrent issues across both nodes without gaps or duplicates', async () => {
    const send = (t: TestApp) =>
      t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => send(i % 2 === 0 ? a : b)));
    for (const r of results) assert.equal(r.statusCode, 201, r.body);
    const invoices = results.map((r) => r.json<Invoice>());
    const seqs = invoices.map((i) => Number(i.number.slice(5))).sort((x, y) => x - y);
    assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => seqs[0]! + i));
    assert.equal(new Set(invoices.map((i) => i.ledger.index)).size, 200);
    assert.equal(new Set(invoices.map((i) => i.signature.keyId)).size, 1, 'both nodes sign with the one stored key');
  });

  it('lets each node read and verify what the other issued, and keeps tenants apart', async () => {
    const res = await a.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${a.apiKey}` }, payload: sampleInvoice() });
    const inv = res.json<Invoice>();
    const onB = await b.api.inject({ method: 'POST', url: '/v1/verify', payload: { number: inv.number, issueDate: inv.issueDate, total: '113.00' } });
    assert.equal(onB.json().result, 'authentic');
    const sameTenantOnB = await b.api.inject({ method: 'GET', url: `/v1/invoices/${inv.number}`, headers: { authorization: `Bearer ${a.apiKey}` } });
    assert.equal(sameTenantOnB.statusCode, 200);
    const otherTenant = await b.api.inject({ method: 'GET', url: `/v1/invoices/${inv.number}`, headers: { authorization: `Bearer ${b.apiKey}` } });
    assert.equal(otherTenant.statusCode, 404);
  });
});
