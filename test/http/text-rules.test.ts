// The text rules (shared/text-rules.ts, docs/architecture.md "Text fields") at the HTTP edge, on both engines: every
// free-text field of every request refuses controls, lone surrogates and noncharacters with 422 TEXT_INVALID naming
// the field, before anything is numbered; and one tenant's such text never fails another tenant's invoices, which
// share its issuing batch.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { pgTestUrl, PG_SKIP_REASON, type PgTestDatabase } from '../helpers/pg.ts';
import type { Invoice } from '../../src/shared/invoice.ts';

/** Never allowed in any text field. */
const ALWAYS_BAD: Record<string, string> = {
  'NUL': '\u0000', 'U+0001': '\u0001', 'tab': '\t', 'ESC': '\u001b', 'DEL': '\u007f', 'U+0085 (C1)': '\u0085', 'U+009F': '\u009f',
  'lone high surrogate': '\ud800', 'lone low surrogate': '\udfff', 'reversed pair': '\udc00\ud800',
  'U+FDD0': '\ufdd0', 'U+FDEF': '\ufdef', 'U+FFFE': '\ufffe', 'U+FFFF': '\uffff', 'U+1FFFE': '\u{1fffe}', 'U+10FFFF': '\u{10ffff}',
};
/** Allowed only where a field has several lines (remarks). */
const LINE_BREAKS: Record<string, string> = { LF: '\n', CR: '\r', CRLF: '\r\n' };

const LINE = { name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '100.00', taxRate: '0.13' };
const MARK = '秘密文字';

/** Invoice fields with free text: the JSON Pointer and how to put a value there. */
const INVOICE_FIELDS: { path: string; multiline?: boolean; body: (v: string) => Record<string, unknown> }[] = [
  { path: '/buyer/name', body: (v) => sampleInvoice({ buyer: { name: v } }) },
  { path: '/buyer/address', body: (v) => sampleInvoice({ buyer: { name: '某公司', address: v } }) },
  { path: '/buyer/bankName', body: (v) => sampleInvoice({ buyer: { name: '某公司', bankName: v } }) },
  { path: '/lines/0/name', body: (v) => sampleInvoice({ lines: [{ ...LINE, name: v }] }) },
  { path: '/lines/0/shortName', body: (v) => sampleInvoice({ lines: [{ ...LINE, shortName: v }] }) },
  { path: '/lines/0/spec', body: (v) => sampleInvoice({ lines: [{ ...LINE, spec: v }] }) },
  { path: '/lines/0/unit', body: (v) => sampleInvoice({ lines: [{ ...LINE, unit: v }] }) },
  { path: '/issuer', body: (v) => sampleInvoice({ issuer: v }) },
  { path: '/remarks', multiline: true, body: (v) => sampleInvoice({ remarks: v }) },
];

const databases: { engine: string; db?: PgTestDatabase; skip: string | false }[] = [
  { engine: 'sqlite', skip: false },
  await (async () => {
    const db = await pgTestUrl();
    return { engine: 'postgres', ...(db ? { db } : {}), skip: db ? false : PG_SKIP_REASON };
  })(),
];

