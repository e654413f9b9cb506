// /v1/received-invoices over HTTP: the buyer tenant lists, reads and books the invoices addressed to it; anyone else
// gets 404; hostile input is a problem, never 500. And the buyer's live event stream (GET /v1/events on the push
// listener) shows invoice.received, its own changes and the red-letter moves it is a party to, without buyer data.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createTestApp, sampleInvoice, OTHER_SELLER, type TestApp } from '../helpers/test-app.ts';
import { maskParty } from '../../src/modules/invoicing/domain/masking.ts';
import { encryptField } from '../../src/platform/crypto/field-cipher.ts';
import type { EnvelopeCounts } from '../../src/platform/storage/field-keys.ts';
import type { Invoice, Party } from '../../src/shared/invoice.ts';
import { openSse, type SseStream } from '../helpers/sse-client.ts';

const BUYER = { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', regionCode: '33' };
/** A legal USCC that fails the checksum (issuing.taxIdExceptions): personal by isPersonalTaxId, so sealed and masked at rest. */
const PILOT_TAX_ID = '91350100M0001TGQXM';

interface Received { number: string; status: string; buyer: { phone?: string }; received: { booked: boolean; deductionSelected: boolean; bookedAt?: string } }
interface Problem { code: string; status: number; errors?: { path: string }[] }

describe('received invoices over HTTP', () => {
  let t: TestApp;
  let buyerKey: string;
  let buyerTenantId: string;
  let buyerReadKey: string;
  let buyerReadKeyId: string;
  let strangerKey: string;
  let numbers: string[];
  const confDir = mkdtempSync(join(tmpdir(), 'fapiao-received-conf-'));
  const streams: SseStream[] = [];

  const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}` });
  const get = (url: string, key?: string) => t.api.inject({ method: 'GET', url, headers: auth(key) });
  const patch = (number: string, payload: unknown, key?: string) =>
    t.api.inject({ method: 'PATCH', url: `/v1/received-invoices/${number}`, headers: { ...auth(key), 'content-type': 'application/json' }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
  const issue = async () => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(), payload: sampleInvoice({ buyer: { name: BUYER.name, taxId: BUYER.taxId, phone: '13812345678' } }) });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ number: string }>().number;
  };

  before(async () => {
    const conf = join(confDir, 'fapiao.config.json');
    writeFileSync(conf, JSON.stringify({ events: { pollIntervalMs: 20, heartbeatSec: 1 }, issuing: { taxIdExceptions: [PILOT_TAX_ID] } }));
    t = await createTestApp({ FAPIAO_CONFIG: conf });
    const buyer = await t.app.services.tenants.create(BUYER);
    buyerKey = buyer.apiKey;
    buyerTenantId = buyer.tenant.id;
    const readKey = await t.app.services.tenants.createApiKey(buyer.tenant.id, { scopes: ['invoices:read'] });
    buyerReadKey = readKey.secret;
    buyerReadKeyId = readKey.record.id;
    strangerKey = (await t.app.services.tenants.create(OTHER_SELLER)).apiKey;
    numbers = [await issue(), await issue(), await issue()];
  });
  after(async () => {
    for (const s of streams) s.close();
    await t.close();
    rmSync(confDir, { recursive: true, force: true });
  });

  it('the buyer lists, reads and books; the status shows in the list and its filters', async () => {
    const list = await get('/v1/received-invoices', buyerKey);
    assert.equal(list.statusCode, 200, list.body);
    const items = list.json<{ items: Received[] }>().items;
    for (const n of numbers) assert.ok(items.some((i) => i.number === n));
    const one = await get(`/v1/received-invoices/${numbers[0]}`, buyerKey);
    assert.equal(one.statusCode, 200, one.body);
    assert.deepEqual(one.json<Received>().received, { booked: false, deductionSelected: false });
    assert.equal(one.json<Received>().buyer.phone, '13812345678', 'the first key has pii:read');
    const masked = await get(`/v1/received-invoices/${numbers[0]}`, buyerReadKey);
    assert.notEqual(masked.json<Received>().buyer.phone, '13812345678', 'masked without pii:read');

    const booked = await patch(numbers[0]!, { booked: true }, buyerKey);
    assert.equal(booked.statusCode, 200, booked.body);
    assert.equal(booked.json<Received>().received.booked, true);
    assert.ok(booked.json<Received>().received.bookedAt);
    const selected = await patch(numbers[1]!, { deductionSelected: true }, buyerKey);
    assert.equal(selected.json<Received>().received.deductionSelected, true);

    const onlyBooked = (await get('/v1/received-invoices?booked=true', buyerKey)).json<{ items: Received[] }>().items;
    assert.deepEqual(onlyBooked.map((i) => i.number), [numbers[0]]);
    const notSelected = (await get('/v1/received-invoices?deductionSelected=false', buyerKey)).json<{ items: Received[] }>().items;
    assert.ok(!notSelected.some((i) => i.number === numbers[1]));
    const bySeller = (await get('/v1/received-invoices?sellerTaxId=91310000775785552L&status=normal&issuedFrom=2000-01-01', buyerKey)).json<{ items: Received[] }>().items;
    assert.equal(bySeller.length, 3);
    assert.deepEqual((await get('/v1/received-invoices?sellerTaxId=91110000600037341L', buyerKey)).json<{ items: Received[] }>().items, []);

    // Paging: one at a time, each once.
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await get(`/v1/received-invoices?limit=1${cursor ? `&cursor=${cursor}` : ''}`, buyerKey);
      assert.equal(page.statusCode, 200, page.body);
      const body = page.json<{ items: Received[]; nextCursor?: string }>();
      seen.push(...body.items.map((i) => i.number));
      cursor = body.nextCursor;
    } while (cursor);
    assert.deepEqual([...seen].sort(), [...numbers].sort());

    // Audited, by the API key.
    const audit = await t.app.storage.db.selectFrom('audit_events').select(['action', 'actor']).where('target', '=', numbers[0]!).orderBy('seq').execute();
    assert.deepEqual(audit.map((a) => a.action), ['invoice.issue', 'received-invoice.book']);
    assert.match(audit[1]!.actor, /^apikey:/);
  });

  it('to the seller, another tenant and a read-only key: 404 for every received invoice, 403 only for the missing scope', async () => {
    for (const key of [t.apiKey, strangerKey]) {
      assert.equal((await get(`/v1/received-invoices/${numbers[0]}`, key)).statusCode, 404);
      const p = await patch(numbers[0]!, { booked: false }, key);
      assert.equal(p.statusCode, 404);
      assert.equal(p.json<Problem>().code, 'INVOICE_NOT_FOUND');
      assert.deepEqual((await get('/v1/received-invoices', key)).json<{ items: Received[] }>().items.filter((i) => numbers.includes(i.number)), []);
    }
    assert.equal((await get('/v1/received-invoices/00000000000000000000', buyerKey)).statusCode, 404);
    assert.equal((await patch(numbers[0]!, { booked: false }, buyerReadKey)).statusCode, 403);
    assert.equal((await t.app.services.received.get((await t.app.services.tenants.getOrThrow(t.tenantId)), numbers[0]!).catch((e: { code: string }) => e.code)), 'INVOICE_NOT_FOUND');
  });

  it('bad input is a problem with a code and the field, never 500', async () => {
    // (A NUL in the target is refused by the perimeter's exploit guard before routing: test/http/perimeter.test.ts.)
    const cases: [string, () => ReturnType<typeof get>, number][] = [
      ['unknown field', () => patch(numbers[2]!, { booked: true, paid: true }, buyerKey), 400],
      ['empty body', () => patch(numbers[2]!, {}, buyerKey), 400],
      ['not a boolean', () => patch(numbers[2]!, { booked: 'yes' }, buyerKey), 400],
      ['not JSON', () => patch(numbers[2]!, '{"booked":', buyerKey), 400],
      ['huge value', () => patch(numbers[2]!, { booked: true, deductionSelected: 'x'.repeat(100_000) }, buyerKey), 400],
      ['bad number', () => patch('12345', { booked: true }, buyerKey), 400],
      ['unicode number', () => t.api.inject({ method: 'GET', url: `/v1/received-invoices/${encodeURIComponent('２６３１０００００００００００００００１')}`, headers: auth(buyerKey) }), 400],
      ['malformed cursor', () => get('/v1/received-invoices?cursor=not-base64!!', buyerKey), 400],
      ['cursor of bad JSON', () => get(`/v1/received-invoices?cursor=${Buffer.from('{"d":1}').toString('base64url')}`, buyerKey), 400],
      ['unicode cursor', () => get(`/v1/received-invoices?cursor=${encodeURIComponent('游标😀')}`, buyerKey), 400],
      ['huge cursor', () => get(`/v1/received-invoices?cursor=${'A'.repeat(5000)}`, buyerKey), 400],
      ['bad flag', () => get('/v1/received-invoices?booked=1', buyerKey), 400],
      ['unknown filter', () => get('/v1/received-invoices?buyerPhone=1', buyerKey), 400],
      ['bad date', () => get('/v1/received-invoices?issuedFrom=2026-13', buyerKey), 400],
      ['huge limit', () => get('/v1/received-invoices?limit=99999999999', buyerKey), 400],
    ];
    for (const [what, send, status] of cases) {
      const res = await send();
      assert.equal(res.statusCode, status, `${what}: ${res.statusCode} ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
      const p = res.json<Problem>();
      assert.ok(p.code, what);
    }
    const cursor = await get('/v1/received-invoices?cursor=not-base64!!', buyerKey);
    assert.equal(cursor.json<Problem>().code, 'CURSOR_INVALID');
    const unknown = await patch(numbers[2]!, { booked: true, paid: true }, buyerKey);
    assert.ok(unknown.json<Problem>().errors?.some((e) => e.path.includes('paid')), unknown.body);
    // The status is unchanged by all of it.
    assert.deepEqual((await get(`/v1/received-invoices/${numbers[2]}`, buyerKey)).json<Received>().received, { booked: false, deductionSelected: false });
  });

  it('filters by total with tax and by change time like GET /v1/invoices; bad values are problems', async () => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(), payload: sampleInvoice({
      buyer: { name: BUYER.name, taxId: BUYER.taxId },
      lines: [{ name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '1', unitPrice: '300.00', amount: '300.00', taxRate: '0.13' }],
    }) });
    assert.equal(res.statusCode, 201, res.body);
    const big = res.json<{ number: string }>().number;
    const list = async (query: string) => {
      const r = await get(`/v1/received-invoices?${query}`, buyerKey);
      assert.equal(r.statusCode, 200, `${query}: ${r.body}`);
      return r.json<{ items: (Received & { totals: { total: string } })[] }>().items;
    };
    const totals = (items: { totals: { total: string } }[]) => new Set(items.map((i) => i.totals.total));
    assert.deepEqual((await list('minTotal=339.00')).map((i) => i.number), [big]);
    assert.deepEqual((await list('minTotal=339.01')).map((i) => i.number), []);
    assert.ok(!(await list('maxTotal=338.99')).some((i) => i.number === big));
    assert.deepEqual(totals(await list('minTotal=113&maxTotal=113.00')), new Set(['113.00']));

    // Changed since `since`: an invoice the buyer books (its own status), one red-flushed by the seller (the invoice's
    // status), and the red invoice, issued to this buyer too; nothing else.
    const before = await list('limit=100');
    const [booked, flushed] = [big, numbers[2]!];
    await new Promise((r) => setTimeout(r, 5));
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await patch(booked, { booked: true }, buyerKey)).statusCode, 200);
    const form = await t.api.inject({ method: 'POST', url: '/v1/red-letter-requests', headers: auth(), payload: { invoiceNumber: flushed, reason: '01' } });
    assert.equal(form.statusCode, 201, form.body);
    const red = form.json<{ redInvoiceNumber: string }>().redInvoiceNumber;
    const changed = await list(`updatedSince=${encodeURIComponent(since)}&limit=100`);
    assert.deepEqual(new Set(changed.map((i) => i.number)), new Set([booked, flushed, red]));
    assert.equal(changed.find((i) => i.number === flushed)?.status, 'red-flushed');
    // The same instant in another offset; and a time after everything.
    const shifted = new Date(Date.parse(since) + 8 * 3600_000).toISOString().replace('Z', '+08:00');
    assert.equal((await list(`updatedSince=${encodeURIComponent(shifted)}&limit=100`)).length, 3);
    assert.deepEqual(await list(`updatedSince=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`), []);
    assert.ok(before.length >= 4);
    // Combined with the other filters (AND).
    assert.deepEqual((await list(`updatedSince=${encodeURIComponent(since)}&booked=true`)).map((i) => i.number), [booked]);

    for (const [query, code] of [
      ['minTotal=abc', 'AMOUNT_INVALID'],
      ['maxTotal=1.2.3', 'AMOUNT_INVALID'],
      ['minTotal=1.234', 'AMOUNT_INVALID'],
      ['maxTotal=' + '9'.repeat(20), 'AMOUNT_INVALID'],
      ['maxTotal=' + '9'.repeat(40), 'VALIDATION_FAILED'],
      ['updatedSince=yesterday', 'VALIDATION_FAILED'],
      ['updatedSince=2026-13-01T00:00:00Z', 'VALIDATION_FAILED'],
      [`updatedSince=${encodeURIComponent('２０２６-01-01T00:00:00Z')}`, 'VALIDATION_FAILED'],
    ] as const) {
      const r = await get(`/v1/received-invoices?${query}`, buyerKey);
      assert.match(String(r.headers['content-type']), /^application\/problem\+json/, query);
      const p = r.json<Problem>();
      assert.equal(p.code, code, `${query}: ${r.body}`);
      // A malformed value is 400, a well-formed amount the domain refuses 422, as GET /v1/invoices answers.
      const issued = await get(`/v1/invoices?${query}`);
      assert.deepEqual([r.statusCode, p.errors?.[0]?.path], [issued.statusCode, issued.json<Problem>().errors?.[0]?.path], `${query}: ${r.body} vs ${issued.body}`);
      assert.equal(issued.json<Problem>().code, code, query);
      assert.ok(r.statusCode === 400 || r.statusCode === 422, `${query}: ${r.statusCode}`);
    }
  });

  it('the buyer\'s live stream shows invoice.received, its bookings and the red-letter moves it is a party to', async () => {
    const push = t.servers.get('push')!;
    await push.listen({ host: '127.0.0.1', port: 0 });
    const base = `https://127.0.0.1:${(push.server.address() as AddressInfo).port}`;
    const ca = readFileSync(join(t.dataDir, 'tls', 'ca.pem'));
    const buyerStream = await openSse(`${base}/v1/events`, { ca, headers: auth(buyerKey) });
    const sellerStream = await openSse(`${base}/v1/events`, { ca, headers: auth() });
    streams.push(buyerStream, sellerStream);
    assert.equal(buyerStream.status, 200);
    for (let i = 0; i < 200 && t.app.services.events.count() < 2; i++) await new Promise((r) => setTimeout(r, 25));

    const number = await issue();
    assert.equal((await patch(number, { booked: true }, buyerKey)).statusCode, 200);
    const filed = await t.api.inject({ method: 'POST', url: '/v1/red-letter-requests', headers: auth(), payload: { invoiceNumber: number, reason: '01' } });
    assert.equal(filed.statusCode, 201, filed.body);
    const form = filed.json<{ id: string; state: string }>();
    assert.equal(form.state, '02');
    const confirmed = await t.api.inject({ method: 'POST', url: `/v1/red-letter-requests/${form.id}/confirm`, headers: auth(buyerKey) });
    assert.equal(confirmed.statusCode, 200, confirmed.body);

    const got = await buyerStream.waitFor(6);
    assert.deepEqual(got.map((m) => m.event), [
      'invoice.received', 'received-invoice.booked', 'red-letter.filed', 'invoice.received', 'red-letter.confirmed', 'received-invoice.red-flushed',
    ]);
    const first = JSON.parse(got[0]!.data) as Record<string, unknown>;
    assert.equal(first.number, number);
    assert.deepEqual(first.seller, { name: '上海测试科技有限公司', taxId: '91310000775785552L' });
    assert.equal(JSON.parse(got[2]!.data).formId, form.id);
    assert.equal(JSON.parse(got[5]!.data).status, 'red-flushed');
    for (const m of got) {
      assert.ok(!m.data.includes('13812345678') && !m.data.includes('杭州买方'), `no buyer data in ${m.event}`);
      assert.equal((JSON.parse(m.data) as Record<string, unknown>).buyer, undefined);
    }
    // The seller's stream: its own invoices and the moves of its form, never the buyer's booking.
    const mine = await sellerStream.waitFor(5);
    const types = mine.map((m) => m.event);
    assert.ok(!types.includes('received-invoice.booked') && !types.includes('invoice.received'), types.join());
    for (const ty of ['invoice.issued', 'red-letter.filed', 'red-letter.confirmed', 'invoice.red-flushed']) assert.ok(types.includes(ty), `${ty} in ${types.join()}`);
  });
  it('a key without pii:read reads and books received invoices from the stored masked form, decrypting nothing', async () => {
    const fields = t.app.storage.fields!;
    const counted = async (fn: () => Promise<void>): Promise<EnvelopeCounts> => {
      const before = fields.envelopeCounts();
      await fn();
      const now = fields.envelopeCounts();
      return { opened: now.opened - before.opened, decrypted: now.decrypted - before.decrypted };
    };
    // A key of the buyer that may book but not read personal data (in place of the read-only key: two keys a tenant).
    await t.app.services.tenants.revokeApiKey(buyerTenantId, buyerReadKeyId);
    const bookKey = (await t.app.services.tenants.createApiKey(buyerTenantId, { scopes: ['invoices:read', 'invoices:issue'] })).secret;
    const person: Party = {
      name: BUYER.name, taxId: BUYER.taxId, address: '杭州市西湖区文三路90号', phone: '13955550001', bankName: '招商银行',
      bankAccount: '6225881234567890', email: 'finance.private@example.com',
    };
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(), payload: sampleInvoice({ buyer: person }) });
    assert.equal(res.statusCode, 201, res.body);
    const number = res.json<Invoice>().number;
    // What the buyer's side answered before it read the stored masks: the invoice as issued, the buyer masked.
    const full = (await get(`/v1/received-invoices/${number}`, buyerKey)).json<Invoice & { received: unknown }>();
    assert.deepEqual(full.buyer, person);
    const expected = (received: unknown) => ({ ...full, buyer: maskParty(person), received });

    const answers: Record<string, unknown>[] = [];
    assert.deepEqual(await counted(async () => {
      const one = await get(`/v1/received-invoices/${number}`, bookKey);
      assert.equal(one.statusCode, 200, one.body);
      answers.push(one.json());
      const list = await get('/v1/received-invoices?limit=100', bookKey);
      assert.equal(list.statusCode, 200, list.body);
      const items = list.json<{ items: (Received & Invoice)[] }>().items;
      assert.ok(items.length >= 4);
      for (const i of items) assert.ok(!JSON.stringify(i).includes('1381234') && !JSON.stringify(i).includes('13955550001'), i.number);
      answers.push(items.find((i) => i.number === number) as unknown as Record<string, unknown>);
      const booked = await patch(number, { booked: true }, bookKey);
      assert.equal(booked.statusCode, 200, booked.body);
      answers.push(booked.json());
      assert.equal((await get(`/v1/received-invoices/${number}`, t.apiKey)).statusCode, 404, 'still not the seller\'s');
    }), { opened: 0, decrypted: 0 });
    assert.deepEqual(answers[0], expected({ booked: false, deductionSelected: false }));
    assert.deepEqual(answers[1], expected({ booked: false, deductionSelected: false }));
    const bookedAt = (answers[2] as { received: { bookedAt: string } }).received.bookedAt;
    assert.deepEqual(answers[2], expected({ booked: true, bookedAt, deductionSelected: false }));
    // Byte for byte the seller's masked answer of the same invoice, but for the buyer's status.
    const masked = (await t.app.services.tenants.createApiKey(t.tenantId, { scopes: ['invoices:read'] })).secret;
    const sellerView = (await get(`/v1/invoices/${number}`, masked)).json<Invoice>();
    const { received: _, ...rest } = answers[0] as { received: unknown };
    assert.deepEqual(rest, sellerView);

    // A row from before migration 0020 (one envelope per field, no layout): opened and masked, as the seller's masked
    // read does (the re-encryption job, which would rewrite it, is stopped first).
    await t.app.services.reencrypt?.stop();
    const db = t.app.storage.db;
    const stored = JSON.parse((await db.selectFrom('invoices').select('document').where('number', '=', number).executeTakeFirstOrThrow()).document) as Invoice & { buyerSealed?: string };
    const key = await fields.dataKeyFor(db, t.tenantId);
    const legacyBuyer: Party = { ...person };
    for (const f of ['address', 'phone', 'bankAccount', 'email'] as const) {
      legacyBuyer[f] = encryptField(key, person[f]!, { tenantId: t.tenantId, table: 'invoices', column: `buyer.${f}`, rowId: number });
    }
    delete stored.buyerSealed;
    await db.updateTable('invoices').set({ document: JSON.stringify({ ...stored, buyer: legacyBuyer }), pii_layout: null }).where('number', '=', number).execute();
    const sellerLegacy = await counted(async () => {
      assert.deepEqual((await get(`/v1/invoices/${number}`, masked)).json<Invoice>(), sellerView);
    });
    assert.ok(sellerLegacy.opened > 0);
    const receivedLegacy = await counted(async () => {
      assert.deepEqual((await get(`/v1/received-invoices/${number}`, bookKey)).json(), answers[2]);
      const item = (await get('/v1/received-invoices?booked=true&limit=100', bookKey)).json<{ items: Invoice[] }>().items.find((i) => i.number === number);
      assert.deepEqual(item, answers[2]);
    });
    assert.equal(receivedLegacy.opened, 2 * sellerLegacy.opened);

    // A buyer tenant whose own tax ID is personal (a pilot-region exception) would not recognise it masked: its read
    // opens the envelope to compare, and answers masked all the same.
    const pilot = await t.app.services.tenants.create({ name: '福州试点贸易有限公司', taxId: PILOT_TAX_ID, regionCode: '35' });
    const pilotRead = (await t.app.services.tenants.createApiKey(pilot.tenant.id, { scopes: ['invoices:read'] })).secret;
    const toPilot = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(), payload: sampleInvoice({ buyer: { name: '福州试点贸易有限公司', taxId: PILOT_TAX_ID, phone: '13955550002' } }) });
    assert.equal(toPilot.statusCode, 201, toPilot.body);
    const pilotNumber = toPilot.json<Invoice>().number;
    const pilotFull = (await get(`/v1/received-invoices/${pilotNumber}`, pilot.apiKey)).json<Invoice>();
    assert.equal(pilotFull.buyer.taxId, PILOT_TAX_ID);
    const pilotMasked = await get(`/v1/received-invoices/${pilotNumber}`, pilotRead);
    assert.equal(pilotMasked.statusCode, 200, pilotMasked.body);
    assert.deepEqual(pilotMasked.json<Invoice>().buyer, maskParty(pilotFull.buyer));
    assert.notEqual(pilotMasked.json<Invoice>().buyer.taxId, PILOT_TAX_ID);
  });
});
