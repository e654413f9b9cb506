// The QR code of an invoice. The platform's QR is the comma-separated string
//   version,type,code,number,amount,date(YYYYMMDD),checkCode,crc
// (docs/invoice-rules.md, "QR code"; code and check code are empty for a 数电票). Ours appends the SM3 hash of the signed
// body and a compact SM2 signature, so the QR alone can be checked offline, and wraps it in the verify-page URL so a
// phone opens the 查验 page with the fields filled in.
//
// The SM2 signature of an invoice is computed over the UTF-8 bytes of `${base},${hash}` (signingMessage below): one
// signature binds both the printed QR fields and, through the hash, every byte of the canonical body.
import { QR_TYPE_CODE, type SignedInvoiceBody } from '../../../shared/invoice.ts';

export const QR_VERSION = '01';

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
 * The QR text: `${verifyUrl}?qr=` + base, hash and the raw r‖s signature (base64url). The payload is made of digits,
 * letters, `,` `.` `-` `_` only, all legal in a query (RFC 3986 §3.4), so it goes unescaped: a shorter QR code.
 */
export function qrText(verifyUrl: string, base: string, hashHex: string, rawSignatureB64url: string): string {
  const payload = `${base},${hashHex},${rawSignatureB64url}`;
  return `${verifyUrl}?qr=${/^[0-9A-Za-z,._-]*$/.test(payload) ? payload : encodeURIComponent(payload)}`;
}

export interface ParsedQr {
  version: string;
  qrType: string;
  number: string;
  total: string;
  /** YYYYMMDD */
  date: string;
  crc: string;
  base: string;
  hash: string;
  signature: string;
  crcValid: boolean;
}

/** Parses the QR text (the URL, or the bare payload). Returns undefined when it is not one of ours. */
export function parseQr(text: string): ParsedQr | undefined {
  let payload = text.trim();
  const i = payload.indexOf('qr=');
  if (payload.startsWith('http') && i >= 0) {
    try {
      payload = new URL(payload).searchParams.get('qr') ?? '';
    } catch {
      return undefined;
    }
  }
  const parts = payload.split(',');
  if (parts.length !== 10) return undefined;
  const [version, qrType, , number, total, date, , crc, hash, signature] = parts as [string, ...string[]] & string[];
  const head = parts.slice(0, 7).join(',');
  return {
    version, qrType: qrType!, number: number!, total: total!, date: date!, crc: crc!,
    base: parts.slice(0, 8).join(','), hash: hash!, signature: signature!,
    crcValid: crc16(head) === crc,
  };
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
