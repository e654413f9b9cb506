// 发票查验 as a use case on SQLite in memory with a manual clock: an issued invoice verifies as authentic with the
// buyer masked; a wrong date or total is indistinguishable from a missing number; a row changed in the database is
// `tampered`; checks per invoice number are limited per day in the tax zone and the limit resets at midnight UTC+8.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { AppError } from '../../src/shared/errors.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { draft, SELLER, useCases, type Kit } from './kit.ts';

void describe('verification (use case)', () => {
  let kit: Kit;
  let invoice: Invoice;
  before(async () => {
    kit = await useCases({ FAPIAO_VERIFY_PER_INVOICE_PER_DAY: '3' });
    kit.clock.set('2026-11-24T06:00:00.000Z');
    const { tenant } = await kit.app.services.tenants.create(SELLER);
    const r = await kit.app.services.invoices.issue(tenant, draft({ buyer: { name: '王小明', taxId: '110101199003078515' } }), { replayStatus: 201 });
    invoice = JSON.parse(r.json) as Invoice;
  });
  after(() => kit.close());

  void it('answers authentic with the buyer masked, and not-found for any wrong input alike', async () => {
    const ok = await kit.app.services.verify.verify({ number: invoice.number, issueDate: '2026-11-24', total: '113.00' });
    assert.equal(ok.result, 'authentic');
    if (ok.result !== 'authentic') return;
    assert.equal(ok.invoice.totals.total, '113.00');
    assert.notEqual(ok.invoice.buyer.name, '王小明');
    assert.doesNotMatch(JSON.stringify(ok), /110101199003078515|王小明/);
    assert.deepEqual(await kit.app.services.verify.verify({ number: invoice.number, issueDate: '2026-11-23', total: '113.00' }), { result: 'not-found' });
    kit.clock.advance(86_400_000);
  });

  void it('limits checks of one number per tax day, and lets them again after midnight in Beijing', async () => {
    kit.clock.set('2026-11-25T15:00:00.000Z'); // 23:00 in Beijing
    const check = () => kit.app.services.verify.verify({ number: invoice.number, issueDate: '2026-11-24', total: '1.00' });
    for (let i = 0; i < 3; i++) assert.deepEqual(await check(), { result: 'not-found' });
    await assert.rejects(check(), (e: unknown) => e instanceof AppError && e.code === 'RATE_LIMITED' && e.headers?.['retry-after'] === '3600');
    kit.clock.set('2026-11-25T16:00:00.000Z'); // 00:00 on the 26th in Beijing
    assert.deepEqual(await check(), { result: 'not-found' });
  });

  void it('answers tampered when the stored invoice was changed behind the server\'s back', async () => {
    kit.clock.set('2026-11-27T06:00:00.000Z');
    const changed = JSON.stringify({ ...invoice, issuer: '李四' });
    await sql`update invoices set document = ${changed} where number = ${invoice.number}`.execute(kit.app.storage.db);
    const r = await kit.app.services.verify.verify({ number: invoice.number, issueDate: '2026-11-24', total: '113.00' });
    assert.deepEqual(r, { result: 'tampered', number: invoice.number });
  });
});
