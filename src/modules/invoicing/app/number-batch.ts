// Numbering and sealing a batch of the issue writer (issue-writer.ts): each request's signed body under its number
// (consecutive from the batch's first sequence), its hash and the message its signature covers (SM2, or the tenant's
// algorithm of the international profile); then, with the
// signatures, the invoices as the issuing transaction commits them (commit-issue-batch.ts). A request whose body
// cannot be prepared is listed and skipped before it takes a number; one whose signature cannot be used is listed
// after. No I/O: the writer decides what a failure means (answer it now, or, for a batch signed ahead of its turn,
// number and sign again in its turn).
import type { Invoice, SignedInvoiceBody } from '../../../shared/invoice.ts';
import { formatInvoiceNumber } from '../domain/invoice-number.ts';
import { chinaDate, chinaYear, toChinaIso } from '../../../shared/china-time.ts';
import { sealHash, signedBody } from './seal.ts';
import { toBase64url } from '../../../platform/crypto/sm2.ts';
import { rawSignature } from '../../../platform/crypto/signatures.ts';
import { SIGNATURE_ALG, type SigningAlgorithm } from '../../../shared/signing.ts';
import { qrBase, qrText, signingMessage } from '../domain/qr-payload.ts';
import { invoiceJsonWithoutLedger } from '../domain/invoice-json.ts';
import { ledgerLeafOf } from '../../ledger/index.ts';
import type { PendingIssue } from './commit-issue-batch.ts';
import type { WriteRequest } from './issue-writer.ts';

/** One request of a batch numbered and prepared for signing; `w` is the caller's handle on it. */
export interface Numbered<W> {
  w: W;
  body: SignedInvoiceBody;
  hash: string;
  base: string;
  /** The bytes the signature covers. */
  message: Uint8Array;
  /** The algorithm that signs it: the request's (its tenant's), else the writer's default. */
  alg: SigningAlgorithm;
}

export interface Refused<W> {
  w: W;
  error: unknown;
}

/**
 * The signed bodies of `requests` at `now`, numbered consecutively from `firstSeq`, skipping (and listing) those whose
 * body cannot be prepared (canonicalised, hashed, put in a QR code): the next one takes the number.
 */
export function numberBatch<W extends { req: WriteRequest }>(
  requests: readonly W[], now: Date, firstSeq: number, defaultAlg: SigningAlgorithm = 'SM2',
): { prepared: Numbered<W>[]; failed: Refused<W>[] } {
  const issuedAt = toChinaIso(now);
  const issueDate = chinaDate(now);
  const year = chinaYear(now);
  const prepared: Numbered<W>[] = [];
  const failed: Refused<W>[] = [];
  for (const w of requests) {
    const r = w.req;
    try {
      const number = formatInvoiceNumber({ year, regionCode: r.regionCode, channel: Number(r.channel), seq: firstSeq + prepared.length });
      const body = signedBody({ number, issuedAt, issueDate, ...r.draft });
      const hash = sealHash(body);
      const base = qrBase(body);
      prepared.push({ w, body, hash, base, message: signingMessage(base, hash), alg: r.signingAlgorithm ?? defaultAlg });
    } catch (error) {
      failed.push({ w, error });
    }
  }
  return { prepared, failed };
}

/**
 * The invoices of numbered bodies with their signatures (DER for SM2 and ECDSA, raw for Ed25519) and the ids of the
 * keys that made them, ready for the transaction; unusable signatures listed.
 */
export function sealBatch<W extends { req: WriteRequest }>(
  prepared: readonly Numbered<W>[],
  signatures: readonly { keyId: string; der: Uint8Array }[],
  verifyUrl: string,
): { pending: PendingIssue[]; failed: Refused<W>[] } {
  const pending: PendingIssue[] = [];
  const failed: Refused<W>[] = [];
  prepared.forEach(({ w, body, hash, base, alg }, i) => {
    const r = w.req;
    try {
      const { keyId, der } = signatures[i]!;
      const value = Buffer.from(der).toString('base64');
      const scheme = SIGNATURE_ALG[alg];
      const invoice: Omit<Invoice, 'ledger'> = {
        ...body,
        status: 'normal',
        hash,
        signature: { alg: scheme, keyId, value },
        qr: qrText(verifyUrl, base, hash, toBase64url(rawSignature(alg, der)), scheme),
      };
      pending.push({
        tenantId: r.tenantId,
        invoice,
        // The ledger's leaf entry (docs/ledger.md "Leaf entries"): number, kind, hash, key ID, signature.
        leaf: ledgerLeafOf(invoice),
        // Rendered here, once, outside every lock; the transaction only puts in the ledger index.
        json: invoiceJsonWithoutLedger(invoice),
        ...(r.idempotency ? { idempotency: r.idempotency } : {}),
        ...(r.audit ? { audit: r.audit } : {}),
        ...(r.within ? { within: r.within } : {}),
      });
    } catch (error) {
      failed.push({ w, error });
    }
  });
  return { pending, failed };
}
