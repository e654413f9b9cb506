// Received invoices end to end below HTTP: who the buyer tenant is, listing with filters and cursor, booking and
// deduction selection (audited, announced to the buyer), and the rule they decide for red-letter forms: booked or
// selected → the buyer confirms (02); not → no confirmation (01, red invoice at once); a buyer not on this server by
// the setting redLetter.nonTenantBuyerConfirms.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/shared/errors.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import type { Tenant } from '../../src/modules/tenants/index.ts';
import { OTHER_SELLER, SELLER, draft, useCases, type Kit } from './kit.ts';

const BUYER_TAX_ID = '91440300708461136T';
const by = { actor: 'apikey:test' };
const code = (c: string) => (e: unknown) => e instanceof AppError && e.code === c;

describe('received invoices', () => {
  let k: Kit;
  let seller: Tenant;
  let buyer: Tenant;
  let stranger: Tenant;

  before(async () => {
    k = await useCases();
    seller = (await k.app.services.tenants.create(SELLER)).tenant;
    buyer = (await k.app.services.tenants.create({ name: '杭州买方贸易有限公司', taxId: BUYER_TAX_ID, regionCode: '33' })).tenant;
    stranger = (await k.app.services.tenants.create(OTHER_SELLER)).tenant;
  });
  after(() => k.close());

  async function blue(overrides: Parameters<typeof draft>[0] = {}, from = seller): Promise<Invoice> {
    const r = await k.app.services.invoices.issue(from, draft(overrides), { replayStatus: 201 });
    return JSON.parse(r.json) as Invoice;
  }
  const rc = () => k.app.services.received;
  const rl = () => k.app.services.redLetter;
  const events = (tenantId: string, number: string) => k.app.storage.db.selectFrom('outbox_events').select(['type', 'payload'])
    .where('tenant_id', '=', tenantId).where('payload', 'like', `%${number}%`).orderBy('id').execute();

  it('an invoice addressed to a tenant is that tenant\'s too, announced to it without the buyer block', async () => {
    const inv = await blue();
    const got = await rc().get(buyer, inv.number);
    assert.equal(got.invoice.number, inv.number);
    assert.deepEqual(got.status, { booked: false, deductionSelected: false });
    const received = await events(buyer.id, inv.number);
    assert.deepEqual(received.map((e) => e.type), ['invoice.received']);
    const data = (JSON.parse(received[0]!.payload) as { data: Record<string, unknown> }).data;
    assert.equal(data.number, inv.number);
    assert.deepEqual(data.seller, { name: SELLER.name, taxId: SELLER.taxId });
    assert.equal(data.buyer, undefined);
    assert.ok(!received[0]!.payload.includes('13812345678'), 'no buyer data in the event');
    // Tenant isolation: the seller and a stranger get 404, never 403.
    await assert.rejects(rc().get(seller, inv.number), code('INVOICE_NOT_FOUND'));
    await assert.rejects(rc().get(stranger, inv.number), code('INVOICE_NOT_FOUND'));
    await assert.rejects(rc().update(stranger, inv.number, { booked: true }, by), code('INVOICE_NOT_FOUND'));
    await assert.rejects(rc().get(buyer, '00000000000000000000'), code('INVOICE_NOT_FOUND'));
  });

  it('an invoice to a buyer not on this server is nobody\'s received invoice and announces nothing to a buyer', async () => {
    const inv = await blue({ buyer: { name: '某个外部公司', taxId: '915300007194052520' } });
    await assert.rejects(rc().get(buyer, inv.number), code('INVOICE_NOT_FOUND'));
    const types = await k.app.storage.db.selectFrom('outbox_events').select('type').where('payload', 'like', `%${inv.number}%`).execute();
    assert.deepEqual(types.map((t) => t.type), ['invoice.issued']);
  });

  it('booking and selecting: one audit entry and one buyer event per change; the same value changes nothing', async () => {
    const inv = await blue();
    const booked = await rc().update(buyer, inv.number, { booked: true }, by);
    assert.equal(booked.status.booked, true);
    assert.equal(booked.status.bookedAt, k.clock.now().toISOString());
    assert.equal(booked.status.deductionSelected, false);
    const again = await rc().update(buyer, inv.number, { booked: true }, by);
    assert.deepEqual(again.status, booked.status);
    const both = await rc().update(buyer, inv.number, { booked: false, deductionSelected: true }, by);
    assert.deepEqual([both.status.booked, both.status.deductionSelected], [false, true]);
    const audit = await k.app.storage.db.selectFrom('audit_events').select(['action', 'tenant_id', 'actor']).where('target', '=', inv.number).orderBy('seq').execute();
    assert.deepEqual(audit.map((a) => a.action), ['invoice.issue', 'received-invoice.book', 'received-invoice.unbook', 'received-invoice.select-deduction']);
    assert.ok(audit.slice(1).every((a) => a.tenant_id === buyer.id && a.actor === 'apikey:test'));
    assert.deepEqual((await events(buyer.id, inv.number)).map((e) => e.type),
      ['invoice.received', 'received-invoice.booked', 'received-invoice.unbooked', 'received-invoice.deduction-selected']);
    assert.deepEqual((await events(seller.id, inv.number)).map((e) => e.type), ['invoice.issued'], 'the seller hears nothing of it');
    await assert.rejects(rc().update(buyer, inv.number, {}, by), code('VALIDATION_FAILED'));
  });

  it('lists with filters and cursor paging; a malformed cursor is CURSOR_INVALID', async () => {
    const other = (await k.app.services.tenants.create({ name: '第三家销售公司', taxId: '91530000MA6N2TUK7X', regionCode: '53' }).catch(() => undefined))?.tenant;
    const mine = [await blue(), await blue(), await blue()];
    const fromOther = other ? await blue({}, other) : undefined;
    await rc().update(buyer, mine[1]!.number, { booked: true }, by);
    const all: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await rc().list(buyer, { limit: 2, ...(cursor ? { cursor } : {}) });
      assert.ok(page.items.length <= 2);
      all.push(...page.items.map((i) => i.invoice.number));
      cursor = page.nextCursor;
    } while (cursor);
    for (const inv of mine) assert.ok(all.includes(inv.number));
    assert.equal(new Set(all).size, all.length, 'no row twice');
    const booked = await rc().list(buyer, { booked: true });
    assert.ok(booked.items.some((i) => i.invoice.number === mine[1]!.number));
    assert.ok(booked.items.every((i) => i.status.booked));
    const notBooked = await rc().list(buyer, { booked: false });
    assert.ok(!notBooked.items.some((i) => i.invoice.number === mine[1]!.number));
    assert.ok(notBooked.items.some((i) => i.invoice.number === mine[0]!.number));
    if (fromOther) {
      const bySeller = await rc().list(buyer, { sellerTaxId: SELLER.taxId });
      assert.ok(!bySeller.items.some((i) => i.invoice.number === fromOther.number));
      assert.ok((await rc().list(buyer, { sellerTaxId: '91530000MA6N2TUK7X' })).items.every((i) => i.invoice.seller.taxId === '91530000MA6N2TUK7X'));
    }
    assert.deepEqual((await rc().list(buyer, { issuedFrom: '2099-01-01' })).items, []);
    assert.deepEqual((await rc().list(seller, {})).items.filter((i) => i.invoice.seller.taxId === SELLER.taxId), [], 'a seller receives nothing of its own');
    await assert.rejects(rc().list(buyer, { cursor: 'not-a-cursor!' }), code('CURSOR_INVALID'));
    await assert.rejects(rc().list(stranger, { cursor: 'eyJkIjoiMjAyNi0wMi0zMSIsIm4iOiIwMDAwMDAwMDAwMDAwMDAwMDAwMCJ9' }), code('CURSOR_INVALID'));
  });

  it('buyer booked, then the seller files: the form awaits the buyer (02), who confirms (04) and hears of the reversal', async () => {
    const inv = await blue();
    await rc().update(buyer, inv.number, { booked: true }, by);
    const { form } = await rl().file(seller, { invoiceNumber: inv.number, reason: '01' }, { by });
    assert.equal(form.state, '02');
    assert.equal(form.redNumber, undefined);
    const toConfirm = await rl().list(buyer, { direction: 'received', invoiceNumber: inv.number });
    assert.deepEqual(toConfirm.items.map((f) => f.id), [form.id]);
    const confirmed = await rl().confirm(buyer, form.id, by);
    assert.equal(confirmed.state, '04');
    assert.ok(confirmed.redNumber);
    assert.equal((await rc().get(buyer, inv.number)).invoice.status, 'red-flushed');
    const types = (await events(buyer.id, inv.number)).map((e) => e.type);
    assert.deepEqual(types, ['invoice.received', 'received-invoice.booked', 'red-letter.filed', 'red-letter.confirmed', 'received-invoice.red-flushed']);
    // The red invoice is received too, and announced as such.
    const red = await rc().get(buyer, confirmed.redNumber);
    assert.equal(red.invoice.kind, 'red');
    assert.deepEqual((await events(buyer.id, confirmed.redNumber)).map((e) => e.type), ['invoice.received', 'received-invoice.red-flushed']);
  });

  it('selected for deduction only: the buyer must confirm too (02)', async () => {
    const inv = await blue();
    await rc().update(buyer, inv.number, { deductionSelected: true }, by);
    assert.equal((await rl().file(seller, { invoiceNumber: inv.number, reason: '02' }, { by })).form.state, '02');
  });

  it('not booked: the form needs no confirmation (01), the red invoice is issued at once, the buyer sees the form', async () => {
    const inv = await blue();
    const { form } = await rl().file(seller, { invoiceNumber: inv.number, reason: '03' }, { by });
    assert.equal(form.state, '01');
    assert.equal(form.buyerTenantId, buyer.id);
    assert.ok(form.redNumber, 'red invoice issued');
    assert.equal(form.expiresAt, undefined);
    assert.equal((await k.app.services.invoices.get(seller.id, inv.number)).status, 'red-flushed');
    const seen = await rl().list(buyer, { direction: 'received', invoiceNumber: inv.number });
    assert.deepEqual(seen.items.map((f) => f.id), [form.id]);
    await assert.rejects(rl().confirm(buyer, form.id, by), code('RED_LETTER_TRANSITION_REFUSED'));
    // Unbooked after booking counts as not used.
    const inv2 = await blue();
    await rc().update(buyer, inv2.number, { booked: true }, by);
    await rc().update(buyer, inv2.number, { booked: false }, by);
    assert.equal((await rl().file(seller, { invoiceNumber: inv2.number, reason: '01' }, { by })).form.state, '01');
  });

  it('an unknown reason is RED_LETTER_REASON_INVALID at /reason', async () => {
    const inv = await blue();
    const e = await rl().file(seller, { invoiceNumber: inv.number, reason: '09' }, { by }).catch((x: unknown) => x);
    assert.ok(e instanceof AppError && e.code === 'RED_LETTER_REASON_INVALID' && e.errors?.[0]?.path === '/reason');
  });
});

describe('received invoices: configured rules', () => {
  it('a buyer not on this server must confirm when redLetter.nonTenantBuyerConfirms is set; reasons are configurable', async () => {
    const k = await useCases({ FAPIAO_RED_LETTER_NON_TENANT_BUYER_CONFIRMS: 'true', FAPIAO_RED_LETTER_REASONS: '01 开票有误,05 测试原因' });
    try {
      const seller = (await k.app.services.tenants.create(SELLER)).tenant;
      const r = await k.app.services.invoices.issue(seller, draft({ buyer: { name: '某个外部公司', taxId: '915300007194052520' } }), { replayStatus: 201 });
      const inv = JSON.parse(r.json) as Invoice;
      await assert.rejects(k.app.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '02' }, { by }), code('RED_LETTER_REASON_INVALID'));
      const { form } = await k.app.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '05' }, { by });
      assert.equal(form.state, '02');
      assert.equal(form.buyerTenantId, undefined);
      assert.ok(form.expiresAt);
      assert.equal(k.app.services.redLetter.reasonLabel('05'), '测试原因');
    } finally {
      await k.close();
    }
  });
});
