// `GET /v1/invoices?cursor=…` with a cursor the server did not issue: 400 CURSOR_INVALID naming `querystring:/cursor`,
// never a 500, on both storage engines (PostgreSQL refuses a NUL in text where SQLite does not, for one). A cursor the
// server did issue still pages on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { pgTestUrl, PG_SKIP_REASON, type PgTestDatabase } from '../helpers/pg.ts';
import { isErrorCode } from '../../src/platform/http/problem-details.ts';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');

/** Cursors no page of this server ever answered, as they appear in the query string. */
const BAD_CURSORS: [string, string][] = [
  ['a single letter', 'x'],
  ['empty', ''],
  ['unicode', encodeURIComponent('中文游标')],
  ['an undecodable escape', '%ED%A0%80'],
  ['base64 of bytes that are not UTF-8', b64(randomBytes(24))],
  ['base64 of broken JSON', b64('{"d":"2026-01-01",')],
  ['base64 of a JSON array', b64('[1,2]')],
  ['base64 of a JSON string', b64('"2026-01-01"')],
  ['base64 of JSON null', b64('null')],
  ['numbers where strings belong', b64('{"d":20260101,"n":1}')],
  ['another shape', b64('{"d":"2026-01-01","n":"x"}')],
  ['a date that is not one', b64('{"d":"2026-13-45","n":"26310000000000000001"}')],
  ['a NUL in the key', b64('{"d":"2026-01-01\\u0000","n":"26310000000000000001"}')],
  ['extra members', b64('{"d":"2026-01-01","n":"26310000000000000001","x":1}')],
  ['base64 with padding', `${b64('{"d":"2026-01-01","n":"26310000000000000001"}')}==`],
  ['standard base64 alphabet', Buffer.from('{"d":"2026-01-01","n":"26310000000000000001"}?>').toString('base64').replace(/=+$/, '')],
];

const pg: PgTestDatabase | undefined = await pgTestUrl();

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`search cursor (${engine})`, { skip: engine === 'postgres' && !pg ? PG_SKIP_REASON : false }, () => {
    let t: TestApp;
    const search = (query: string) =>
      t.api.inject({ method: 'GET', url: `/v1/invoices?${query}`, headers: { authorization: `Bearer ${t.apiKey}` } });

    before(async () => {
      t = await createTestApp(engine === 'postgres' ? { FAPIAO_DATABASE_URL: pg!.url, FAPIAO_MASTER_KEY: randomBytes(32).toString('base64') } : {});
      for (let i = 0; i < 3; i++) {
        const r = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
        assert.equal(r.statusCode, 201, r.body);
      }
    });
    after(async () => {
      await t?.close();
      if (engine === 'postgres') await pg?.drop();
    });

    for (const [name, cursor] of BAD_CURSORS) {
      it(`refuses ${name} with 400 CURSOR_INVALID`, async () => {
        const res = await search(`cursor=${cursor}`);
        assert.equal(res.statusCode, 400, res.body);
        assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
        const body = res.json<{ code: string; errors: { path: string; code: string }[] }>();
        assert.equal(body.code, 'CURSOR_INVALID');
        assert.deepEqual(body.errors.map((e) => [e.path, e.code]), [['querystring:/cursor', 'CURSOR_INVALID']]);
      });
    }

    it('refuses an over-long cursor with 400 naming the field', async () => {
      const res = await search(`cursor=${'A'.repeat(600)}`);
      assert.equal(res.statusCode, 400, res.body);
      const body = res.json<{ code: string; errors: { path: string; code: string }[] }>();
      assert.ok(isErrorCode(body.code));
      assert.equal(body.errors[0]?.path, 'querystring:/cursor');
    });

    it('pages on with the cursors it issued', async () => {
      const first = await search('limit=2');
      assert.equal(first.statusCode, 200, first.body);
      const page = first.json<{ items: { number: string }[]; nextCursor?: string }>();
      assert.equal(page.items.length, 2);
      assert.ok(page.nextCursor);
      const second = await search(`limit=2&cursor=${page.nextCursor}`);
      assert.equal(second.statusCode, 200, second.body);
      const rest = second.json<{ items: { number: string }[]; nextCursor?: string }>();
      assert.equal(rest.items.length, 1);
      assert.equal(rest.nextCursor, undefined);
      assert.ok(!page.items.some((i) => i.number === rest.items[0]!.number));
    });
  });
}
