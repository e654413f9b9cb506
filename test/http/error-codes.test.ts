// Every code of the registry (src/errors.ts, docs/errors.md) is produced for its case: one row per code, a request
// (or, for what no request can cause, an injected fault or a direct call) that answers it. A few are produced only
// on a real socket or by a long set-up another suite makes; those are listed with the suite that produces them, and
// that suite is checked to name the code. A code added to the registry without a row here fails this test.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ERRORS, AppError, type ErrorCode } from '../../src/shared/errors.ts';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { UniqueViolation } from '../../src/platform/storage/storage-errors.ts';
import type { Repositories } from '../../src/repositories.ts';
import { loadOrCreateMasterKey } from '../../src/platform/crypto/key-store.ts';
import { DataKeyService } from '../../src/modules/keys/app/data-key-service.ts';
import { IssueWriter } from '../../src/modules/invoicing/app/issue-writer.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { MAX_SEQ, seriesKey } from '../../src/modules/invoicing/domain/invoice-number.ts';
import { chinaYear } from '../../src/shared/china-time.ts';
import { computeInvoice } from '../../src/modules/invoicing/domain/tax.ts';
import { duringTransactions, withMethods } from '../helpers/uow-c.ts';
import { httpStatusOf } from '../../src/platform/http/error-status.ts';

/** What a row gives back: an HTTP answer, or the error a direct call threw. */
type Produced = LightMyRequestResponse | AppError;

const LINE = { name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '100.00', taxRate: '0.13' };
const line = (patch: Record<string, unknown>) => sampleInvoice({ lines: [{ ...LINE, ...patch }] });

/** Produced only over a real socket, or after a set-up of its own: the suite that produces and asserts it. */
const ELSEWHERE = {
  REQUEST_TIMEOUT: { suite: 'test/e2e/request-limits.test.ts', why: 'a slow client on a real socket (inject has no timeouts)' },
  HEADERS_TOO_LARGE: { suite: 'test/e2e/request-limits.test.ts', why: "Node's HTTP parser refuses the headers before Fastify sees a request" },
  EVENT_STREAM_LIMIT: { suite: 'test/http/push.test.ts', why: 'needs as many open event streams as the limit, on a listening push listener' },
  MASTER_KEY_UNAVAILABLE: { suite: 'test/e2e/key-cli.test.ts', why: 'needs a data key wrapped under a master key version no longer configured' },
  EXPECTATION_FAILED: { suite: 'test/fuzz/raw-socket.test.ts', why: "Node answers an unknown Expect before Fastify sees a request (a real socket)" },
  STORAGE_UNAVAILABLE: { suite: 'test/http/storage-outage.test.ts', why: 'needs a database that refuses writes (a full file system, a cut connection)' },
  RED_LETTER_TARGET_RED: { suite: 'test/usecases/red-letter.test.ts', why: 'needs a red invoice' },
  RED_LETTER_FORM_EXPIRED: { suite: 'test/usecases/red-letter.test.ts', why: 'needs a clock 72 hours on' },
  EMAIL_NOT_CONFIGURED: { suite: 'test/http/email-delivery.test.ts', why: 'needs a server without an SMTP host beside one with it' },
  EMAIL_RECIPIENT_MISSING: { suite: 'test/http/email-delivery.test.ts', why: 'needs e-mail delivery configured (an SMTP server on loopback)' },
} satisfies Partial<Record<ErrorCode, { suite: string; why: string }>>;

