// POST/GET /v1/invoice-batches over the real app (real storage, signatures, job): every item is checked first with
// the rules of single issuance, bad items are reported by index or JSON line and the good ones issued, the limit,
// resubmission issuing nothing twice, tenant isolation, and bad input answered 4xx problem+json, never 500.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';

interface Accepted { id: string; status: string; total: number; accepted: number; invalid: number; problems: { index: number; line?: number; externalId?: string; problem: { status: number; code: string; errors?: { path: string }[] } }[] }
interface View {
  id: string; status: string; progress: { total: number; pending: number; issued: number; failed: number; invalid: number };
  items: { index: number; line?: number; externalId?: string; status: string; number?: string; problem?: { code: string } }[]; nextCursor?: string;
}

describe('invoice batches', () => {
  let t: TestApp;
  let other: { apiKey: string; tenantId: string };
  const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}` });
  const post = (payload: string, type = 'application/json', key?: string) =>
    t.api.inject({ method: 'POST', url: '/v1/invoice-batches', headers: { ...auth(key), 'content-type': type }, payload });
  const get = (url: string, key?: string) => t.api.inject({ method: 'GET', url, headers: auth(key) });
  const done = async (id: string): Promise<View> => {
    for (let i = 0; i < 600; i++) {
      const res = await get(`/v1/invoice-batches/${id}?limit=1000`);
      assert.equal(res.statusCode, 200, res.body);
      const v = res.json<View>();
      if (v.status === 'completed') return v;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('batch did not complete');
  };
  const invoiceCount = async () => Number((await t.app.storage.db.selectFrom('invoices').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  before(async () => {
    // A body limit of 2 MiB: a full batch of these invoices (about 0.4 MiB) fits, 3 MiB does not.
    t = await createTestApp({ FAPIAO_BATCHES_MAX_BODY_BYTES: String(2 * 1024 * 1024) });
    const created = await t.app.services.tenants.create(OTHER_SELLER, undefined, ['invoices:issue', 'invoices:read']);
    other = { apiKey: created.apiKey, tenantId: created.tenant.id };
  });
  after(() => t.close());

  it('checks every item first: bad ones are reported by index, the good ones issued', async () => {
    const items = [
      sampleInvoice({ externalId: 'a-1' }),
      sampleInvoice({ externalId: 'a-2', colour: 'red' }),
      sampleInvoice({ externalId: 'a-3', lines: [{ name: '软件', taxCode: '3040201000000000000', amount: '100.00', taxRate: '0.13', tax: '50.00' }] }),
      sampleInvoice(),
      sampleInvoice({ externalId: 'a-1' }),
      sampleInvoice({ externalId: 'a-6', buyer: { name: '某公司', taxId: '91310000775785552L' } }),
      sampleInvoice({ externalId: 'a-7', issuer: 'bad\u0000name' }),
      sampleInvoice({ externalId: 'a-8' }),
    ];
    const res = await post(JSON.stringify(items));
    assert.equal(res.statusCode, 202, res.body);
    const body = res.json<Accepted>();
    assert.match(res.headers.location as string, new RegExp(`/v1/invoice-batches/${body.id}$`));
    assert.deepEqual([body.total, body.accepted, body.invalid], [8, 2, 6]);
    const byIndex = new Map(body.problems.map((p) => [p.index, p.problem.code]));
    assert.deepEqual([...byIndex.entries()], [
      [1, 'VALIDATION_FAILED'], [2, 'TAX_MISMATCH'], [3, 'EXTERNAL_ID_REQUIRED'], [4, 'EXTERNAL_ID_DUPLICATE'], [5, 'BUYER_IS_SELLER'], [6, 'TEXT_INVALID'],
    ].filter(([i]) => byIndex.has(i as number)));
    assert.equal(byIndex.size, 6);
    for (const p of body.problems) assert.ok(p.problem.status >= 400 && p.problem.status < 500);

    const view = await done(body.id);
    assert.deepEqual(view.progress, { total: 8, pending: 0, issued: 2, failed: 0, invalid: 6 });
    const issued = view.items.filter((i) => i.status === 'issued');
    assert.deepEqual(issued.map((i) => i.externalId), ['a-1', 'a-8']);
    for (const i of issued) {
      const inv = await get(`/v1/invoices/${i.number!}`);
      assert.equal(inv.statusCode, 200);
      assert.equal(inv.json<{ externalId: string }>().externalId, i.externalId);
    }
  });

  it('reads JSON Lines: a malformed line is reported by its line number and the others go on', async () => {
    const lines = [
      JSON.stringify(sampleInvoice({ externalId: 'n-1' })),
      '',
      '{"type": "normal", broken',
      JSON.stringify(sampleInvoice({ externalId: 'n-2' })),
      '{"__proto__": {"x": 1}}',
    ].join('\r\n');
    const res = await post(lines, 'application/x-ndjson');
    assert.equal(res.statusCode, 202, res.body);
    const body = res.json<Accepted>();
    assert.deepEqual(body.problems.map((p) => [p.line, p.problem.code]), [[3, 'MALFORMED_JSON'], [5, 'VALIDATION_FAILED']]);
    const view = await done(body.id);
    assert.deepEqual(view.items.map((i) => [i.line, i.status]), [[1, 'issued'], [3, 'invalid'], [4, 'issued'], [5, 'invalid']]);
  });

  it('resubmitting the same externalIds issues nothing new and answers the same numbers', async () => {
    const items = Array.from({ length: 20 }, (_, i) => sampleInvoice({ externalId: `r-${i}` }));
    const first = await done((await post(JSON.stringify(items))).json<Accepted>().id);
    const count = await invoiceCount();
    const again = await done((await post(JSON.stringify(items))).json<Accepted>().id);
    assert.equal(await invoiceCount(), count);
    assert.deepEqual(again.items.map((i) => i.number), first.items.map((i) => i.number));
    assert.equal(again.progress.issued, 20);
  });

  it('refuses more than 1,000 invoices with BATCH_TOO_LARGE and an empty batch with BATCH_EMPTY', async () => {
    const item = JSON.stringify(sampleInvoice({ externalId: 'x' }));
    const big = await post(`[${Array.from({ length: 1001 }, () => item).join(',')}]`);
    assert.equal(big.statusCode, 413, big.body);
    assert.equal(big.json<{ code: string }>().code, 'BATCH_TOO_LARGE');
    const bigLines = await post(Array.from({ length: 1001 }, () => item).join('\n'), 'application/x-ndjson');
    assert.equal(bigLines.json<{ code: string }>().code, 'BATCH_TOO_LARGE');
    const huge = await post(`[${' '.repeat(3 * 1024 * 1024)}]`);
    assert.equal(huge.statusCode, 413);
    assert.equal(huge.json<{ code: string }>().code, 'PAYLOAD_TOO_LARGE');
    const hugeLines = await post('\n'.repeat(3 * 1024 * 1024), 'application/x-ndjson');
    assert.equal(hugeLines.json<{ code: string }>().code, 'PAYLOAD_TOO_LARGE');
    const empty = await post('[]');
    assert.equal(empty.statusCode, 422);
    assert.equal(empty.json<{ code: string }>().code, 'BATCH_EMPTY');
  });

  it('accepts 1,000 invoices in one body', async () => {
    const items = Array.from({ length: 1000 }, (_, i) => JSON.stringify(sampleInvoice({ externalId: `k-${i}` })));
    const res = await post(items.join('\n'), 'application/x-ndjson');
    assert.equal(res.statusCode, 202, res.body.slice(0, 300));
    const view = await done(res.json<Accepted>().id);
    assert.equal(view.progress.issued, 1000);
    const page = await get(`/v1/invoice-batches/${view.id}?limit=100`);
    const first = page.json<View>();
    assert.equal(first.items.length, 100);
    const next = await get(`/v1/invoice-batches/${view.id}?limit=100&cursor=${first.nextCursor!}`);
    assert.equal(next.json<View>().items[0]!.index, 100);
  });

  it('does not show a batch to another tenant', async () => {
    const res = await post(JSON.stringify([sampleInvoice({ externalId: 'iso-1' })]));
    const { id } = res.json<Accepted>();
    const theirs = await get(`/v1/invoice-batches/${id}`, other.apiKey);
    assert.equal(theirs.statusCode, 404);
    assert.equal(theirs.json<{ code: string }>().code, 'INVOICE_BATCH_NOT_FOUND');
    const list = await get('/v1/invoice-batches', other.apiKey);
    assert.deepEqual(list.json<{ items: unknown[] }>().items, []);
    const mine = await get('/v1/invoice-batches?limit=2');
    const page = mine.json<{ items: { id: string }[]; nextCursor?: string }>();
    assert.equal(page.items[0]!.id, id);
    assert.ok(page.nextCursor);
    const rest = await get(`/v1/invoice-batches?cursor=${page.nextCursor}`);
    assert.ok(!rest.json<{ items: { id: string }[] }>().items.some((b) => page.items.some((p) => p.id === b.id)));
  });

  it('answers bad input with a 4xx problem, never 500', async () => {
    const cases: [string, () => Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>][] = [
      ['object body', () => post('{"type":"normal"}')],
      ['malformed JSON', () => post('[{')],
      ['string items', () => post('["a", 1, null, true]')],
      ['deep', () => post(`[${'['.repeat(40)}${']'.repeat(40)}]`)],
      ['huge amounts', () => post(JSON.stringify([sampleInvoice({ externalId: 'h', lines: [{ name: 'x', taxCode: '3040201000000000000', amount: '999999999999999.9999999999999', taxRate: '0.13' }] })]))],
      ['unicode ids', () => post(JSON.stringify([sampleInvoice({ externalId: '发票-1' }), sampleInvoice({ externalId: 'ok\ud800' })]))],
      ['lone surrogate line', () => post('{"externalId":"\\ud800"}\n', 'application/x-ndjson')],
      ['bad cursor', () => get('/v1/invoice-batches?cursor=%27%3B--')],
      ['bad item cursor', () => get('/v1/invoice-batches/bat_0000000000000000000000000000?cursor=zz')],
      ['unknown batch', () => get('/v1/invoice-batches/bat_0000000000000000000000000000')],
      ['bad batch id', () => get('/v1/invoice-batches/%F0%9F%92%A9')],
      ['huge limit', () => get('/v1/invoice-batches?limit=99999999999')],
      ['wrong type', () => post('<xml/>', 'application/xml')],
    ];
    for (const [name, run] of cases) {
      const res = await run();
      assert.ok(res.statusCode >= 200 && res.statusCode < 500, `${name}: ${res.statusCode} ${res.body}`);
      if (res.statusCode >= 400) assert.match(String(res.headers['content-type']), /application\/problem\+json/, name);
    }
  });

  it('needs the issuing scope', async () => {
    const { secret } = await t.app.services.tenants.createApiKey(other.tenantId, { scopes: ['invoices:read'] });
    const res = await post(JSON.stringify([sampleInvoice({ externalId: 's-1' })]), 'application/json', secret);
    assert.equal(res.statusCode, 403);
    assert.equal((await get('/v1/invoice-batches', secret)).statusCode, 403);
  });
});
