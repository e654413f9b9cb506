import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { unzipSync } from 'fflate';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { parseInvoiceXml } from '../../src/modules/documents/domain/xml-parse.ts';
import { readInvoiceFile } from '../../src/modules/documents/app/invoice-file.ts';

describe('GET /v1/invoices/{number} in every format', () => {
  let t: TestApp;
  let inv: Invoice;
  const get = (query: string, accept?: string) =>
    t.api.inject({ method: 'GET', url: `/v1/invoices/${inv.number}${query}`, headers: { authorization: `Bearer ${t.apiKey}`, ...(accept ? { accept } : {}) } });

  before(async () => {
    t = await createTestApp();
    inv = (await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() })).json<Invoice>();
    // Every document but JSON carries the inclusion proof once the ledger has a checkpoint over the invoice, which
    // changes its bytes: wait for that checkpoint, so that two renderings compared below see the same ledger.
    while (!(await get('?format=xml')).body.includes('<LedgerProof>')) await sleep(20);
  });
  after(async () => {
    await t.close();
  });

  it('answers XML that parses back to the same invoice', async () => {
    const res = await get('?format=xml');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/xml/);
    assert.deepEqual(parseInvoiceXml(res.body), inv);
  });

  it('answers a PDF by Accept header, the same bytes twice', async () => {
    const a = await get('', 'application/pdf');
    const b = await get('', 'application/pdf');
    assert.equal(a.statusCode, 200);
    assert.equal(a.headers['content-type'], 'application/pdf');
    assert.equal(a.rawPayload.subarray(0, 5).toString(), '%PDF-');
    assert.ok(a.rawPayload.equals(b.rawPayload));
    assert.equal(a.headers.etag, b.headers.etag);
    assert.match(String(a.headers['content-disposition']), new RegExp(`${inv.number}\\.pdf`));
  });

  it('answers OFD as a zip and UBL as an Invoice document', async () => {
    const ofd = await get('?format=ofd');
    const entries = Object.keys(unzipSync(new Uint8Array(ofd.rawPayload)));
    assert.ok(entries.includes('OFD.xml'));
    // Signed with the key that signed the invoice: the package signature verifies under the published key.
    assert.ok(entries.includes('Doc_0/Signs/Sign_0/SignedValue.dat'));
    const keys = (await t.api.inject({ method: 'GET', url: '/v1/keys' })).json<{ keys: { keyId: string; publicKey: string }[] }>().keys;
    const read = await readInvoiceFile(new Uint8Array(ofd.rawPayload));
    const checks = [...read.checks, ...(read.keyChecks?.((id) => (id === inv.signature.keyId ? keys.find((k) => k.keyId === id)?.publicKey : undefined)) ?? [])]
      .filter((c) => c.what === 'ofd-signature');
    assert.deepEqual(checks.map((c) => c.ok), [true, true], JSON.stringify(checks));
    const ubl = await get('?format=ubl');
    assert.match(ubl.body, /<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/);
  });

  it('answers 406 for a representation it does not have', async () => {
    const res = await get('', 'image/png');
    assert.equal(res.statusCode, 406);
    assert.equal(res.json().code, 'NOT_ACCEPTABLE');
    const bad = await get('?format=docx');
    assert.equal(bad.statusCode, 400);
  });
});
