// Any invoice the API accepts renders in every format (modules/documents/domain/*, docs/design.md §4): invoices with arbitrary Unicode text
// in every text field go through the real validation path (POST /v1/invoices on a test app), and each one accepted is
// downloaded as JSON, XML, PDF, OFD and UBL. A request is never answered 500, and the XML of an accepted invoice
// reads back into exactly the invoice issued (what `fapiao verify file.xml` relies on).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { parseInvoiceXml } from '../../src/modules/documents/domain/xml-parse.ts';
import type { Invoice } from '../../src/shared/invoice.ts';

/** Any code point at all: lone surrogates (U+D800–U+DFFF on their own), controls and noncharacters included. */
const anyCodePoint = fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp));
const cjk = fc.integer({ min: 0x4e00, max: 0x9fff }).map((cp) => String.fromCodePoint(cp));
const ascii = fc.integer({ min: 0x20, max: 0x7e }).map((cp) => String.fromCodePoint(cp));
/** What breaks documents and databases: controls, noncharacters, surrogate halves, markup. */
const awkward = fc.constantFrom(
  '\u0000', '\u0001', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009f', '\ud800', '\udbff', '\udc00', '\udfff',
  '\ufdd0', '\ufffe', '\uffff', '\u{1fffe}', '\u{10ffff}', '\ufffd', '\u2028', '\u202e', '\u200d', '\ue000', '&', '<', '>',
  ']]>', '"', "'", '&amp;', '*', '😀', '𠀀', '\u0301',
);
/** Text as callers send it: CJK, ASCII and now and then any code point (which may be one not allowed). */
const plainChar = fc.oneof({ weight: 3, arbitrary: cjk }, { weight: 3, arbitrary: ascii }, { weight: 1, arbitrary: anyCodePoint });
const chars = (c: fc.Arbitrary<string>, maxLength: number) => fc.array(c, { minLength: 1, maxLength }).map((cs) => cs.join(''));
/** Mostly plain text; sometimes with awkward characters mixed in, or made of them only. */
const field = (maxLength: number) => fc.oneof(
  { weight: 40, arbitrary: chars(plainChar, maxLength) },
  { weight: 1, arbitrary: chars(fc.oneof(plainChar, awkward), maxLength) },
  { weight: 1, arbitrary: chars(awkward, 4) },
);

const line = fc.record(
  {
    name: field(30),
    shortName: field(10),
    spec: field(20),
    unit: field(6),
  },
  { requiredKeys: ['name', 'shortName'] },
).map((l) => ({ ...l, taxCode: '3040201000000000000', amount: '100.00', taxRate: '0.13' }));

const invoice = fc.record(
  {
    buyer: fc.record({
      name: field(40), address: field(60), bankName: field(30),
      // Fields with a strict pattern of their own: mostly valid, sometimes anything.
      phone: fc.oneof({ weight: 8, arbitrary: fc.constant('+86 138-1234-5678') }, { weight: 1, arbitrary: field(12) }),
      email: fc.oneof({ weight: 8, arbitrary: fc.constant('buyer@example.com') }, { weight: 1, arbitrary: field(20) }),
    }, { requiredKeys: ['name'] }),
    lines: fc.array(line, { minLength: 1, maxLength: 3 }),
    remarks: fc.oneof(field(80), fc.constant('')),
    issuer: field(10),
    externalId: fc.oneof({ weight: 8, arbitrary: fc.uuid() }, { weight: 1, arbitrary: field(20) }),
  },
  { requiredKeys: ['buyer', 'lines', 'issuer'] },
).map((inv) => ({ type: 'normal', ...inv }));

const FORMATS = ['json', 'xml', 'pdf', 'ofd', 'ubl'] as const;

describe('every accepted invoice renders in every format', () => {
  let t: TestApp;
  const auth = () => ({ authorization: `Bearer ${t.apiKey}`, 'content-type': 'application/json' });

  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('holds for invoices with arbitrary Unicode text in every text field', async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(invoice, async (body) => {
        const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(), payload: JSON.stringify(body) });
        assert.ok([200, 201, 400, 422].includes(res.statusCode), `POST answered ${res.statusCode}: ${res.body}`);
        if (res.statusCode >= 400) {
          refused++;
          return;
        }
        accepted++;
        const issued = res.json<Invoice>();
        for (const format of FORMATS) {
          const doc = await t.api.inject({ method: 'GET', url: `/v1/invoices/${issued.number}?format=${format}`, headers: auth() });
          assert.equal(doc.statusCode, 200, `${format}: ${doc.body.slice(0, 300)}`);
          assert.ok(doc.rawPayload.length > 0, format);
          if (format === 'json') assert.deepEqual(JSON.parse(doc.body), issued);
          if (format === 'xml') assert.deepEqual(parseInvoiceXml(doc.body), issued, 'the XML carries the issued invoice exactly');
        }
      }),
      { numRuns: 80 },
    );
    // The generator must exercise both sides, or the property says nothing (about 35 % are accepted).
    assert.ok(accepted >= 5, `only ${accepted} accepted`);
    assert.ok(refused >= 5, `only ${refused} refused`);
  });
});
