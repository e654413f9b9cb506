// `/v1/statements` and `/v1/reconciliations` over HTTP: a CSV upload answered 202 and run in the background, its
// results as JSON pages and as CSV with formula-looking text neutralised (negative amounts kept as numbers), another
// tenant's reconciliation 404, and bad input of every kind a 4xx problem, never a 500.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Invoice } from '../../src/shared/invoice.ts';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';

describe('statements and reconciliations over HTTP', () => {
  let t: TestApp;
  let other: string;
  let inv: Invoice;
  const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}` });
  const get = (url: string, headers: Record<string, string> = {}, key?: string) => t.api.inject({ method: 'GET', url, headers: { ...auth(key), ...headers } });
  const upload = (payload: string, type = 'text/csv', query = '') =>
    t.api.inject({ method: 'POST', url: `/v1/reconciliations${query}`, headers: { ...auth(), 'content-type': type }, payload });

  async function finished(id: string): Promise<Record<string, unknown>> {
    for (let i = 0; i < 400; i++) {
      const res = await get(`/v1/reconciliations/${id}`);
      const body = res.json<{ status: string }>();
      if (body.status === 'done' || body.status === 'failed') return body;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('not finished');
  }

  before(async () => {
    t = await createTestApp();
    other = (await t.app.services.tenants.create(OTHER_SELLER, undefined, ['invoices:read'])).apiKey;
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { ...auth(), 'content-type': 'application/json' }, payload: JSON.stringify(sampleInvoice({ externalId: 'SO-1' })) });
    assert.equal(res.statusCode, 201, res.body);
    inv = res.json<Invoice>();
  });
  after(() => t.close());

  it('answers a statement as JSON and as CSV', async () => {
    const month = inv.issueDate.slice(0, 7);
    const json = await get(`/v1/statements?period=${month}`);
    assert.equal(json.statusCode, 200, json.body);
    assert.deepEqual(json.json<{ totals: unknown }>().totals, { count: 1, amount: '100.00', tax: '13.00', total: '113.00' });
    for (const res of [await get(`/v1/statements?period=${month}&format=csv`), await get(`/v1/statements?from=${inv.issueDate}&to=${inv.issueDate}`, { accept: 'text/csv' })]) {
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/csv/);
      assert.match(res.body, /^section,from,to,/);
      assert.match(res.body, /\r\ntotal,[0-9-]+,[0-9-]+,,,,,,1,,100\.00,13\.00,113\.00,,\r\n/);
    }
    const monthly = await get(`/v1/statements/monthly/${month}`);
    assert.equal(monthly.statusCode, 200, monthly.body);
    assert.equal(monthly.json<{ ledger: { invoices: number } }>().ledger.invoices, 1);
  });

  it('takes a CSV upload (202), runs it, pages its results and downloads them as CSV, neutralised', async () => {
    const body = [
      'number,externalId,date,amount,tax',
      `${inv.number},,${inv.issueDate},100.00,13.00`,
      `,=HYPERLINK("http://evil"),${inv.issueDate},-5.00,-0.65`,
      `,@SUM(A1),${inv.issueDate},1.00,0.13`,
      `${inv.number.slice(0, 19)}x,,${inv.issueDate},1,1`,
    ].join('\n');
    const res = await upload(body);
    assert.equal(res.statusCode, 202, res.body);
    const id = res.json<{ id: string }>().id;
    assert.equal(res.headers.location, `/v1/reconciliations/${id}`);
    const done = await finished(id);
    assert.equal(done.status, 'done');
    assert.deepEqual(done.totals, { rows: 4, matched: 1, mismatch: 0, amountMismatch: 0, taxMismatch: 0, dateMismatch: 0, buyerMismatch: 0, missingOurs: 2, missingTheirs: 0, duplicate: 0, malformed: 1 });
    assert.equal((done.progress as { percent: number }).percent, 100);

    const page = await get(`/v1/reconciliations/${id}/results?limit=2`);
    assert.equal(page.statusCode, 200, page.body);
    const p = page.json<{ items: { line: number; outcome: string }[]; nextCursor: string }>();
    assert.deepEqual(p.items.map((i) => [i.line, i.outcome]), [[2, 'matched'], [3, 'missing-ours']]);
    const rest = await get(`/v1/reconciliations/${id}/results?limit=2&cursor=${p.nextCursor}`);
    assert.deepEqual(rest.json<{ items: { line: number; outcome: string; field?: string }[] }>().items.map((i) => [i.line, i.outcome, i.field]), [[4, 'missing-ours', undefined], [5, 'malformed', 'number']]);
    const malformed = await get(`/v1/reconciliations/${id}/results?outcome=malformed`);
    assert.deepEqual(malformed.json<{ items: { line: number }[] }>().items.map((i) => i.line), [5]);

    const csv = await get(`/v1/reconciliations/${id}/results`, { accept: 'text/csv' });
    assert.equal(csv.statusCode, 200);
    const lines = csv.body.split('\r\n');
    assert.equal(lines[0], 'line,outcome,differences,their_external_id,their_number,their_date,their_amount,their_tax,their_buyer_tax_id,our_number,our_external_id,our_date,our_amount,our_tax,error,field');
    // The formula-looking ids are text starting with a quote; the negative amounts stay bare numbers.
    assert.equal(lines[2], `3,missing-ours,,"'=HYPERLINK(""http://evil"")",,${inv.issueDate},-5.00,-0.65,,,,,,,,`);
    assert.equal(lines[3], `4,missing-ours,,"'@SUM(A1)",,${inv.issueDate},1.00,0.13,,,,,,,,`);
    assert.equal(lines.length, 6);
  });

  it('takes an upload larger than the JSON body limit (it is streamed, not buffered)', async () => {
    const rows = Array.from({ length: 40_000 }, (_, i) => `SO-X${i},${inv.issueDate},${i}.00,0.00`);
    const body = `externalId,date,amount,tax\n${rows.join('\n')}\n`;
    assert.ok(body.length > 1024 * 1024);
    const res = await upload(body);
    assert.equal(res.statusCode, 202, res.body);
    const done = await finished(res.json<{ id: string }>().id);
    assert.deepEqual([(done.totals as { rows: number }).rows, (done.totals as { missingOurs: number }).missingOurs], [40_000, 40_000]);
  });

  it('reads JSON Lines', async () => {
    const res = await upload(`${JSON.stringify({ externalId: 'SO-1', date: inv.issueDate, amount: '100.00', tax: '13.01' })}\n`, 'application/x-ndjson');
    assert.equal(res.statusCode, 202, res.body);
    const done = await finished(res.json<{ id: string }>().id);
    assert.deepEqual([(done.totals as { taxMismatch: number }).taxMismatch, (done.totals as { mismatch: number }).mismatch], [1, 1]);
  });

  it('does not show a reconciliation to another tenant', async () => {
    const res = await upload(`number,date,amount,tax\n${inv.number},${inv.issueDate},100.00,13.00\n`);
    const id = res.json<{ id: string }>().id;
    await finished(id);
    for (const url of [`/v1/reconciliations/${id}`, `/v1/reconciliations/${id}/results`, `/v1/reconciliations/${id}/results?format=csv`]) {
      const r = await get(url, {}, other);
      assert.equal(r.statusCode, 404, url);
      assert.equal(r.json<{ code: string }>().code, 'RECONCILIATION_NOT_FOUND');
    }
  });

  it('refuses bad input with a 4xx problem, never a 500', async () => {
    const cases: [string, number, string][] = [
      ['/v1/statements', 422, 'STATEMENT_PERIOD_INVALID'],
      ['/v1/statements?period=2026-13', 422, 'STATEMENT_PERIOD_INVALID'],
      ['/v1/statements?period=1999-12', 422, 'STATEMENT_PERIOD_INVALID'],
      ['/v1/statements?from=2026-11-30&to=2026-11-01', 422, 'STATEMENT_PERIOD_INVALID'],
      ['/v1/statements?from=2026-02-30&to=2026-03-01', 422, 'STATEMENT_PERIOD_INVALID'],
      ['/v1/statements?period=2026-11&from=2026-11-01&to=2026-11-02', 422, 'STATEMENT_PERIOD_INVALID'],
      [`/v1/statements?period=${encodeURIComponent('２０２６-11')}`, 400, 'VALIDATION_FAILED'],
      ['/v1/statements?period=2026-11&format=xlsx', 400, 'VALIDATION_FAILED'],
      [`/v1/statements?from=${'9'.repeat(400)}&to=2026-11-01`, 400, 'VALIDATION_FAILED'],
      ['/v1/statements/monthly/2026-00', 422, 'STATEMENT_PERIOD_INVALID'],
      ['/v1/statements/monthly/november', 400, 'VALIDATION_FAILED'],
      ['/v1/reconciliations/rc_1', 400, 'VALIDATION_FAILED'],
      ['/v1/reconciliations/rc_0000000000000000000000000', 404, 'RECONCILIATION_NOT_FOUND'],
    ];
    const res0 = await upload(`number,date,amount,tax\n${inv.number},${inv.issueDate},100.00,13.00\n`);
    const id = res0.json<{ id: string }>().id;
    cases.push(
      [`/v1/reconciliations/${id}/results?cursor=abc`, 400, 'CURSOR_INVALID'],
      [`/v1/reconciliations/${id}/results?cursor=${'1'.repeat(30)}`, 400, 'CURSOR_INVALID'],
      [`/v1/reconciliations/${id}/results?cursor=%C2%85`, 422, 'TEXT_INVALID'],
      [`/v1/reconciliations/${id}/results?limit=99999999999`, 400, 'VALIDATION_FAILED'],
      [`/v1/reconciliations/${id}/results?outcome=everything`, 400, 'VALIDATION_FAILED'],
    );
    for (const [url, status, code] of cases) {
      const r = await get(url);
      assert.equal(r.statusCode, status, `${url}: ${r.body}`);
      assert.equal(r.json<{ code: string }>().code, code, url);
      assert.match(String(r.headers['content-type']), /application\/problem\+json/);
    }
    const uploads: [Awaited<ReturnType<typeof upload>>, number, string][] = [
      [await upload('{}', 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [await upload('a,b', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [await upload('', 'text/csv'), 422, 'RECONCILIATION_UPLOAD_INVALID'],
      [await upload('number,amount\n', 'text/csv'), 422, 'RECONCILIATION_UPLOAD_INVALID'],
      [await upload('number,date,amount,tax\n1,2,3,4\n', 'text/csv', '?from=2026-11-02&to=2026-11-01'), 422, 'STATEMENT_PERIOD_INVALID'],
    ];
    for (const [r, status, code] of uploads) {
      assert.equal(r.statusCode, status, r.body);
      assert.equal(r.json<{ code: string }>().code, code);
    }
    // Huge and odd values in rows are malformed rows, reported by line: the upload itself runs.
    const odd = await upload([
      'number,date,amount,tax,buyerTaxId',
      `${inv.number},${inv.issueDate},${'9'.repeat(40)},1.00,`,
      `${inv.number},${inv.issueDate},1e5,1.00,`,
      `${inv.number},${inv.issueDate},1.001,1.00,`,
      `${inv.number},２０２６-１１-０１,1.00,1.00,`,
      `${inv.number},${inv.issueDate},1.00,1.00,小写税号`,
      `"${inv.number},${inv.issueDate},1.00,1.00`,
      `${inv.number},${inv.issueDate},1.00,${'x'.repeat(5000)}`,
      '\u0000\uFFFF,,,,',
    ].join('\n'));
    assert.equal(odd.statusCode, 202, odd.body);
    const done = await finished(odd.json<{ id: string }>().id);
    assert.equal((done.totals as { malformed: number }).malformed, 8);
    const results = await get(`/v1/reconciliations/${odd.json<{ id: string }>().id}/results`);
    assert.deepEqual(results.json<{ items: { line: number; field?: string }[] }>().items.map((i) => [i.line, i.field]), [
      [2, 'amount'], [3, 'amount'], [4, 'amount'], [5, 'date'], [6, 'buyerTaxId'], [7, undefined], [8, undefined], [9, 'number'],
    ]);
  });
});
