// /v1/red-letter-requests over HTTP: filing, replays, moves by each party, refusals as problems naming the state,
// lists with filters and cursors, one form with its history, another tenant's form as 404, hostile input.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, sampleInvoice, OTHER_SELLER, type TestApp } from '../helpers/test-app.ts';

const BUYER = { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', regionCode: '33' };

interface Form { id: string; state: string; direction: string; filedBy: string; invoiceNumber: string; totals: { total: string }; lines: { line: number; amount: string }[]; history?: { from: string; to: string }[] }
interface Problem { code: string; status: number; state?: string; errors?: { path: string; code: string; message: string }[] }

describe('red-letter requests over HTTP', () => {
  let t: TestApp;
  let buyerKey: string;
  let strangerKey: string;
  let number: string;

  const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}` });
  const post = (url: string, payload?: unknown, key?: string, headers: Record<string, string> = {}) =>
    t.api.inject({ method: 'POST', url, headers: { ...auth(key), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });
  const get = (url: string, key?: string) => t.api.inject({ method: 'GET', url, headers: auth(key) });

  before(async () => {
    t = await createTestApp();
    buyerKey = (await t.app.services.tenants.create(BUYER)).apiKey;
    strangerKey = (await t.app.services.tenants.create(OTHER_SELLER)).apiKey;
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(), payload: sampleInvoice({ lines: [
      { name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '4', unitPrice: '25', amount: '100.00', taxRate: '0.13' },
      { name: '维护费', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '50.00', taxRate: '0.06' },
    ] }) });
    assert.equal(res.statusCode, 201, res.body);
    number = res.json<{ number: string }>().number;
    // The buyer books it (入账): a seller's form then awaits the buyer's confirmation (02).
    const booked = await t.api.inject({ method: 'PATCH', url: `/v1/received-invoices/${number}`, headers: auth(buyerKey), payload: { booked: true } });
    assert.equal(booked.statusCode, 200, booked.body);
  });
  after(() => t.close());

  it('files (201), answers the same form again (200), and by Idempotency-Key', async () => {
    const body = { invoiceNumber: number, reason: '02', lines: [{ line: 1, quantity: '1' }] };
    const a = await post('/v1/red-letter-requests', body, undefined, { 'idempotency-key': 'rl-http-1' });
    assert.equal(a.statusCode, 201, a.body);
    const form = a.json<Form>();
    assert.equal(a.headers.location, `/v1/red-letter-requests/${form.id}`);
    assert.deepEqual([form.state, form.direction, form.filedBy, form.totals.total], ['02', 'filed', 'seller', '28.25']);
    const b = await post('/v1/red-letter-requests', body);
    assert.equal(b.statusCode, 200);
    assert.equal(b.json<Form>().id, form.id);
    const c = await post('/v1/red-letter-requests', { invoiceNumber: number, reason: '01' }, undefined, { 'idempotency-key': 'rl-http-1' });
    assert.equal(c.statusCode, 200);
    assert.equal(c.json<Form>().id, form.id);

    // The buyer sees it as received; confirms; the seller may not confirm; a second confirm names state 04.
    const seen = await get(`/v1/red-letter-requests/${form.id}`, buyerKey);
    assert.equal(seen.json<Form>().direction, 'received');
    const own = await post(`/v1/red-letter-requests/${form.id}/confirm`);
    assert.equal(own.statusCode, 409);
    assert.deepEqual([own.json<Problem>().code, own.json<Problem>().state], ['RED_LETTER_TRANSITION_REFUSED', '02']);
    const ok = await post(`/v1/red-letter-requests/${form.id}/confirm`, undefined, buyerKey);
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json<Form>().state, '04');
    // The red invoice was issued with the confirmation; the blue invoice is red-flushed in part.
    const redNumber = ok.json<{ redInvoiceNumber: string }>().redInvoiceNumber;
    const red = await get(`/v1/invoices/${redNumber}`);
    assert.equal(red.statusCode, 200, red.body);
    assert.deepEqual([red.json<{ kind: string }>().kind, red.json<{ totals: { total: string } }>().totals.total], ['red', '-28.25']);
    assert.equal((await get(`/v1/invoices/${number}`)).json<{ status: string }>().status, 'red-flushed-partial');
    const again = await post(`/v1/red-letter-requests/${form.id}/confirm`, undefined, buyerKey);
    assert.equal(again.statusCode, 409);
    assert.equal(again.json<Problem>().state, '04');
    assert.match(again.headers['content-type'] as string, /^application\/problem\+json/);
    const hist = await get(`/v1/red-letter-requests/${form.id}`);
    assert.deepEqual(hist.json<Form>().history?.map((h) => `${h.from}>${h.to}`), ['10>02', '02>04']);
  });

  it('another tenant sees no form (404) and cannot file against the invoice (404)', async () => {
    const list = await get('/v1/red-letter-requests', strangerKey);
    assert.deepEqual(list.json<{ items: unknown[] }>().items, []);
    const mine = (await get('/v1/red-letter-requests')).json<{ items: Form[] }>().items[0]!;
    for (const res of [
      await get(`/v1/red-letter-requests/${mine.id}`, strangerKey),
      await post(`/v1/red-letter-requests/${mine.id}/revoke`, undefined, strangerKey),
    ]) {
      assert.equal(res.statusCode, 404);
      assert.equal(res.json<Problem>().code, 'RED_LETTER_FORM_NOT_FOUND');
    }
    const filed = await post('/v1/red-letter-requests', { invoiceNumber: number, reason: '01' }, strangerKey);
    assert.equal(filed.statusCode, 404);
    assert.equal(filed.json<Problem>().code, 'INVOICE_NOT_FOUND');
  });

  it('over-reversal says what remains per line', async () => {
    const res = await post('/v1/red-letter-requests', { invoiceNumber: number, reason: '02', lines: [{ line: 1, quantity: '4' }, { line: 2, amount: '50.01' }] });
    assert.equal(res.statusCode, 422);
    const p = res.json<Problem>();
    assert.equal(p.code, 'RED_LETTER_OVER_REVERSAL');
    assert.deepEqual(p.errors?.map((e) => e.path), ['/lines/0/quantity', '/lines/1/amount']);
    assert.match(p.errors[0]!.message, /line 1: 75\.00 \(tax 9\.75, quantity 3\) remains/);
    assert.match(p.errors[1]!.message, /line 2: 50\.00 \(tax 3\.00\) remains/);
  });

  it('the buyer files (03) and the seller rejects (06); lists filter by state, invoice and direction', async () => {
    const f = await post('/v1/red-letter-requests', { invoiceNumber: number, reason: '04', lines: [{ line: 2, amount: '5' }] }, buyerKey);
    assert.equal(f.statusCode, 201, f.body);
    const form = f.json<Form>();
    assert.equal(form.state, '03');
    const rej = await post(`/v1/red-letter-requests/${form.id}/reject`, undefined);
    assert.equal(rej.json<Form>().state, '06');
    const byState = await get(`/v1/red-letter-requests?state=06&invoice=${number}`);
    assert.deepEqual(byState.json<{ items: Form[] }>().items.map((x) => x.id), [form.id]);
    const received = await get('/v1/red-letter-requests?direction=received');
    assert.deepEqual(received.json<{ items: Form[] }>().items.map((x) => x.id), [form.id]);
    const filedByBuyer = await get('/v1/red-letter-requests?direction=filed', buyerKey);
    assert.deepEqual(filedByBuyer.json<{ items: Form[] }>().items.map((x) => x.id), [form.id]);
    // Pages of one.
    const p1 = (await get('/v1/red-letter-requests?limit=1')).json<{ items: Form[]; nextCursor?: string }>();
    assert.equal(p1.items.length, 1);
    const p2 = (await get(`/v1/red-letter-requests?limit=1&cursor=${p1.nextCursor!}`)).json<{ items: Form[]; nextCursor?: string }>();
    assert.equal(p2.items.length, 1);
    assert.notEqual(p2.items[0]!.id, p1.items[0]!.id);
  });

  it('bad input is a problem with a code and the field, never 500', async () => {
    const cases: [unknown, number, string][] = [
      [{ invoiceNumber: number, reason: '09' }, 422, 'RED_LETTER_REASON_INVALID'],
      [{ invoiceNumber: '26319000000000099999', reason: '01' }, 404, 'INVOICE_NOT_FOUND'],
      [{ invoiceNumber: number, reason: '01', lines: [{ line: 9 }] }, 422, 'RED_LETTER_LINE_INVALID'],
      [{ invoiceNumber: number, reason: '01', lines: [] }, 422, 'RED_LETTER_LINE_INVALID'],
      [{ invoiceNumber: number, reason: '01', lines: [{ line: 1, amount: '1e9' }] }, 400, 'VALIDATION_FAILED'],
      [{ invoiceNumber: number, reason: '01', lines: [{ line: 1, amount: '9'.repeat(400) }] }, 400, 'VALIDATION_FAILED'],
      [{ invoiceNumber: number, reason: '01', lines: [{ line: 1e300 }] }, 400, 'VALIDATION_FAILED'],
      [{ invoiceNumber: number, reason: '01', lines: [{ line: 1, quantity: '１' }] }, 400, 'VALIDATION_FAILED'],
      [{ invoiceNumber: '２６３１９０００００００００００９９９９９', reason: '01' }, 400, 'VALIDATION_FAILED'],
      [{ invoiceNumber: number, reason: '01', extra: 1 }, 400, 'VALIDATION_FAILED'],
      [{ invoiceNumber: number, reason: '01', lines: Array.from({ length: 2001 }, (_, i) => ({ line: i + 1 })) }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const res = await post('/v1/red-letter-requests', body);
      const what = `${JSON.stringify(body).slice(0, 80)}: ${res.body.slice(0, 200)}`;
      if (code === 'VALIDATION_FAILED') {
        // A schema refusal: 400, or 422 with the code the field's rule has (e.g. AMOUNT_INVALID), and the field.
        assert.ok([400, 422].includes(res.statusCode), what);
        assert.ok((res.json<Problem>().errors?.[0]?.path ?? '').length > 0, what);
        continue;
      }
      assert.equal(res.statusCode, status, what);
      assert.equal(res.json<Problem>().code, code);
    }
    for (const url of [
      '/v1/red-letter-requests/x', '/v1/red-letter-requests/%E2%98%83', `/v1/red-letter-requests/${'1'.repeat(25)}`.replace(/1$/, 'G'),
      '/v1/red-letter-requests?state=11', '/v1/red-letter-requests?direction=sideways', '/v1/red-letter-requests?limit=0',
      '/v1/red-letter-requests?cursor=%E2%98%83', '/v1/red-letter-requests?invoice=1',
    ]) {
      const res = await get(url);
      assert.ok([400, 404].includes(res.statusCode), `${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      assert.match(res.headers['content-type'] as string, /^application\/problem\+json/);
    }
    const cursor = await get('/v1/red-letter-requests?cursor=x');
    assert.equal(cursor.json<Problem>().code, 'CURSOR_INVALID');
    const unknown = await get('/v1/red-letter-requests/0000000000000000000000000');
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json<Problem>().code, 'RED_LETTER_FORM_NOT_FOUND');
    const noAuth = await t.api.inject({ method: 'GET', url: '/v1/red-letter-requests' });
    assert.equal(noAuth.statusCode, 401);
    const badKey = await post('/v1/red-letter-requests', { invoiceNumber: number, reason: '01' }, undefined, { 'idempotency-key': 'a b' });
    assert.equal(badKey.statusCode, 400);
  });

  it('the red invoice verifies (查验) as authentic; the blue one shows red-flushed in part, then in full, in 查验 and search', async () => {
    // Not booked by the buyer tenant: each form needs no confirmation (01) and gets its red invoice at once.
    const issued = await post('/v1/invoices', sampleInvoice());
    assert.equal(issued.statusCode, 201, issued.body);
    const blue = issued.json<{ number: string; issueDate: string; totals: { total: string } }>();
    const verify = (body: object) => t.api.inject({ method: 'POST', url: '/v1/verify', payload: body });
    const search = async (query: string) => (await get(`/v1/invoices?${query}`)).json<{ items: { number: string; kind: string; status: string }[] }>().items;

    const partial = await post('/v1/red-letter-requests', { invoiceNumber: blue.number, reason: '04', lines: [{ line: 1, amount: '40.00' }] });
    assert.equal(partial.statusCode, 201, partial.body);
    const first = partial.json<Form & { redInvoiceNumber: string }>();
    assert.equal(first.state, '01');
    const red1 = (await get(`/v1/invoices/${first.redInvoiceNumber}`)).json<{ number: string; issueDate: string; kind: string; status: string; totals: { total: string } }>();
    assert.deepEqual([red1.kind, red1.totals.total], ['red', '-45.20']);
    const v1 = (await verify({ number: red1.number, issueDate: red1.issueDate, total: '-45.20' })).json<{ result: string; invoice: { kind: string; status: string; totals: { total: string } }; signature: { valid: boolean } }>();
    assert.equal(v1.result, 'authentic');
    assert.deepEqual([v1.invoice.kind, v1.invoice.status, v1.invoice.totals.total, v1.signature.valid], ['red', red1.status, '-45.20', true]);
    // A red invoice's total is negative: the positive amount is not its total.
    assert.equal((await verify({ number: red1.number, issueDate: red1.issueDate, total: '45.20' })).json<{ result: string }>().result, 'not-found');
    const vb1 = (await verify({ number: blue.number, issueDate: blue.issueDate, total: blue.totals.total })).json<{ result: string; invoice: { status: string } }>();
    assert.deepEqual([vb1.result, vb1.invoice.status], ['authentic', 'red-flushed-partial']);
    assert.ok((await search('status=red-flushed-partial')).some((i) => i.number === blue.number));
    assert.ok(!(await search('status=normal')).some((i) => i.number === blue.number));
    assert.equal((await search(`status=${red1.status}`)).find((i) => i.number === red1.number)?.kind, 'red');

    // The rest: a full reversal of what remains.
    const rest = await post('/v1/red-letter-requests', { invoiceNumber: blue.number, reason: '01' });
    assert.equal(rest.statusCode, 201, rest.body);
    const second = rest.json<Form & { redInvoiceNumber: string }>();
    const red2 = (await get(`/v1/invoices/${second.redInvoiceNumber}`)).json<{ number: string; issueDate: string; totals: { total: string } }>();
    assert.equal(red2.totals.total, '-67.80');
    assert.equal((await verify({ number: red2.number, issueDate: red2.issueDate, total: '-67.80' })).json<{ result: string }>().result, 'authentic');
    const vb2 = (await verify({ number: blue.number, issueDate: blue.issueDate, total: blue.totals.total })).json<{ result: string; invoice: { status: string } }>();
    assert.deepEqual([vb2.result, vb2.invoice.status], ['authentic', 'red-flushed']);
    assert.ok((await search('status=red-flushed')).some((i) => i.number === blue.number));
    assert.ok(!(await search('status=red-flushed-partial')).some((i) => i.number === blue.number));
  });
});
