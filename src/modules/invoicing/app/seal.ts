// The seal of an invoice, defined once: which fields are signed (SIGNED_FIELDS), the body they make (signedBody), its
// SM3 hash over the RFC 8785 canonical JSON (sealHash), and the check of a stored invoice against its hash, signature
// (by the key's algorithm: SM2, ECDSA-P256, Ed25519) and QR text (checkInvoice). The issue writer seals with these
// functions and POST /v1/verify, `fapiao verify` and the tests check with them, so a field signed at issue can never be dropped at verification: the list is
// checked against SignedInvoiceBody at compile time, in both directions.
import type { Invoice, SignedInvoiceBody } from '../../../shared/invoice.ts';
import { canonicalize } from '../../../platform/crypto/canonical-json.ts';
import { sm3Hex } from '../../../platform/crypto/sm3.ts';
import { verifySignature } from '../../../platform/crypto/signatures.ts';
import { SIGNATURE_ALG, type SigningAlgorithm } from '../../../shared/signing.ts';
import { parseQr, qrBase, signingMessage } from '../domain/qr-payload.ts';

/** Every field of SignedInvoiceBody, in no particular order (canonical JSON sorts the keys). */
export const SIGNED_FIELDS = [
  'number', 'type', 'kind', 'issuedAt', 'issueDate', 'seller', 'buyer', 'lines', 'priceIncludesTax', 'totals',
  'remarks', 'issuer', 'externalId', 'originalNumber', 'redLetterFormId',
] as const satisfies readonly (keyof SignedInvoiceBody)[];

// Completeness: a field added to SignedInvoiceBody and not to SIGNED_FIELDS is a compile error here.
type Unlisted = Exclude<keyof SignedInvoiceBody, (typeof SIGNED_FIELDS)[number]>;
const everyFieldListed: [Unlisted] extends [never] ? true : { unlisted: Unlisted } = true;
void everyFieldListed;

/**
 * The signed body of an invoice or of a draft being sealed: exactly the SIGNED_FIELDS it has (absent optional fields
 * stay absent), nothing else, whatever else the source object carries.
 */
export function signedBody(source: SignedInvoiceBody): SignedInvoiceBody {
  const body: Record<string, unknown> = {};
  const from = source as unknown as Record<string, unknown>;
  for (const k of SIGNED_FIELDS) if (from[k] !== undefined) body[k] = from[k];
  return body as unknown as SignedInvoiceBody;
}

/** Lower-case hex SM3 of the body's canonical JSON: the invoice's `hash`. */
export function sealHash(body: SignedInvoiceBody): string {
  return sm3Hex(canonicalize(body));
}

export interface InvoiceCheck {
  /** The stored hash equals SM3 of the canonical body. */
  hashValid: boolean;
  /** The signature verifies under the given public key, with the key's algorithm, which the invoice names. */
  signatureValid: boolean;
  /** The QR text carries the same fields, hash and algorithm. */
  qrValid: boolean;
}

/** A published signing key: its algorithm and public key (hex, shared/signing.ts encodings). */
export interface CheckKey {
  alg: SigningAlgorithm;
  publicKey: string;
}

/**
 * Checks a stored invoice against its hash, its signature under `key` and its QR. `key` is a published key (GET
 * /v1/keys), or the hex of an SM2 public key. A signature whose scheme is not the key's algorithm does not verify.
 */
export function checkInvoice(invoice: Invoice, key: CheckKey | string): InvoiceCheck {
  const { alg, publicKey } = typeof key === 'string' ? { alg: 'SM2' as const, publicKey: key } : key;
  const body = signedBody(invoice);
  const hash = sealHash(body);
  const hashValid = hash === invoice.hash;
  const base = qrBase(body);
  const scheme = invoice.signature?.alg;
  const signatureValid = scheme === SIGNATURE_ALG[alg] && typeof invoice.signature.value === 'string'
    && verifySignature(alg, publicKey, signingMessage(base, hash), new Uint8Array(Buffer.from(invoice.signature.value, 'base64')));
  const qr = typeof invoice.qr === 'string' ? parseQr(invoice.qr) : undefined;
  const qrValid = qr !== undefined && qr.crcValid && qr.base === base && qr.hash === hash && qr.alg === scheme;
  return { hashValid, signatureValid, qrValid };
}
