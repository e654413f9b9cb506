// The cryptographic check of an invoice, shared by POST /v1/verify, `fapiao verify` (offline) and the tests:
// recompute the canonical body's SM3 hash, and check the SM2 signature over `${qrBase},${hash}` (modules/invoicing/domain/qr-payload.ts).
import type { Invoice, SignedInvoiceBody } from './invoice.ts';
import { canonicalize } from '../../../platform/crypto/canonical-json.ts';
import { sm3Hex } from '../../../platform/crypto/sm3.ts';
import { sm2Verify } from '../../../platform/crypto/sm2.ts';
import { parseQr, qrBase, signingMessage } from './qr-payload.ts';

const SIGNED_FIELDS = [
  'number', 'type', 'kind', 'issuedAt', 'issueDate', 'seller', 'buyer', 'lines', 'priceIncludesTax', 'totals',
  'remarks', 'issuer', 'externalId', 'originalNumber', 'redLetterFormId',
] as const satisfies readonly (keyof SignedInvoiceBody)[];

/** The signed body of a stored invoice: exactly the fields the signature covers. */
export function signedBody(invoice: Invoice): SignedInvoiceBody {
  const body: Record<string, unknown> = {};
  for (const k of SIGNED_FIELDS) if (invoice[k] !== undefined) body[k] = invoice[k];
  return body as unknown as SignedInvoiceBody;
}

export interface InvoiceCheck {
  /** The stored hash equals SM3 of the canonical body. */
  hashValid: boolean;
  /** The SM2 signature verifies under the given public key. */
  signatureValid: boolean;
  /** The QR text carries the same fields, hash and signature. */
  qrValid: boolean;
}

export function checkInvoice(invoice: Invoice, publicKeyHex: string): InvoiceCheck {
  const body = signedBody(invoice);
  const hash = sm3Hex(canonicalize(body));
  const hashValid = hash === invoice.hash;
  const base = qrBase(body);
  let signatureValid = false;
  try {
    signatureValid = sm2Verify(publicKeyHex, signingMessage(base, hash), new Uint8Array(Buffer.from(invoice.signature.value, 'base64')));
  } catch {
    signatureValid = false;
  }
  const qr = parseQr(invoice.qr);
  const qrValid = qr !== undefined && qr.crcValid && qr.base === base && qr.hash === hash;
  return { hashValid, signatureValid, qrValid };
}
