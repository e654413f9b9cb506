// The seal is defined once (seal.ts): whatever a draft carries, the body that is hashed and signed at issue is exactly
// the body verification recomputes; every signed field is covered (changing it breaks the hash), and nothing the
// server attaches afterwards (status, QR, ledger index, stray keys) is.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Invoice, SignedInvoiceBody } from '../../../shared/invoice.ts';
import { qrBase, qrText, signingMessage } from '../domain/qr-payload.ts';
import { derToRaw, generateSm2KeyPair, sm2Sign, toBase64url } from '../../../platform/crypto/sm2.ts';
import { SIGNED_FIELDS, checkInvoice, sealHash, signedBody } from './seal.ts';

const KEY = generateSm2KeyPair();
const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });
const money = fc.bigInt({ min: 1n, max: 10n ** 12n }).map((c) => `${c / 100n}.${String(c % 100n).padStart(2, '0')}`);
const party = fc.record({ name: text, taxId: fc.option(fc.stringMatching(/^[0-9A-Z]{18}$/), { nil: undefined }) }, { requiredKeys: ['name'] });

/** A draft as the writer gets it: every signed field (optional ones maybe absent) plus keys that are not signed. */
const draftArb = fc.record({
  number: fc.stringMatching(/^\d{20}$/),
  type: fc.constantFrom('normal' as const, 'special' as const),
  kind: fc.constantFrom('blue' as const, 'red' as const),
  issuedAt: fc.constant('2026-11-24T14:03:05.123+08:00'),
  issueDate: fc.constant('2026-11-24'),
  seller: party,
  buyer: party,
  lines: fc.array(fc.record({ lineNo: fc.nat(99), kind: fc.constant('item' as const), name: text, taxCode: fc.constant('3040201000000000000'), amount: money, taxRate: fc.constant('0.13'), tax: money, total: money }), { minLength: 1, maxLength: 3 }),
  priceIncludesTax: fc.boolean(),
  totals: fc.record({ amount: money, tax: money, total: money, totalInCapitals: text }),
  remarks: fc.option(text, { nil: undefined }),
  issuer: text,
  externalId: fc.option(text, { nil: undefined }),
  originalNumber: fc.option(fc.stringMatching(/^\d{20}$/), { nil: undefined }),
  redLetterFormId: fc.option(text, { nil: undefined }),
  // Not signed: must not reach the body.
  status: fc.constant('normal'),
  stray: fc.option(text, { nil: undefined }),
});

function seal(source: SignedInvoiceBody): Invoice {
  const body = signedBody(source);
  const hash = sealHash(body);
  const base = qrBase(body);
  const der = sm2Sign(KEY.privateKey, signingMessage(base, hash), KEY.publicKey);
  return {
    ...body, status: 'normal', hash,
    signature: { alg: 'SM2-SM3', keyId: 'k', value: Buffer.from(der).toString('base64') },
    qr: qrText('https://v.example/verify', base, hash, toBase64url(derToRaw(der))),
    ledger: { index: 7 },
  };
}

/** A different value of the same shape (a field absent before becomes present). */
function changed(value: unknown): unknown {
  if (value === undefined) return 'added';
  if (typeof value === 'string') return value === '2026-11-25' ? '2026-11-26' : value.replace(/.$/u, (c) => (c === '1' ? '2' : '1'));
  if (typeof value === 'boolean') return !value;
  if (Array.isArray(value)) return [...value, value[0]];
  return { ...(value as object), changed: true };
}

void describe('the invoice seal', () => {
  void it('signs exactly the signed fields a draft has, and verification recomputes the same body', () => {
    fc.assert(fc.property(draftArb, (draft) => {
      const invoice = seal(draft);
      assert.deepEqual(checkInvoice(invoice, KEY.publicKey), { hashValid: true, signatureValid: true, qrValid: true });
      const body = signedBody(invoice) as unknown as Record<string, unknown>;
      const expected = Object.fromEntries(Object.entries(draft).filter(([k, v]) => (SIGNED_FIELDS as readonly string[]).includes(k) && v !== undefined));
      assert.deepEqual(body, expected);
    }), { numRuns: 60 });
  });

  void it('covers every signed field: changing any one of them breaks the hash', () => {
    fc.assert(fc.property(draftArb, fc.constantFrom(...SIGNED_FIELDS), (draft, field) => {
      const invoice = seal(draft) as unknown as Record<string, unknown>;
      invoice[field] = changed(invoice[field]);
      assert.equal(checkInvoice(invoice as unknown as Invoice, KEY.publicKey).hashValid, false, `${field} is not covered`);
    }), { numRuns: 60 });
  });

  void it('leaves out what the server attaches after signing', () => {
    fc.assert(fc.property(draftArb, (draft) => {
      const invoice = seal(draft);
      const later = { ...invoice, status: 'red-flushed' as const, ledger: { index: 99 }, extra: 'x' } as Invoice;
      assert.equal(checkInvoice(later, KEY.publicKey).hashValid, true);
    }), { numRuns: 30 });
  });
});