describe('every registered error code is produced for its case', () => {
  let t: TestApp;
  let otherTenant: { id: string; apiKey: string };
  let issued: Invoice;
  const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  const server = (name: string): FastifyInstance => t.servers.get(name)!;
  const issue = (body: unknown, headers: Record<string, string> = {}, key?: string) =>
    t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { ...auth(key), ...headers }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
  const redLetter = (body: unknown) =>
    t.api.inject({ method: 'POST', url: '/v1/red-letter-requests', headers: auth(), payload: JSON.stringify(body) });
  const batch = (items: unknown[]) =>
    t.api.inject({ method: 'POST', url: '/v1/invoice-batches', headers: auth(), payload: JSON.stringify(items) });
  /** A batch answers 202 and names each refused item's problem; the last one is the code under test. */
  const batchItemProblem = (res: LightMyRequestResponse): AppError => {
    const problems = res.json<{ problems: { problem: { code: ErrorCode } }[] }>().problems;
    return new AppError(problems.at(-1)!.problem.code);
  };
  const admin = (method: 'GET' | 'POST' | 'DELETE' | 'PATCH', url: string, body?: unknown, remoteAddress = '127.0.0.1') =>
    server('admin').inject({
      method, url, remoteAddress,
      headers: { authorization: `Bearer ${t.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
  const db = () => t.app.storage.db;
  /**
   * Runs `fn` while the transactions of the app's unit of work (the one its issue writer holds) see their repositories
   * through `wrap`: a fault injected into the issuing transaction itself.
   */
  const withTx = <T>(wrap: (tx: Repositories) => Repositories, fn: () => Promise<T>): Promise<T> => duringTransactions(t.app.uow, wrap, fn);

  before(async () => {
    t = await createTestApp();
    const other = await t.app.services.tenants.create(OTHER_SELLER, undefined, ['invoices:issue', 'invoices:read']);
    otherTenant = { id: other.tenant.id, apiKey: other.apiKey };
    const res = await issue(sampleInvoice());
    assert.equal(res.statusCode, 201, res.body);
    issued = res.json<Invoice>();
  });
  after(async () => {
    await t.close();
  });

  const rows: Record<ErrorCode, (() => Promise<Produced>) | { suite: string; why: string }> = {
    VALIDATION_FAILED: () => issue(sampleInvoice({ colour: 'red' })),
    MALFORMED_JSON: () => issue('{"type":'),
    UNSUPPORTED_MEDIA_TYPE: () => t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { ...auth(), 'content-type': 'text/plain' }, payload: 'hi' }),
    PAYLOAD_TOO_LARGE: () => issue(sampleInvoice({ remarks: 'x'.repeat(2 * 1024 * 1024) })),
    UNAUTHENTICATED: () => t.api.inject({ method: 'GET', url: '/v1/invoices' }),
    FORBIDDEN: async () => {
      // The document of an invoice carries the buyer's personal data: a key without pii:read may not download it.
      const own = (await issue(sampleInvoice(), {}, otherTenant.apiKey)).json<Invoice>();
      return t.api.inject({ method: 'GET', url: `/v1/invoices/${own.number}?format=pdf`, headers: auth(otherTenant.apiKey) });
    },
    NOT_FOUND: () => t.api.inject({ method: 'GET', url: '/nope' }),
    METHOD_NOT_ALLOWED: () => t.api.inject({ method: 'TRACE' as 'GET', url: '/v1/keys', remoteAddress: '192.0.2.30' }),
    NOT_ACCEPTABLE: () => t.api.inject({ method: 'GET', url: `/v1/invoices/${issued.number}`, headers: { ...auth(), accept: 'image/png' } }),
    RATE_LIMITED: async () => {
      // 查验 of one invoice number is limited per day (FAPIAO_VERIFY_PER_INVOICE_PER_DAY, default 5).
      let last: LightMyRequestResponse | undefined;
      for (let i = 0; i < 6; i++) {
        last = await t.api.inject({ method: 'POST', url: '/v1/verify', remoteAddress: '192.0.2.40', payload: { number: issued.number, issueDate: issued.issueDate, total: '1.00' } });
      }
      return last!;
    },
    CURSOR_INVALID: () => t.api.inject({ method: 'GET', url: '/v1/invoices?cursor=x', headers: auth() }),
    LEDGER_SIZE_INVALID: () => t.api.inject({ method: 'GET', url: '/v1/ledger/consistency?from=2&to=1' }),
    URL_INVALID: () => t.api.inject({ method: 'GET', url: '/v1/invoices/%ED%A0%80', headers: auth(), remoteAddress: '192.0.2.50' }),
    URI_TOO_LONG: () => t.api.inject({ method: 'GET', url: `/v1/invoices/${'1'.repeat(200)}`, headers: auth(), remoteAddress: '192.0.2.51' }),
    INVOICE_NOT_FOUND: () => t.api.inject({ method: 'GET', url: '/v1/invoices/26319000000000000999', headers: auth() }),
    TENANT_NOT_FOUND: () => admin('GET', '/admin/v1/tenants/t_0000000000000000'),
    API_KEY_NOT_FOUND: () => admin('DELETE', `/admin/v1/tenants/${t.tenantId}/api-keys/nokey`),
    IDEMPOTENCY_KEY_REUSED: async () => {
      await issue(sampleInvoice(), { 'idempotency-key': 'reuse-1' });
      return issue(sampleInvoice({ issuer: '李四' }), { 'idempotency-key': 'reuse-1' });
    },
    IDEMPOTENCY_KEY_IN_FLIGHT: async () => {
      const [a, b] = await Promise.all([issue(sampleInvoice(), { 'idempotency-key': 'flight-1' }), issue(sampleInvoice(), { 'idempotency-key': 'flight-1' })]);
      return a.statusCode === 409 ? a : b;
    },
    IDEMPOTENCY_KEY_INVALID: () => issue(sampleInvoice(), { 'idempotency-key': 'has space' }),
    AMOUNT_INVALID: () => issue(line({ amount: '100.001' })),
    QUANTITY_INVALID: () => issue(line({ quantity: '0', unitPrice: '100', amount: '100.00' })),
    AMOUNT_MISMATCH: () => issue(line({ quantity: '3', unitPrice: '33.00', amount: '100.00' })),
    TAX_RATE_NOT_ALLOWED: () => issue(line({ taxRate: '0.17' })),
    TAX_MISMATCH: () => issue(line({ tax: '13.07' })),
    TAX_TOTAL_MISMATCH: () => issue(sampleInvoice({ lines: Array.from({ length: 30 }, () => ({ ...LINE, tax: '13.05' })) })),
    TAX_CODE_INVALID: () => issue(line({ taxCode: '30402010' })),
    TAX_ID_CHECKSUM: () => issue(sampleInvoice({ buyer: { name: '某公司', taxId: '91110000600037341K' } })),
    TAX_ID_INVALID: () => issue(sampleInvoice({ buyer: { name: '某公司', taxId: 'ABC' } })),
    BUYER_TAX_ID_REQUIRED: () => issue(sampleInvoice({ type: 'special', buyer: { name: '某公司' } })),
    DISCOUNT_INVALID: () => issue(line({ discount: '200.00' })),
    LINES_EMPTY: () => issue(sampleInvoice({ lines: [] })),
    TOTAL_NOT_POSITIVE: () => issue(line({ discount: '100.00' })),
    AMOUNT_TOO_LARGE: () => issue(sampleInvoice({ lines: Array.from({ length: 3 }, () => ({ ...LINE, amount: '999999999999999.00' })) })),
    EXTERNAL_ID_CONFLICT: () =>
      // The database refuses the externalId as taken, yet no invoice of this tenant holds it (a conflict with a row
      // this node cannot see): the request is answered EXTERNAL_ID_CONFLICT, not a replay of some other invoice.
      withTx(
        (tx) => ({ ...tx, invoices: withMethods(tx.invoices, { insert: () => Promise.reject(new UniqueViolation('invoices_external_id_uq')) }) }),
        () => issue(sampleInvoice({ externalId: 'ERP-CONFLICT-1' })),
      ),
    NUMBER_SERIES_EXHAUSTED: async () => {
      // A tenant alone in region 12, whose series has given out its last number.
      const full = await t.app.services.tenants.create({ name: '号段用尽公司', taxId: '9153000077859986X2', regionCode: '12' });
      await db().insertInto('number_series').values({ series: seriesKey(chinaYear(new Date()), '12', 1), next_seq: MAX_SEQ + 1 }).execute();
      return issue(sampleInvoice(), {}, full.apiKey);
    },
    REGION_CODE_INVALID: () => admin('POST', '/admin/v1/tenants', { name: '某新公司', taxId: '91310115MA1H7GQH2X', regionCode: '3' }),
    SIGNING_KEY_UNAVAILABLE: async () => {
      // Direct call: a writer whose signer fails (its worker died) answers a 503 to retry.
      const writer = new IssueWriter({
        uow: t.app.uow, quotas: t.app.uow.read.quotaUsage, clock: systemClock, verifyUrl: () => 'https://x/verify', batchMax: 8,
        signer: { keyId: 'k', publicKey: '04', sign: () => Promise.reject(new Error('worker exited')) },
      });
      const { lines, totals } = computeInvoice({ type: 'normal', buyer: { name: '某公司' }, lines: [LINE], issuer: '张三' });
      const draft = { type: 'normal' as const, kind: 'blue' as const, seller: { name: '卖方', taxId: '91310000775785552L' }, buyer: { name: '某公司' }, lines, priceIncludesTax: false, totals, issuer: '张三' };
      return writer.write({ tenantId: t.tenantId, regionCode: '31', channel: '1', draft }).then(() => assert.fail('issued'), (e: AppError) => e);
    },
    SERVICE_UNAVAILABLE: () =>
      // Injected contention: every commit finds the series moved on (its compare-and-set matches no row; the series
      // stands where the writer numbered from), until the writer gives up and asks for a retry.
      withTx(
        (tx) => ({ ...tx, series: withMethods(tx.series, { advance: (_series, first) => Promise.resolve(first) }) }),
        () => issue(sampleInvoice()),
      ),
    CONFIG_INVALID: () => {
      const dir = mkdtempSync(join(tmpdir(), 'fapiao-codes-'));
      try {
        loadOrCreateMasterKey(dir, 'not base64!');
        return Promise.reject(new Error('accepted'));
      } catch (e) {
        return Promise.resolve(e as AppError);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    INTERNAL: async () => {
      // A stored document a renderer cannot use (a damaged row): the UBL amount is not a decimal.
      const own = (await issue(sampleInvoice())).json<Invoice>();
      const row = await db().selectFrom('invoices').select('document').where('number', '=', own.number).executeTakeFirstOrThrow();
      const doc = JSON.parse(row.document) as Invoice;
      doc.lines[0]!.amount = 'damaged';
      await db().updateTable('invoices').set({ document: JSON.stringify(doc) }).where('number', '=', own.number).execute();
      return t.api.inject({ method: 'GET', url: `/v1/invoices/${own.number}?format=ubl`, headers: auth() });
    },
    SHORT_NAME_REQUIRED: () => issue(sampleInvoice({ lines: [{ name: 'x', taxCode: '9999999999999999999', amount: '100.00', taxRate: '0.13' }] })),
    ADDRESS_NOT_ALLOWED: () => admin('GET', '/admin/v1/tenants', undefined, '198.51.100.7'),
    API_KEY_LIMIT: async () => {
      await admin('POST', `/admin/v1/tenants/${otherTenant.id}/api-keys`, {});
      return admin('POST', `/admin/v1/tenants/${otherTenant.id}/api-keys`, {});
    },
    HTTPS_REQUIRED: () => server('redirect').inject({ method: 'POST', url: '/v1/invoices' }),
    BLOCKED: async () => {
      await admin('POST', '/admin/v1/bans', { target: '203.0.113.50', reason: 'blocklist' });
      return t.api.inject({ method: 'GET', url: '/v1/keys', remoteAddress: '203.0.113.50' });
    },
    BANNED: async () => {
      await admin('POST', '/admin/v1/bans', { target: '203.0.113.60', reason: 'manual', durationSec: 600 });
      return t.api.inject({ method: 'GET', url: '/v1/keys', remoteAddress: '203.0.113.60' });
    },
    EXPLOIT_SIGNATURE: () => t.api.inject({ method: 'GET', url: "/v1/invoices?buyerTaxId=1'%20OR%201=1--", remoteAddress: '192.0.2.70', headers: auth() }),
    EVENT_ID_INVALID: () => server('push').inject({ method: 'GET', url: '/v1/events?after=abc', headers: auth() }),
    QUOTA_EXCEEDED: async () => {
      const q = await t.app.services.tenants.create({ name: '限额公司', taxId: '91350100M000100Y43', regionCode: '31', monthlyQuota: '1.00' });
      return issue(sampleInvoice(), {}, q.apiKey);
    },
    FIELD_PROTECTION_OFF: () =>
      // Direct call: without a master key there are no data keys to manage.
      new DataKeyService({ uow: t.app.uow, clock: systemClock, protection: false, defaultAlgorithm: 'aes-256-gcm' }).status(t.tenantId)
        .then(() => assert.fail('answered'), (e: AppError) => e),
    TEXT_INVALID: () => issue(sampleInvoice({ remarks: 'a\ud800b' })),
    BUYER_IS_SELLER: () => issue(sampleInvoice({ buyer: { name: '上海测试科技有限公司', taxId: '91310000775785552L' } })),
    RED_LETTER_FORM_NOT_FOUND: () => t.api.inject({ method: 'GET', url: '/v1/red-letter-requests/0000000000000000000000000', headers: auth() }),
    RED_LETTER_REASON_INVALID: () => redLetter({ invoiceNumber: issued.number, reason: '99' }),
    RED_LETTER_LINE_INVALID: () => redLetter({ invoiceNumber: issued.number, reason: '01', lines: [{ line: 9 }] }),
    RED_LETTER_OVER_REVERSAL: () => redLetter({ invoiceNumber: issued.number, reason: '01', lines: [{ line: 1, amount: '1000.00' }] }),
    RED_LETTER_TRANSITION_REFUSED: async () => {
      // The buyer is no tenant here: the form needs no confirmation (01), so nobody may confirm it.
      const form = (await redLetter({ invoiceNumber: issued.number, reason: '04', lines: [{ line: 1, amount: '1.00' }] })).json<{ id: string }>();
      return t.api.inject({ method: 'POST', url: `/v1/red-letter-requests/${form.id}/confirm`, headers: { authorization: `Bearer ${t.apiKey}` } });
    },
    WEBHOOK_NOT_FOUND: () => t.api.inject({ method: 'GET', url: '/v1/webhooks/whe_0123456789abcdef01234567', headers: auth() }),
    WEBHOOK_URL_REFUSED: () => t.api.inject({ method: 'POST', url: '/v1/webhooks', headers: auth(), payload: { url: 'https://10.0.0.1/hook', eventTypes: ['invoice.issued'] } }),
    WEBHOOK_DELIVERY_NOT_FOUND: async () => {
      const e = await t.api.inject({ method: 'POST', url: '/v1/webhooks', headers: auth(), payload: { url: 'https://example.com/hook', eventTypes: ['invoice.issued'], enabled: false } });
      const id = e.json<{ id: string }>().id;
      return t.api.inject({ method: 'POST', url: `/v1/webhooks/${id}/deliveries/whd_0123456789abcdef01234567/redeliver`, headers: { authorization: `Bearer ${t.apiKey}` } });
    },
    INVOICE_BATCH_NOT_FOUND: () => t.api.inject({ method: 'GET', url: '/v1/invoice-batches/bat_0000000000000000000000000000', headers: auth() }),
    BATCH_TOO_LARGE: () => batch(Array.from({ length: 1001 }, (_, i) => sampleInvoice({ externalId: `big-${i}` }))),
    BATCH_EMPTY: () => batch([]),
    EXTERNAL_ID_REQUIRED: async () => batchItemProblem(await batch([sampleInvoice()])),
    EXTERNAL_ID_DUPLICATE: async () => batchItemProblem(await batch([sampleInvoice({ externalId: 'dup' }), sampleInvoice({ externalId: 'dup' })])),
    WEBHOOK_LIMIT: async () => {
      const create = () => t.api.inject({ method: 'POST', url: '/v1/webhooks', headers: auth(otherTenant.apiKey), payload: { url: 'https://example.com/hook', eventTypes: ['invoice.issued'], enabled: false } });
      for (;;) {
        const res = await create();
        if (res.statusCode !== 201) return res;
      }
    },
    STATEMENT_PERIOD_INVALID: () => t.api.inject({ method: 'GET', url: '/v1/statements?from=2026-11-30&to=2026-11-01', headers: auth() }),
    RECONCILIATION_NOT_FOUND: () => t.api.inject({ method: 'GET', url: '/v1/reconciliations/rc_0000000000000000000000000', headers: auth() }),
    RECONCILIATION_UPLOAD_INVALID: () => t.api.inject({ method: 'POST', url: '/v1/reconciliations', headers: { ...auth(), 'content-type': 'text/csv' }, payload: 'date,amount\n' }),
    ...ELSEWHERE,
  };

  it('has a row for every code', () => {
    const missing = (Object.keys(ERRORS) as ErrorCode[]).filter((c) => rows[c] === undefined);
    assert.deepEqual(missing, [], 'add a row producing each new code');
  });

  for (const code of Object.keys(ERRORS) as ErrorCode[]) {
    const row = rows[code];
    if (typeof row === 'function') {
      it(`produces ${code}`, async () => {
        const got = await row();
        if (got instanceof AppError) {
          assert.equal(got.code, code);
          return;
        }
        assert.match(String(got.headers['content-type']), /^application\/problem\+json/, got.body.slice(0, 200));
        const problem = got.json<{ code: string; status: number }>();
        assert.equal(problem.code, code, got.body.slice(0, 400));
        assert.equal(got.statusCode, httpStatusOf(code));
        assert.equal(problem.status, httpStatusOf(code));
      });
    } else if (row !== undefined) {
      it(`produces ${code} in ${row.suite} (${row.why})`, () => {
        assert.ok(readFileSync(new URL(`../../${row.suite}`, import.meta.url), 'utf8').includes(code));
      });
    }
  }
});
