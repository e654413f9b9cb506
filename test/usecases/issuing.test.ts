// Issuing as a use case (InvoiceService → IssueWriter → commitIssueBatch) on SQLite in memory with a manual clock:
// numbering, dates in UTC+8, totals, the rows that belong to an issue, idempotency, externalId, quota.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/shared/errors.ts';
import type { Tenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { checkInvoice } from '../../src/modules/invoicing/app/seal.ts';
import { draft, SELLER, OTHER_SELLER, useCases, type Kit } from './kit.ts';

const REPLAY = 201;

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof AppError && e.code === code);
}

void describe('issuing (use case)', () => {
  let kit: Kit;
  let tenant: Tenant;

  before(async () => {
    kit = await useCases();
    tenant = (await kit.app.services.tenants.create(SELLER)).tenant;
  });
  after(() => kit.close());

  void it('numbers, dates and seals an invoice at the clock\'s time, in the tax zone', async () => {
    // 23:30 UTC is already the next day in Beijing.
    kit.clock.set('2026-11-24T23:30:00.000Z');
    const r = await kit.app.services.invoices.issue(tenant, draft(), { replayStatus: REPLAY });
    assert.equal(r.outcome, 'created');
    const invoice = JSON.parse(r.json) as Invoice;
    assert.match(invoice.number, /^2631\d{16}$/);
    assert.equal(invoice.issueDate, '2026-11-25');
    assert.equal(invoice.issuedAt, '2026-11-25T07:30:00.000+08:00');
    assert.deepEqual(invoice.totals, { amount: '100.00', tax: '13.00', total: '113.00', totalInCapitals: '壹佰壹拾叁圆整' });
    const key = await kit.app.services.keys.activeKeyPair();
    assert.deepEqual(checkInvoice(invoice, key.publicKey), { hashValid: true, signatureValid: true, qrValid: true });
    // Everything that belongs to the issue was committed with it.
    const stored = await kit.app.services.invoices.get(tenant.id, invoice.number);
    assert.equal(JSON.stringify(stored), r.json);
    const audit = await kit.app.services.audit.search({ tenantId: tenant.id, action: 'invoice.issue', limit: 100 });
    assert.deepEqual(audit.map((e) => [e.target, e.at]), [[invoice.number, '2026-11-24T23:30:00.000Z']]);
    const events = await kit.app.uow.read.outbox.listForTenant(tenant.id, 0, Number.MAX_SAFE_INTEGER, 10);
    assert.deepEqual(events.map((e) => e.type), ['invoice.issued']);
    assert.equal(await kit.app.uow.read.ledger.size(), invoice.ledger.index + 1);
  });

  void it('numbers consecutively, and each tenant in its own series', async () => {
    const other = (await kit.app.services.tenants.create(OTHER_SELLER)).tenant;
    const a1 = await kit.app.services.invoices.issue(tenant, draft(), { replayStatus: REPLAY });
    const b1 = await kit.app.services.invoices.issue(other, draft(), { replayStatus: REPLAY });
    const a2 = await kit.app.services.invoices.issue(tenant, draft(), { replayStatus: REPLAY });
    assert.equal(BigInt(a2.number) - BigInt(a1.number), 1n);
    assert.match(b1.number, /^2611/);
    await rejectsWith(kit.app.services.invoices.get(other.id, a1.number), 'INVOICE_NOT_FOUND');
  });

  void it('replays an Idempotency-Key byte for byte, and refuses it with another body', async () => {
    const first = await kit.app.services.invoices.issue(tenant, draft(), { idempotencyKey: 'order-1', replayStatus: REPLAY });
    kit.clock.advance(60_000);
    const again = await kit.app.services.invoices.issue(tenant, draft(), { idempotencyKey: 'order-1', replayStatus: REPLAY });
    assert.equal(again.outcome, 'replayed');
    assert.equal(again.json, first.json);
    assert.equal(again.replayStatus, REPLAY);
    await rejectsWith(kit.app.services.invoices.issue(tenant, draft({ remarks: 'x' }), { idempotencyKey: 'order-1', replayStatus: REPLAY }), 'IDEMPOTENCY_KEY_REUSED');
    await rejectsWith(kit.app.services.invoices.issue(tenant, draft(), { idempotencyKey: 'bad key', replayStatus: REPLAY }), 'IDEMPOTENCY_KEY_INVALID');
  });

  void it('answers the invoice already issued for an externalId', async () => {
    const first = await kit.app.services.invoices.issue(tenant, draft({ externalId: 'SO-9' }), { replayStatus: REPLAY });
    const again = await kit.app.services.invoices.issue(tenant, draft({ externalId: 'SO-9', remarks: 'different' }), { replayStatus: REPLAY });
    assert.equal(again.outcome, 'existing');
    assert.equal(again.number, first.number);
  });

  void it('refuses what breaks a rule and writes nothing', async () => {
    const before = await kit.app.uow.read.ledger.size();
    await rejectsWith(kit.app.services.invoices.issue(tenant, draft({ buyer: { name: '自己', taxId: SELLER.taxId } }), { replayStatus: REPLAY }), 'BUYER_IS_SELLER');
    await rejectsWith(kit.app.services.invoices.issue(tenant, draft({ type: 'special', buyer: { name: '无税号' } }), { replayStatus: REPLAY }), 'BUYER_TAX_ID_REQUIRED');
    assert.equal(await kit.app.uow.read.ledger.size(), before);
  });

  void it('charges the monthly quota in the tax zone\'s month and refuses past it, consuming no number', async () => {
    const q = (await kit.app.services.tenants.create({ ...OTHER_SELLER, regionCode: '44', monthlyQuota: '250.00' })).tenant;
    kit.clock.set('2026-11-30T15:59:59.000Z'); // 23:59:59 on 30 November in Beijing
    const n1 = await kit.app.services.invoices.issue(q, draft(), { replayStatus: REPLAY });
    await kit.app.services.invoices.issue(q, draft(), { replayStatus: REPLAY });
    await rejectsWith(kit.app.services.invoices.issue(q, draft(), { replayStatus: REPLAY }), 'QUOTA_EXCEEDED');
    kit.clock.advance(1000); // 1 December in Beijing: a new period
    const n3 = await kit.app.services.invoices.issue(q, draft(), { replayStatus: REPLAY });
    assert.equal(BigInt(n3.number) - BigInt(n1.number), 2n, 'the refused request consumed no number');
  });
});
