// Invariant 6 (docs/design.md §4): changing one byte of a stored invoice is detected by verification.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import type { Invoice } from '../../src/shared/invoice.ts';

describe('tampering in storage', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('answers tampered for an invoice whose stored bytes changed', async () => {
    const inv = (await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() })).json<Invoice>();
    const check = () => t.api.inject({ method: 'POST', url: '/v1/verify', payload: { number: inv.number, issueDate: inv.issueDate, total: '113.00' } });
    assert.equal((await check()).json().result, 'authentic');

    // A second handle on the same file edits one byte of the stored buyer name, as an attacker with disk access would.
    const db = new Database(join(t.dataDir, 'fapiao.db'));
    const row = db.prepare('SELECT document FROM invoices WHERE number = ?').get(inv.number) as { document: string };
    const edited = row.document.replace('杭州买方贸易有限公司', '杭州买方贸易有限公可');
    assert.notEqual(edited, row.document);
    db.prepare('UPDATE invoices SET document = ? WHERE number = ?').run(edited, inv.number);
    db.close();

    const res = await check();
    assert.equal(res.json().result, 'tampered');
    assert.equal(res.json().invoice, undefined, 'no face data of a tampered invoice is shown');
  });
});