for (const { engine, db, skip } of databases) {
  describe(`text rules at the HTTP edge: ${engine}`, { skip }, () => {
    let t: TestApp;
    let other: { apiKey: string };
    const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
    const issue = (body: unknown, key?: string) =>
      t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(key), payload: JSON.stringify(body) });
    const admin = (): FastifyInstance => t.servers.get('admin')!;
    const adminCall = (method: 'POST' | 'PATCH' | 'GET' | 'DELETE', url: string, body?: unknown) =>
      admin().inject({
        method, url, remoteAddress: '127.0.0.1',
        headers: { authorization: `Bearer ${t.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });

    before(async () => {
      t = await createTestApp(db ? { FAPIAO_DATABASE_URL: db.url } : {});
      // A second tenant of the same region: its invoices share the first tenant's issuing batches.
      other = await t.app.services.tenants.create({ ...OTHER_SELLER, regionCode: '31' }, undefined, ['invoices:issue', 'invoices:read']);
    });
    after(async () => {
      await t?.close();
      await db?.drop();
    });

    function assertTextInvalid(res: { statusCode: number; body: string }, path: string, what: string): void {
      assert.equal(res.statusCode, 422, `${what}: ${res.body}`);
      const p = JSON.parse(res.body) as { code: string; errors: { path: string; code: string }[] };
      assert.equal(p.code, 'TEXT_INVALID', what);
      assert.deepEqual(p.errors.map((e) => [e.path, e.code]), [[path, 'TEXT_INVALID']], what);
      assert.ok(!res.body.includes(MARK), 'the problem never quotes the value');
    }

    for (const field of INVOICE_FIELDS) {
      it(`refuses controls, lone surrogates and noncharacters in ${field.path}`, async () => {
        const bad = { ...ALWAYS_BAD, ...(field.multiline ? {} : LINE_BREAKS) };
        for (const [name, ch] of Object.entries(bad)) assertTextInvalid(await issue(field.body(`文字${ch}${MARK}`)), field.path, name);
      });
    }

    it('accepts line breaks in remarks, astral characters and U+FFFD, and renders them in every format', async () => {
      const bodies = [
        sampleInvoice({ remarks: '第一行\n第二行\r\n第三行\r第四行' }),
        sampleInvoice({ buyer: { name: '𠀀𪚥 公司 😀 \ufffd \u200d' }, lines: [{ ...LINE, name: '私用区\ue000', spec: '\u{10fffd}', unit: '个' }], issuer: '王\u2028五' }),
      ];
      for (const body of bodies) {
        const res = await issue(body);
        assert.equal(res.statusCode, 201, res.body);
        const inv = res.json<Invoice>();
        for (const format of ['json', 'xml', 'pdf', 'ofd', 'ubl']) {
          const doc = await t.api.inject({ method: 'GET', url: `/v1/invoices/${inv.number}?format=${format}`, headers: auth() });
          assert.equal(doc.statusCode, 200, `${format}: ${doc.body.slice(0, 300)}`);
        }
      }
    });

    it("never fails another tenant's invoices in the shared batch", async () => {
      const bad = [
        sampleInvoice({ remarks: 'a\ud800b' }),
        sampleInvoice({ lines: [{ ...LINE, name: 'x\u0000y' }] }),
        sampleInvoice({ lines: [{ ...LINE, shortName: '信息\u0000技术' }] }),
        sampleInvoice({ buyer: { name: '某公司\uffff' } }),
      ];
      const sent = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? issue(sampleInvoice()) : issue(bad[(i >> 1) % bad.length], other.apiKey)));
      const answers = await Promise.all(sent);
      answers.forEach((r, i) => assert.equal(r.statusCode, i % 2 === 0 ? 201 : 422, r.body));
      const seqs = answers.filter((_, i) => i % 2 === 0).map((r) => Number(r.json<Invoice>().number.slice(5))).sort((a, b) => a - b);
      assert.deepEqual(seqs, seqs.map((_, k) => seqs[0]! + k), 'consecutive numbers');
    });

    it('refuses such text in search, 查验 and admin requests too', async () => {
      const search = await t.api.inject({ method: 'GET', url: '/v1/invoices?buyerPhone=139%EF%BF%BE', headers: auth() });
      assertTextInvalid(search, 'querystring:/buyerPhone', 'search');
      const email = await t.api.inject({ method: 'GET', url: '/v1/invoices?buyerEmail=a%EF%BF%BF%40b.cn', headers: auth() });
      assertTextInvalid(email, 'querystring:/buyerEmail', 'search by e-mail');
      const verify = await t.api.inject({ method: 'POST', url: '/v1/verify', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ number: `1\u0000${MARK}`, issueDate: '2026-01-01', total: '1.00' }) });
      assertTextInvalid(verify, '/number', 'verify');

      const created = await adminCall('POST', '/admin/v1/tenants', { name: `新公司\u0000${MARK}`, taxId: '915300007194052520', regionCode: '31' });
      assertTextInvalid(created, '/name', 'tenant create');
      const patched = await adminCall('PATCH', `/admin/v1/tenants/${t.tenantId}`, { address: `某路\ud800${MARK}` });
      assertTextInvalid(patched, '/address', 'tenant update');
      const ban = await adminCall('POST', '/admin/v1/bans', { target: '203.0.113.9', reason: 'manual', note: `原因\u0007${MARK}` });
      assertTextInvalid(ban, '/note', 'ban note');
      const audit = await adminCall('GET', '/admin/v1/audit?action=x%C2%85');
      assertTextInvalid(audit, 'querystring:/action', 'audit search');
    });

    it('refuses such text from the CLI path too (the domain checks it again)', async () => {
      await assert.rejects(
        t.app.services.tenants.create({ name: `CLI公司\u0000${MARK}`, taxId: '915300007194052520', regionCode: '31' }),
        (e: unknown) => (e as { code?: string }).code === 'TEXT_INVALID',
      );
      await assert.rejects(
        t.app.services.tenants.update(t.tenantId, { bankName: `银行\uffff${MARK}` }),
        (e: unknown) => (e as { code?: string }).code === 'TEXT_INVALID',
      );
    });
  });
}
