// What one leaf of the ledger commits to, and its byte encoding (docs/ledger.md "Leaf entries").
//
// A leaf records an event of one invoice: `issued` when a blue invoice is issued, `red-flushed` when a red-letter
// invoice is issued that reverses (红冲) an earlier invoice. It names the invoice, binds every byte of it through its
// SM3 hash (the hash covers the signed body: seller, buyer, lines, totals …, see docs/architecture.md "What is
// signed") and its signature, and carries nothing else: no buyer name, tax ID, address or amount. Anyone who
// reads the log learns that an invoice number exists and when it was logged; only someone holding the invoice can
// check that the hash is its hash.
//
// Encoding, version 1 (all integers big-endian):
//   u8   version            0x01
//   u8   kind               0x01 issued, 0x02 red-flushed
//   u8   len ‖ number       the invoice number, 20 ASCII digits
//   32 bytes               the invoice hash (SM3 of the canonical signed body)
//   u8   len ‖ keyId        the signing key's id, ASCII (e.g. `sm2-0123456789abcdef`); its prefix names the key's
//                           algorithm: `sm2-`, `p256-` (ECDSA-P256), `ed25519-` (platform/crypto/key-store.ts)
//   u8   len ‖ signature    the signature as stored: SM2 and ECDSA-P256 DER SEQUENCE { r, s }, Ed25519 64 bytes
//   red-flushed only:
//   u8   len ‖ reverses     the number of the invoice the red invoice reverses, ASCII digits
// Nothing may follow. Every field is length-prefixed or fixed, so no two different entries share an encoding, and the
// whole entry stays far below the 65 535 bytes an entry bundle can hold (tile/entries, https://c2sp.org/tlog-tiles).
// The leaf hash is RFC 9162's SHA-256(0x00 ‖ entry).
import { hashLeaf } from './merkle.ts';

export const LEAF_ENTRY_VERSION = 1;

export type LedgerEventKind = 'issued' | 'red-flushed';

const KIND_BYTE: Record<LedgerEventKind, number> = { issued: 0x01, 'red-flushed': 0x02 };
const KIND_OF_BYTE = new Map<number, LedgerEventKind>([
  [0x01, 'issued'],
  [0x02, 'red-flushed'],
]);

export interface LeafEntry {
  kind: LedgerEventKind;
  number: string;
  /** Lower-case hex SM3 of the invoice's canonical signed body (Invoice.hash). */
  hash: string;
  /** The signing key's id (Invoice.signature.keyId). */
  keyId: string;
  /** Base64 of the signature, as stored (Invoice.signature.value: DER, or Ed25519's 64 bytes). */
  signature: string;
  /** For `red-flushed`: the invoice reversed. Absent for `issued`. */
  reverses?: string;
}

/** The fields of an invoice the ledger reads: never the buyer, the lines or the totals. */
export interface LedgerInvoiceFields {
  number: string;
  kind: 'blue' | 'red';
  hash: string;
  signature: { keyId: string; value: string };
  originalNumber?: string;
}

export class LeafEntryError extends Error {
  override readonly name = 'LeafEntryError';
}

// Invoice numbers of the 数电票 are 20 digits (src/modules/invoicing/domain/invoice-number.ts).
const NUMBER = /^[0-9]{20}$/;
const HEX_HASH = /^[0-9a-f]{64}$/;
const KEY_ID = /^[\x21-\x7e]{1,255}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The entry of the invoice's issuance: a blue invoice is `issued`, a red one `red-flushed` its original. */
export function leafEntryForInvoice(invoice: LedgerInvoiceFields): LeafEntry {
  const base = { number: invoice.number, hash: invoice.hash, keyId: invoice.signature.keyId, signature: invoice.signature.value };
  if (invoice.kind === 'blue') return { kind: 'issued', ...base };
  if (invoice.originalNumber === undefined) throw new LeafEntryError('a red invoice names the invoice it reverses');
  return { kind: 'red-flushed', ...base, reverses: invoice.originalNumber };
}

function field(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length > 255) throw new LeafEntryError(`${what} is longer than 255 bytes`);
  const out = new Uint8Array(1 + bytes.length);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}

export function encodeLeafEntry(e: LeafEntry): Uint8Array {
  const kind = KIND_BYTE[e.kind];
  if (kind === undefined) throw new LeafEntryError('unknown event kind');
  if (!NUMBER.test(e.number)) throw new LeafEntryError('the invoice number must be ASCII digits');
  if (!HEX_HASH.test(e.hash)) throw new LeafEntryError('the invoice hash must be 64 lower-case hex digits');
  if (!KEY_ID.test(e.keyId)) throw new LeafEntryError('the key id must be printable ASCII');
  if (!BASE64.test(e.signature) || e.signature.length === 0) throw new LeafEntryError('the signature must be base64');
  const signature = Buffer.from(e.signature, 'base64');
  if (signature.length === 0) throw new LeafEntryError('the signature is empty');
  const parts: Uint8Array[] = [
    Uint8Array.of(LEAF_ENTRY_VERSION, kind),
    field(Buffer.from(e.number, 'ascii'), 'number'),
    Buffer.from(e.hash, 'hex'),
    field(Buffer.from(e.keyId, 'ascii'), 'key id'),
    field(signature, 'signature'),
  ];
  if (e.kind === 'red-flushed') {
    if (e.reverses === undefined || !NUMBER.test(e.reverses)) throw new LeafEntryError('a red-flushed entry names the reversed invoice');
    parts.push(field(Buffer.from(e.reverses, 'ascii'), 'reversed number'));
  } else if (e.reverses !== undefined) {
    throw new LeafEntryError('only a red-flushed entry names a reversed invoice');
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** Parses an encoded entry strictly: known version and kind, every field well-formed, nothing left over. */
export function decodeLeafEntry(bytes: Uint8Array): LeafEntry {
  let at = 0;
  const take = (n: number, what: string): Uint8Array => {
    if (at + n > bytes.length) throw new LeafEntryError(`truncated entry (${what})`);
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  const takeField = (what: string): Uint8Array => take(take(1, what)[0]!, what);
  const ascii = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

  const [version, kindByte] = take(2, 'header');
  if (version !== LEAF_ENTRY_VERSION) throw new LeafEntryError(`unknown entry version ${version}`);
  const kind = KIND_OF_BYTE.get(kindByte!);
  if (kind === undefined) throw new LeafEntryError(`unknown event kind ${kindByte}`);
  const number = ascii(takeField('number'));
  const hash = Buffer.from(take(32, 'hash')).toString('hex');
  const keyId = ascii(takeField('key id'));
  const signature = Buffer.from(takeField('signature')).toString('base64');
  const entry: LeafEntry = { kind, number, hash, keyId, signature };
  if (kind === 'red-flushed') entry.reverses = ascii(takeField('reversed number'));
  if (at !== bytes.length) throw new LeafEntryError('trailing bytes after the entry');
  // Re-encoding checks every field's syntax and that this was the one encoding of these values.
  const again = encodeLeafEntry(entry);
  if (!Buffer.from(again).equals(bytes)) throw new LeafEntryError('non-canonical entry');
  return entry;
}

/** RFC 9162 leaf hash of the encoded entry. */
export function leafEntryHash(e: LeafEntry): Uint8Array {
  return hashLeaf(encodeLeafEntry(e));
}
