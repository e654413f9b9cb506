// The QR code of an invoice. The platform's QR is the comma-separated string
//   version,type,code,number,amount,date(YYYYMMDD),checkCode,crc
// (docs/invoice-rules.md, "QR code"; code and check code are empty for a 数电票). Ours appends the SM3 hash of the signed
// body and a compact signature, so the QR alone can be checked offline, and wraps it in the verify-page URL so a
// phone opens the 查验 page with the fields filled in.
//
// The signature of an invoice (SM2, or ECDSA-P256 / Ed25519 for the international profile) is computed over the UTF-8
// bytes of `${base},${hash}` (signingMessage below): one signature binds both the printed QR fields and, through the
// hash, every byte of the canonical body. An invoice signed with another algorithm than SM2 names it in the QR, so an
// offline verifier knows which: an eleventh field after the signature (QR_ALG_TAG); an SM2 QR has none, as always.
import { QR_TYPE_CODE, type SignedInvoiceBody } from '../../../shared/invoice.ts';
import type { SignatureAlg } from '../../../shared/signing.ts';

export const QR_VERSION = '01';

/** The QR's algorithm field of each scheme but SM2 (QR alphanumeric characters). */
export const QR_ALG_TAG = { 'ECDSA-P256-SHA256': 'P256', Ed25519: 'ED25519' } as const satisfies Record<Exclude<SignatureAlg, 'SM2-SM3'>, string>;
const ALG_OF_TAG = new Map<string, SignatureAlg>(Object.entries(QR_ALG_TAG).map(([alg, tag]) => [tag, alg as SignatureAlg]));

/** Field 5 carries the total with tax (价税合计), the amount the verification service asks for. */
export function qrBase(body: Pick<SignedInvoiceBody, 'type' | 'number' | 'totals' | 'issueDate'>): string {
  const head = [QR_VERSION, QR_TYPE_CODE[body.type], '', body.number, body.totals.total, body.issueDate.replaceAll('-', ''), ''].join(',');
  return `${head},${crc16(head)}`;
}

/** The exact bytes the invoice signature covers. */
export function signingMessage(base: string, hashHex: string): Uint8Array {
  return new TextEncoder().encode(`${base},${hashHex}`);
}

/**
 * The QR text: `${verifyUrl}?qr=` + base, hash and the raw r‖s signature, in a form QR alphanumeric mode encodes
 * (0-9 A-Z and ` $%*+-./:`, 5.5 bits a character instead of 8): fields separated by `*`, the hash and the signature
 * in RFC 4648 base32 without padding. The URL before `?qr=` is byte mode; `qrcode` picks the modes of the segments.
 * The compact form makes a version 9 symbol instead of version 11 (53 modules instead of 61, level M), which is what
 * lets the printed code decode from a screen at 72–110 dpi (test/formats/pdf.test.ts).
 * `*` is a sub-delimiter, legal unescaped in a query (RFC 3986 §3.4), and URLSearchParams leaves it alone.
 */
export function qrText(verifyUrl: string, base: string, hashHex: string, rawSignatureB64url: string, alg: SignatureAlg = 'SM2-SM3'): string {
  const fields = [base.replaceAll(',', '*'), base32(Buffer.from(hashHex, 'hex')), base32(Buffer.from(rawSignatureB64url, 'base64url'))];
  if (alg !== 'SM2-SM3') fields.push(QR_ALG_TAG[alg]);
  return `${verifyUrl}?qr=${fields.join('*')}`;
}

export interface ParsedQr {
  version: string;
  qrType: string;
  number: string;
  total: string;
  /** YYYYMMDD */
  date: string;
  crc: string;
  /** The platform's comma-separated QR string, as the signature covers it. */
  base: string;
  /** SM3 hash, lower-case hex. */
  hash: string;
  /** Raw r‖s (Ed25519: R‖S), base64url. */
  signature: string;
  /** The signature's scheme: SM2-SM3 unless the QR names another. */
  alg: SignatureAlg;
  crcValid: boolean;
}

/**
 * Parses the QR text (the URL, or the bare payload): the compact form of qrText, or the earlier one (fields separated
 * by `,`, the hash in hex, the signature in base64url) that invoices issued before it carry. Returns undefined when
 * it is not one of ours.
 */
export function parseQr(text: string): ParsedQr | undefined {
  let payload = text.trim();
  const i = payload.indexOf('qr=');
  if (/^https?:/i.test(payload) && i >= 0) {
    try {
      payload = new URL(payload).searchParams.get('qr') ?? '';
    } catch {
      return undefined;
    }
  }
  const compact = !payload.includes(',');
  const parts = payload.split(compact ? '*' : ',');
  let alg: SignatureAlg = 'SM2-SM3';
  if (compact && parts.length === 11) {
    const named = ALG_OF_TAG.get(parts.pop()!);
    if (!named) return undefined;
    alg = named;
  }
  if (parts.length !== 10) return undefined;
  const [version, qrType, , number, total, date, , crc] = parts as [string, string, string, string, string, string, string, string];
  let hash = parts[8]!;
  let signature = parts[9]!;
  if (compact) {
    const h = unbase32(hash);
    const sig = unbase32(signature);
    if (h?.length !== 32 || sig?.length !== 64) return undefined;
    hash = h.toString('hex');
    signature = sig.toString('base64url');
  }
  const head = parts.slice(0, 7).join(',');
  return {
    version, qrType, number, total, date, crc,
    base: parts.slice(0, 8).join(','), hash, signature, alg,
    crcValid: crc16(head) === crc,
  };
}

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 §6 base32, upper case, no padding. */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/** The inverse of base32, strict: undefined for any other character, a length no encoding has, or non-zero padding bits. */
export function unbase32(text: string): Buffer | undefined {
  if (!/^[A-Z2-7]*$/.test(text) || [1, 3, 6].includes(text.length % 8)) return undefined;
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    acc = ((acc << 5) | B32.indexOf(ch)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return undefined;
  return Buffer.from(out);
}

/** CRC-16/CCITT-FALSE of the UTF-8 text, 4 upper-case hex digits: a typo check for hand-typed QR text, not security. */
export function crc16(text: string): string {
  let crc = 0xffff;
  for (const byte of new TextEncoder().encode(text)) {
    crc ^= byte << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc.toString(16).toUpperCase().padStart(4, '0');
}
