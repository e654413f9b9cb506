// E-mail delivery end to end: the api listener, the running app's dispatcher, a real SMTP server on 127.0.0.1
// (`smtp-server`, STARTTLS with a certificate of the development PKI, AUTH required) and every message parsed with
// `mailparser`: recipients, subject, and attachments byte-equal to the documents the API serves.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { unzipSync } from 'fflate';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevPki } from '../../src/platform/crypto/dev-certs.ts';
import { createTestApp, OTHER_SELLER, SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.ts';
import { until } from '../helpers/webhook-receiver.ts';

interface Delivery { id: string; number: string; to: string | null; formats: string[]; lang: string; source: string; status: string; attempts: number; lastReplyCode: number | null; lastReply: string | null; messageId: string | null; sentAt: string | null }

describe('e-mail delivery of invoices (SMTP with STARTTLS on loopback)', () => {
  let t: TestApp;
  let sink: SmtpSink;
  let pkiDir: string;
  let other: { apiKey: string };
  let maskedKey: string;
  const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}` });
  const call = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown, key?: string) =>
    t.api.inject({ method, url, headers: auth(key), ...(payload === undefined ? {} : { payload: payload as object }) });
  const issue = async (body = sampleInvoice()) => {
    const res = await call('POST', '/v1/invoices', body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json<{ number: string }>().number;
  };
  const deliveries = async (number: string, key?: string) => (await call('GET', `/v1/invoices/${number}/deliveries`, undefined, key)).json<{ items: Delivery[] }>().items;
  const documentOf = async (number: string, format: string) => {
    const res = await call('GET', `/v1/invoices/${number}?format=${format}`);
    assert.equal(res.statusCode, 200);
    return res.rawPayload;
  };

  before(async () => {
    pkiDir = mkdtempSync(join(tmpdir(), 'fapiao-smtp-pki-'));
    const pki = await createDevPki(['localhost']);
    writeFileSync(join(pkiDir, 'ca.pem'), pki.ca.certPem);
    sink = await startSmtpSink({ tls: { key: Buffer.from(pki.server.keyPem), cert: Buffer.from(pki.server.certPem) }, auth: { user: 'mailer', pass: 's3cret-smtp' } });
    t = await createTestApp({
      FAPIAO_SMTP_HOST: 'localhost', FAPIAO_SMTP_PORT: String(sink.port), FAPIAO_SMTP_SECURITY: 'starttls',
      FAPIAO_SMTP_CA_FILE: join(pkiDir, 'ca.pem'), FAPIAO_SMTP_USER: 'mailer', FAPIAO_SMTP_PASSWORD: 's3cret-smtp',
      FAPIAO_SMTP_FROM: 'invoices@fapiao.test', FAPIAO_WEBHOOKS_IDLE_POLL_MS: '50',
      // Every download rendered anew: an attachment equals it because rendering is deterministic, not by a cache hit.
      FAPIAO_RENDER_CACHE_MB: '0', FAPIAO_MAX_EVENT_LOOP_DELAY_MS: '0',
    });
    other = await t.app.services.tenants.create(OTHER_SELLER);
    maskedKey = (await t.app.services.tenants.createApiKey(t.tenantId, { scopes: ['invoices:issue', 'invoices:read'] })).secret;
  });
  after(async () => {
    await t?.close();
    await sink?.close();
    if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
  });

  it('sends the invoice to its buyer with PDF, OFD and XML byte-equal to the API\'s documents, over STARTTLS with AUTH', async () => {
    const number = await issue();
    // Once integrated the documents carry the ledger proof: wait for it, so the message and the GETs below are
    // rendered against the same checkpoint.
    await until(async () => (await call('GET', `/v1/ledger/proof/${number}`)).statusCode === 200);
    const res = await call('POST', `/v1/invoices/${number}/send`, { formats: ['pdf', 'ofd', 'xml'], lang: 'en' });
    assert.equal(res.statusCode, 202, res.body);
    const queued = res.json<Delivery>();
    assert.equal(queued.status, 'queued');
    assert.equal(queued.to, 'buyer@example.com');
    await until(() => sink.received.length === 1);
    const got = sink.received[0]!;
    assert.equal(got.secure, true, 'the message went over TLS (STARTTLS)');
    assert.equal(got.user, 'mailer');
    assert.deepEqual(got.envelope.to, ['buyer@example.com']);
    assert.equal(got.envelope.from, 'invoices@fapiao.test');
    assert.deepEqual(got.mail.to && !Array.isArray(got.mail.to) ? got.mail.to.value.map((a) => a.address) : [], ['buyer@example.com']);
    assert.equal(got.mail.subject, `[${SELLER.name}] E-invoice ${number}`);
    assert.ok(got.mail.text?.includes(number));
    assert.ok(got.mail.html && got.mail.html.includes(number));
    const files = new Map(got.mail.attachments.map((a) => [a.filename, a]));
    assert.deepEqual([...files.keys()].sort(), [`${number}.ofd`, `${number}.pdf`, `${number}.xml`]);
    for (const f of ['pdf', 'xml']) {
      assert.ok(files.get(`${number}.${f}`)!.content.equals(await documentOf(number, f)), `${f} equals GET ?format=${f}`);
    }
    // The OFD too, package signature included: its SM2 nonce is derived from the key and the signed bytes (RFC 6979).
    const ofd = files.get(`${number}.ofd`)!.content;
    assert.ok(ofd.equals(await documentOf(number, 'ofd')), 'ofd equals GET ?format=ofd');
    assert.ok(Object.keys(unzipSync(ofd)).includes('Doc_0/Signs/Sign_0/SignedValue.dat'), 'the OFD is signed');
    await until(async () => (await deliveries(number))[0]?.status === 'sent');
    const [d] = await deliveries(number);
    assert.equal(d!.attempts, 1);
    assert.equal(d!.lastReplyCode, 250);
    assert.match(d!.lastReply!, /^250 OK: queued as Q1/);
    assert.equal(d!.messageId, `<${queued.id}@fapiao.test>`);
    assert.equal(got.mail.messageId, d!.messageId);
    assert.ok(d!.sentAt);
  });

  it('keeps an address given in the request encrypted at rest and masks it for keys without pii:read', async () => {
    const number = await issue();
    const res = await call('POST', `/v1/invoices/${number}/send`, { to: 'finance.team@buyer.test', formats: ['xml'] });
    assert.equal(res.statusCode, 202, res.body);
    const id = res.json<Delivery>().id;
    await until(() => sink.received.some((r) => r.envelope.to.includes('finance.team@buyer.test')));
    const row = await t.app.storage.db.selectFrom('email_deliveries').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.ok(!JSON.stringify(row).includes('finance.team'), 'the address is not stored in the clear');
    assert.equal((await deliveries(number))[0]!.to, 'finance.team@buyer.test');
    assert.equal((await deliveries(number, maskedKey))[0]!.to, 'f*******@buyer.test');
    const masked = await call('POST', `/v1/invoices/${number}/send`, { formats: [] }, maskedKey);
    assert.equal(masked.json<Delivery>().to, 'b*******@example.com');
    await until(async () => (await deliveries(number)).every((x) => x.status === 'sent'));
  });

  it('sends newly issued invoices automatically once the tenant enables it, with the tenant\'s attachments and language', async () => {
    const s = await call('PATCH', '/v1/email-settings', { autoSend: true, formats: ['pdf'], lang: 'zh' });
    assert.equal(s.statusCode, 200, s.body);
    assert.deepEqual(s.json(), { autoSend: true, formats: ['pdf'], lang: 'zh' });
    const before = sink.received.length;
    const number = await issue();
    await until(() => sink.received.length === before + 1);
    const got = sink.received.at(-1)!;
    assert.equal(got.mail.subject, `【${SELLER.name}】电子发票 ${number}`);
    assert.deepEqual(got.mail.attachments.map((a) => a.filename), [`${number}.pdf`]);
    assert.ok(got.mail.attachments[0]!.content.equals(await documentOf(number, 'pdf')));
    await until(async () => (await deliveries(number))[0]?.status === 'sent');
    assert.equal((await deliveries(number))[0]!.source, 'auto');
    // An invoice without a buyer e-mail is not sent.
    const none = await issue(sampleInvoice({ buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T' } }));
    const later = await issue();
    await until(async () => (await deliveries(later))[0]?.status === 'sent');
    assert.deepEqual(await deliveries(none), []);
    await call('PATCH', '/v1/email-settings', { autoSend: false });
  });

  it('refuses a send without a recipient, a malformed address and unknown formats as problem+json', async () => {
    const number = await issue(sampleInvoice({ buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T' } }));
    const res = await call('POST', `/v1/invoices/${number}/send`, {});
    assert.equal(res.statusCode, 422);
    assert.equal(res.json<{ code: string }>().code, 'EMAIL_RECIPIENT_MISSING');
    for (const body of [{ to: 'not an address' }, { formats: ['docx'] }, { lang: 'fr' }, { extra: 1 }]) {
      const r = await call('POST', `/v1/invoices/${number}/send`, body);
      assert.equal(r.statusCode, 400, JSON.stringify(body));
      assert.equal(r.json<{ code: string }>().code, 'VALIDATION_FAILED');
    }
  });

  it('does not send or show another tenant\'s invoice (404)', async () => {
    const number = await issue();
    for (const [method, url, body] of [['POST', `/v1/invoices/${number}/send`, {}], ['GET', `/v1/invoices/${number}/deliveries`]] as const) {
      const res = await call(method, url, body, other.apiKey);
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json<{ code: string }>().code, 'INVOICE_NOT_FOUND');
    }
    assert.deepEqual(await deliveries(number), []);
  });

  it('answers 409 EMAIL_NOT_CONFIGURED (not a 5xx: nothing a retry fixes) on a server without an SMTP host', async () => {
    const plain = await createTestApp();
    try {
      const res = await plain.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${plain.apiKey}` }, payload: sampleInvoice() });
      const number = res.json<{ number: string }>().number;
      const send = await plain.api.inject({ method: 'POST', url: `/v1/invoices/${number}/send`, headers: { authorization: `Bearer ${plain.apiKey}` }, payload: {} });
      assert.equal(send.statusCode, 409);
      assert.equal(send.json<{ code: string }>().code, 'EMAIL_NOT_CONFIGURED');
    } finally {
      await plain.close();
    }
  });
});
