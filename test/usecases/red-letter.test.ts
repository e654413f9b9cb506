// Red-letter confirmation forms end to end below HTTP: filing, the counterparty, every move, the 72-hour window
// with a manual clock, over-reversal, history, audit entries and outbox events.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/shared/errors.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import type { Tenant } from '../../src/modules/tenants/index.ts';
import type { RedLetterForm } from '../../src/modules/red-letter/storage/red-letter-repository.ts';
import { negateForRed } from '../../src/modules/invoicing/domain/tax.ts';
import { checkInvoice } from '../../src/modules/invoicing/index.ts';
import { OTHER_SELLER, SELLER, draft, useCases, type Kit } from './kit.ts';

const BUYER_TAX_ID = '91440300708461136T';
const by = { actor: 'apikey:test' };
const code = (c: string) => (e: unknown) => e instanceof AppError && e.code === c;

describe('red-letter forms', () => {
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

  async function blue(overrides: Parameters<typeof draft>[0] = {}): Promise<Invoice> {
    const r = await k.app.services.invoices.issue(seller, draft(overrides), { replayStatus: 201 });
    return JSON.parse(r.json) as Invoice;
  }
  const rl = () => k.app.services.redLetter;
  /** A blue invoice the buyer tenant has booked (入账): a seller's form against it awaits the buyer (02). */
  async function bookedBlue(overrides: Parameters<typeof draft>[0] = {}): Promise<Invoice> {
    const inv = await blue(overrides);
    await k.app.services.received.update(buyer, inv.number, { booked: true }, by);
    return inv;
  }

  it('a form against an invoice the buyer tenant booked awaits the buyer (02); the buyer confirms (04)', async () => {
    const inv = await bookedBlue();
    const { outcome, form } = await rl().file(seller, { invoiceNumber: inv.number, reason: '01' }, { by });
    assert.equal(outcome, 'created');
    assert.equal(form.state, '02');
    assert.equal(form.buyerTenantId, buyer.id);
    assert.deepEqual([form.amount, form.tax, form.total], ['100.00', '13.00', '113.00']);
    assert.equal(form.expiresAt, new Date(k.clock.now().getTime() + 72 * 3600_000).toISOString());
    // The seller may not confirm its own form; a stranger does not see it.
    await assert.rejects(rl().confirm(seller, form.id, by), (e: AppError) => e.code === 'RED_LETTER_TRANSITION_REFUSED' && e.extensions?.state === '02');
    await assert.rejects(rl().confirm(stranger, form.id, by), code('RED_LETTER_FORM_NOT_FOUND'));
    const confirmed = await rl().confirm(buyer, form.id, by);
    assert.equal(confirmed.state, '04');
    // Confirmation issued the red invoice in the same transaction: revoking is refused now.
    assert.ok(confirmed.redNumber);
    await assert.rejects(rl().revoke(seller, form.id, by), (e: AppError) => e.code === 'RED_LETTER_TRANSITION_REFUSED' && /red invoice/.test(e.message));
    await assert.rejects(rl().confirm(buyer, form.id, by), (e: AppError) => e.code === 'RED_LETTER_TRANSITION_REFUSED' && /state 04/.test(e.message));
    const red = await k.app.services.invoices.get(seller.id, confirmed.redNumber);
    assert.equal(red.kind, 'red');
    assert.equal(red.originalNumber, inv.number);
    assert.equal(red.redLetterFormId, form.id);
    assert.equal(red.remarks, `被红冲蓝字数电票号码：${inv.number} 红字发票信息确认单编号：${form.id}`);
    assert.deepEqual(red.totals, { amount: '-100.00', tax: '-13.00', total: '-113.00', totalInCapitals: '（负数）壹佰壹拾叁圆整' });
    assert.deepEqual(red.lines.map((l) => [l.quantity, l.amount, l.tax, l.total]), [['-1', '-100.00', '-13.00', '-113.00']]);
    const check = checkInvoice(red, (await k.app.services.keys.activeKeyPair()).publicKey);
    assert.deepEqual([check.hashValid, check.signatureValid, check.qrValid], [true, true, true]);
    assert.equal((await k.app.services.invoices.get(seller.id, inv.number)).status, 'red-flushed');
    const { history } = await rl().get(buyer, form.id);
    assert.deepEqual(history.map((h) => [h.from, h.to, h.action, h.party]), [['10', '02', 'file', 'seller'], ['02', '04', 'confirm', 'buyer']]);
    // Audit entries and outbox events, one per move (events to both parties).
    const events = await k.app.storage.db.selectFrom('outbox_events').select(['tenant_id', 'type', 'payload']).where('payload', 'like', `%${form.id}%`).orderBy('id').execute();
    assert.deepEqual(events.map((e) => e.type), ['red-letter.filed', 'red-letter.filed', 'red-letter.confirmed', 'red-letter.confirmed', 'invoice.red-flushed', 'received-invoice.red-flushed']);
    const actions = await k.app.storage.db.selectFrom('audit_events').select('action').where('target', '=', form.id).orderBy('seq').execute();
    assert.deepEqual(actions.map((a) => a.action), ['red-letter.file', 'red-letter.confirm']);
  });

  it('the buyer rejects (05); the seller revokes an open form (08); once void, amounts are free again', async () => {
    const inv = await bookedBlue();
    const a = (await rl().file(seller, { invoiceNumber: inv.number, reason: '02' }, { by })).form;
    await assert.rejects(rl().file(seller, { invoiceNumber: inv.number, reason: '01' }, { by }), code('RED_LETTER_OVER_REVERSAL'));
    assert.equal((await rl().reject(buyer, a.id, by)).state, '05');
    const b = (await rl().file(seller, { invoiceNumber: inv.number, reason: '02' }, { by })).form;
    assert.notEqual(b.id, a.id);
    await assert.rejects(rl().revoke(buyer, b.id, by), code('RED_LETTER_TRANSITION_REFUSED'));
    assert.equal((await rl().revoke(seller, b.id, by)).state, '08');
  });

  it('the buyer files (03); the seller confirms (04) or rejects (06)', async () => {
    const inv = await blue({ lines: [{ name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '4', unitPrice: '25', amount: '100.00', taxRate: '0.13' }] });
    const f = (await rl().file(buyer, { invoiceNumber: inv.number, reason: '02', lines: [{ line: 1, quantity: '1' }] }, { by })).form;
    assert.equal(f.state, '03');
    assert.equal(f.filedBy, 'buyer');
    assert.deepEqual(f.claims, [{ lineNo: 1, amount: '25.00', tax: '3.25', quantity: '1' }]);
    await assert.rejects(rl().confirm(buyer, f.id, by), code('RED_LETTER_TRANSITION_REFUSED'));
    assert.equal((await rl().confirm(seller, f.id, by)).state, '04');
    const g = (await rl().file(buyer, { invoiceNumber: inv.number, reason: '02', lines: [{ line: 1, quantity: '3.5' }] }, { by }).catch((e: unknown) => e));
    assert.ok(g instanceof AppError && g.code === 'RED_LETTER_OVER_REVERSAL' && /75\.00 \(tax 9\.75, quantity 3\) remains/.test(g.errors![0]!.message));
    const h = (await rl().file(buyer, { invoiceNumber: inv.number, reason: '02', lines: [{ line: 1, quantity: '3' }] }, { by })).form;
    assert.equal((await rl().reject(seller, h.id, by)).state, '06');
    // Filed lists: the buyer filed, the seller received.
    // (The manual clock stands still: both forms have the same filing millisecond, so compare as sets.)
    const filed = await rl().list(buyer, { direction: 'filed', invoiceNumber: inv.number });
    assert.deepEqual(filed.items.map((x) => x.id).sort(), [h.id, f.id].sort());
    const received = await rl().list(seller, { direction: 'received', invoiceNumber: inv.number });
    assert.deepEqual(received.items.map((x) => x.id).sort(), [h.id, f.id].sort());
    assert.deepEqual((await rl().list(seller, { direction: 'filed', invoiceNumber: inv.number })).items, []);
    assert.deepEqual((await rl().list(seller, { state: '06', invoiceNumber: inv.number })).items.map((x) => x.id), [h.id]);
  });

  it('an invoice whose buyer is not on this server needs no confirmation (01)', async () => {
    const inv = await blue({ buyer: { name: '某个外部公司', taxId: '915300007194052520' } });
    const f = (await rl().file(seller, { invoiceNumber: inv.number, reason: '01' }, { by })).form;
    assert.equal(f.state, '01');
    assert.equal(f.buyerTenantId, undefined);
    assert.equal(f.expiresAt, undefined);
  });

  it('filing the same form again, or with the same Idempotency-Key, answers the existing form', async () => {
    const inv = await blue();
    const first = await rl().file(seller, { invoiceNumber: inv.number, reason: '04', lines: [{ line: 1, amount: '10' }] }, { by, idempotencyKey: 'k-1' });
    const again = await rl().file(seller, { invoiceNumber: inv.number, reason: '04', lines: [{ line: 1, amount: '10.00' }] }, { by });
    assert.equal(again.outcome, 'existing');
    assert.equal(again.form.id, first.form.id);
    const byKey = await rl().file(seller, { invoiceNumber: inv.number, reason: '01' }, { by, idempotencyKey: 'k-1' });
    assert.equal(byKey.outcome, 'existing');
    assert.equal(byKey.form.id, first.form.id);
    // A different request is another form.
    const other = await rl().file(seller, { invoiceNumber: inv.number, reason: '04', lines: [{ line: 1, amount: '10.01' }] }, { by });
    assert.equal(other.outcome, 'created');
  });

  it('refuses unknown invoices, another tenant\'s invoice, bad reasons, a red target', async () => {
    const inv = await blue();
    await assert.rejects(rl().file(seller, { invoiceNumber: '26319000000000099999', reason: '01' }, { by }), code('INVOICE_NOT_FOUND'));
    await assert.rejects(rl().file(stranger, { invoiceNumber: inv.number, reason: '01' }, { by }), code('INVOICE_NOT_FOUND'));
    await assert.rejects(rl().file(seller, { invoiceNumber: 'x', reason: '01' }, { by }), code('INVOICE_NOT_FOUND'));
    for (const reason of ['05', '', '1', 'constructor']) {
      await assert.rejects(rl().file(seller, { invoiceNumber: inv.number, reason }, { by }), code('RED_LETTER_REASON_INVALID'));
    }
    await assert.rejects(rl().file(seller, { invoiceNumber: inv.number, reason: '01' }, { by, idempotencyKey: 'bad key' }), code('IDEMPOTENCY_KEY_INVALID'));
    await assert.rejects(rl().get(stranger, '0000000000000000000000000'), code('RED_LETTER_FORM_NOT_FOUND'));
    await assert.rejects(rl().get(seller, '../etc'), code('RED_LETTER_FORM_NOT_FOUND'));
    await assert.rejects(rl().list(seller, { cursor: 'x' }), code('CURSOR_INVALID'));
  });

  it('refuses a red invoice as the target (RED_LETTER_TARGET_RED)', async () => {
    const inv = await blue();
    const { number: _n, issuedAt: _a, issueDate: _d, status: _s, hash: _h, signature: _sig, qr: _q, ledger: _l, ...body } = inv;
    const red = await k.app.services.writer.write({
      tenantId: seller.id, regionCode: seller.regionCode, channel: seller.channel,
      draft: { ...body, kind: 'red', ...negateForRed(inv.lines, inv.totals), originalNumber: inv.number },
    });
    await assert.rejects(rl().file(seller, { invoiceNumber: red.invoice.number, reason: '01' }, { by }), code('RED_LETTER_TARGET_RED'));
  });

  it('partial reversals sum exactly to the blue invoice', async () => {
    const inv = await blue({ buyer: { name: '某个外部公司', taxId: '915300007194052520' }, lines: [
      { name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '3', unitPrice: '33.3333333333333', amount: '100.00', taxRate: '0.13' },
      { name: '维护费', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '0.07', taxRate: '0.06' },
    ] });
    const forms: RedLetterForm[] = [];
    // The same request twice is one form, so each piece gives another reason.
    for (const reason of ['01', '02', '03']) forms.push((await rl().file(seller, { invoiceNumber: inv.number, reason, lines: [{ line: 1, quantity: '1' }] }, { by })).form);
    forms.push((await rl().file(seller, { invoiceNumber: inv.number, reason: '04' }, { by })).form);
    await assert.rejects(rl().file(seller, { invoiceNumber: inv.number, reason: '01', lines: [{ line: 2 }] }, { by }), code('RED_LETTER_OVER_REVERSAL'));
    const sum = (f: (x: RedLetterForm) => string) => forms.reduce((a, x) => a + Math.round(Number(f(x)) * 100), 0);
    assert.equal(sum((x) => x.amount), 10007);
    assert.equal(sum((x) => x.tax), Math.round(Number(inv.totals.tax) * 100));
    assert.deepEqual(forms.map((f) => f.amount), ['33.33', '33.33', '33.34', '0.07']);
    // No confirmation needed (the buyer is not on this server): each form got its red invoice at once; they sum to
    // exactly the negated blue invoice, and the blue invoice went red-flushed in part, then in full.
    const reds = await Promise.all(forms.map((f) => k.app.services.invoices.get(seller.id, f.redNumber!)));
    const cents = (f: (i: Invoice) => string) => reds.reduce((a, r) => a + Math.round(Number(f(r)) * 100), 0);
    assert.equal(cents((r) => r.totals.total), -Math.round(Number(inv.totals.total) * 100));
    assert.equal(cents((r) => r.totals.tax), -Math.round(Number(inv.totals.tax) * 100));
    assert.equal((await k.app.services.invoices.get(seller.id, inv.number)).status, 'red-flushed');
  });

  it('the blue invoice is red-flushed in part, and the red amount gives the quota back', async () => {
    const q = (await k.app.services.tenants.create({ name: '限额公司', taxId: '91350100M000100Y43', regionCode: '35', monthlyQuota: '150.00' })).tenant;
    const inv = JSON.parse((await k.app.services.invoices.issue(q, draft({ buyer: { name: '外部', taxId: '915300007194052520' } }), { replayStatus: 201 })).json) as Invoice;
    await assert.rejects(k.app.services.invoices.issue(q, draft({ buyer: { name: '外部', taxId: '915300007194052520' } }), { replayStatus: 201 }), code('QUOTA_EXCEEDED'));
    const f = (await rl().file(q, { invoiceNumber: inv.number, reason: '04', lines: [{ line: 1, amount: '60.00' }] }, { by })).form;
    assert.equal(f.state, '01');
    const red = await k.app.services.invoices.get(q.id, f.redNumber!);
    assert.deepEqual(red.lines.map((l) => [l.quantity, l.unitPrice, l.amount, l.tax]), [[undefined, undefined, '-60.00', '-7.80']]);
    assert.equal((await k.app.services.invoices.get(q.id, inv.number)).status, 'red-flushed-partial');
    // 100.00 − 60.00 used: another 100.00 fits in 150.00 now.
    await k.app.services.invoices.issue(q, draft({ buyer: { name: '外部', taxId: '915300007194052520' } }), { replayStatus: 201 });
  });

  it('cursor paging walks every form once, newest first', async () => {
    const all: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await rl().list(seller, { limit: 2, ...(cursor ? { cursor } : {}) });
      all.push(...page.items.map((f) => f.id));
      cursor = page.next;
    } while (cursor);
    assert.equal(new Set(all).size, all.length);
    assert.deepEqual([...all].sort().reverse(), all);
    assert.ok(all.length >= 10);
  });
});

describe('the 72-hour window', () => {
  let k: Kit;
  let seller: Tenant;
  let buyer: Tenant;
  before(async () => {
    k = await useCases();
    seller = (await k.app.services.tenants.create(SELLER)).tenant;
    buyer = (await k.app.services.tenants.create({ name: '买方', taxId: BUYER_TAX_ID, regionCode: '33' })).tenant;
    await k.app.services.redLetterExpiry.stop();
  });
  after(() => k.close());

  it('a form may be confirmed until one second before 72 hours; at 72 hours it is void (07)', async () => {
    const inv = JSON.parse((await k.app.services.invoices.issue(seller, draft(), { replayStatus: 201 })).json) as Invoice;
    await k.app.services.received.update(buyer, inv.number, { booked: true }, by);
    const a = (await k.app.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '02', lines: [{ line: 1, amount: '10.00' }] }, { by })).form;
    const b = (await k.app.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '02', lines: [{ line: 1, amount: '20.00' }] }, { by })).form;
    k.clock.advance(72 * 3600_000 - 1000);
    assert.equal(await k.app.services.redLetterExpiry.runOnce(), 0);
    assert.equal((await k.app.services.redLetter.confirm(buyer, a.id, by)).state, '04');
    k.clock.advance(1000);
    // The job has not run: the move itself records the expiry and is refused.
    await assert.rejects(k.app.services.redLetter.confirm(buyer, b.id, by), (e: AppError) => e.code === 'RED_LETTER_FORM_EXPIRED' && e.extensions?.state === '07');
    const { form, history } = await k.app.services.redLetter.get(seller, b.id);
    assert.equal(form.state, '07');
    assert.deepEqual(history.at(-1), { from: '02', to: '07', action: 'expire', actor: 'system', party: 'system', at: k.clock.now().toISOString() });
    assert.equal((await k.app.services.redLetter.get(seller, a.id)).form.state, '04');
  });

  it('the job voids every form due, exactly at its deadline, and a restart loses none', async () => {
    const inv = JSON.parse((await k.app.services.invoices.issue(seller, draft(), { replayStatus: 201 })).json) as Invoice;
    await k.app.services.received.update(buyer, inv.number, { booked: true }, by);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await k.app.services.redLetter.file(seller, { invoiceNumber: inv.number, reason: '02', lines: [{ line: 1, amount: `${i + 1}.00` }] }, { by })).form.id);
      k.clock.advance(1000);
    }
    // The first was filed 4 s before the last: advance to exactly the first's deadline.
    k.clock.advance(72 * 3600_000 - 5000);
    assert.equal(await k.app.services.redLetterExpiry.runOnce(), 1);
    k.clock.advance(999);
    assert.equal(await k.app.services.redLetterExpiry.runOnce(), 0);
    k.clock.advance(1);
    assert.equal(await k.app.services.redLetterExpiry.runOnce(), 1);
    k.clock.advance(3600_000);
    assert.equal(await k.app.services.redLetterExpiry.runOnce(), 3);
    for (const id of ids) assert.equal((await k.app.services.redLetter.get(buyer, id)).form.state, '07');
    const types = await k.app.storage.db.selectFrom('outbox_events').select('type').where('type', '=', 'red-letter.expired').execute();
    assert.ok(types.length >= 10);
  });
});
