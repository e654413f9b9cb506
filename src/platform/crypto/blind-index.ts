// Keyed blind indexes: search encrypted buyer phone, e-mail and tax ID by equality without decrypting.
//
//   index key  = HKDF-SHA256(ikm = tenant data key or master key, salt = "fapiao/blind-index/v1",
//                            info = "tenant" 0x00 tenantId)                                   (RFC 5869, 32 bytes)
//   blindIndex = hex( first 16 bytes of HMAC-SHA256(index key, field 0x00 normalise(field, value)) )
//
// The HKDF label separates the index key from every encryption key (knowing the index key does not help decrypt),
// and the tenant id in `info` gives each tenant its own key even when derived from the shared master key: the same
// phone number under two tenants has two unrelated indexes. The field name inside the HMAC input separates the three
// fields, so a phone and a tax ID with the same characters do not share an index.
//
// Truncation to 128 bits: a blind index is a lookup filter, not an identifier. The chance that two different values
// of one tenant share an index is about n²/2^129 (n = distinct values): 10^9 values → ~1.5·10^-21. Shorter indexes
// would leak less (deliberate collisions hide equality) but return false positives; longer ones buy nothing
// measurable. Callers should still decrypt the candidate rows and compare when an exact answer matters.
// Hex rather than base64url: 32 characters that survive case-insensitive database collations.
//
// What an index reveals: equality of values inside one tenant (how many invoices share a buyer phone), nothing more
// without the key. Phone numbers and ID numbers have little entropy, so anyone holding the index key can find a
// value by trying all candidates: the index key is as secret as the data key.
//
// Rotation: an index changes with its key. Deriving it from the data key means data-key rotation must recompute the
// indexes of each row (the re-encryption job decrypts the row anyway); deriving it from the master key ties it to
// master rotation instead. Either way, store the index with the key version it was made with.
import { createHmac, hkdfSync } from 'node:crypto';

export type BlindIndexField = 'phone' | 'email' | 'taxId';

export const BLIND_INDEX_BYTES = 16;
const HKDF_SALT = 'fapiao/blind-index/v1';
const MIN_IKM_BYTES = 16;

/** The per-tenant blind-index key (32 bytes), derived from a data key or the master key with HKDF-SHA256. */
export function blindIndexKey(dataKeyOrMaster: Uint8Array, tenantId: string): Uint8Array {
  if (!(dataKeyOrMaster instanceof Uint8Array) || dataKeyOrMaster.length < MIN_IKM_BYTES) {
    throw new TypeError(`blind-index key material must be at least ${MIN_IKM_BYTES} bytes`);
  }
  if (typeof tenantId !== 'string' || tenantId === '') throw new TypeError('tenantId must be a non-empty string');
  // The fixed label ends in a NUL and the tenant id is the tail, so the info string is unambiguous.
  const info = Buffer.concat([Buffer.from('tenant\0', 'utf8'), Buffer.from(tenantId, 'utf8')]);
  return new Uint8Array(hkdfSync('sha256', dataKeyOrMaster, Buffer.from(HKDF_SALT, 'utf8'), info, 32));
}

/** Chinese mobile numbers: 11 digits, 1[3-9]x. */
const CN_MOBILE = /^1[3-9][0-9]{9}$/;

/**
 * Canonical phone form:
 * - NFKC (full-width digits ０-９ and ＋ become ASCII), then every non-digit is dropped (spaces, '-', '(', ')', '.');
 * - the Chinese country code goes: '+86…', '0086…', and a 13-digit '86' + mobile number;
 * - a landline written internationally gets its trunk 0 back ('+86 10 1234 5678' ≡ '010-12345678'), except for
 *   400/800 service numbers, which have none;
 * - any other international number keeps a leading '+' (so '+1 415…' cannot equal a Chinese number '1415…').
 * Extensions are not recognised: their digits become part of the number.
 */
function normalisePhone(value: string): string {
  const s = value.normalize('NFKC').trim();
  const plus = /^\(?\+/.test(s);
  const digits = s.replace(/[^0-9]/g, '');
  let national: string | undefined;
  if (plus && digits.startsWith('86')) national = digits.slice(2);
  else if (!plus && digits.startsWith('0086')) national = digits.slice(4);
  else if (!plus && digits.length === 13 && CN_MOBILE.test(digits.slice(2)) && digits.startsWith('86')) national = digits.slice(2);
  if (national === undefined) return plus && digits !== '' ? `+${digits}` : digits;
  if (national === '' || CN_MOBILE.test(national) || national.startsWith('0') || /^[48]00/.test(national)) return national;
  return `0${national}`;
}

/** Canonical e-mail form: NFKC, trimmed, lower-cased (locale-independent). Provider-specific rules are not applied. */
function normaliseEmail(value: string): string {
  return value.normalize('NFKC').trim().toLowerCase();
}

/** Canonical tax ID form (USCC or ID-card number): NFKC, upper-cased ('x' → 'X'), whitespace and '-' removed. */
function normaliseTaxId(value: string): string {
  return value.normalize('NFKC').toUpperCase().replace(/[\s-]/g, '');
}

/** The normalised value a blind index is computed over (exported for tests and for callers that check emptiness). */
export function normaliseIndexValue(field: BlindIndexField, value: string): string {
  if (typeof value !== 'string') throw new TypeError('value must be a string');
  switch (field) {
    case 'phone':
      return normalisePhone(value);
    case 'email':
      return normaliseEmail(value);
    case 'taxId':
      return normaliseTaxId(value);
    default:
      throw new TypeError('field must be phone, email or taxId');
  }
}

/**
 * The blind index of a value: 32 lowercase hex digits. Equal after normalisation → equal index; other tenant or
 * other field → unrelated index. Throws a RangeError when nothing is left after normalisation (an index of "" would
 * match every empty value: skip absent fields instead).
 */
export function blindIndex(key: Uint8Array, field: BlindIndexField, value: string): string {
  if (!(key instanceof Uint8Array) || key.length < MIN_IKM_BYTES) throw new TypeError('blind-index key must be at least 16 bytes');
  const normalised = normaliseIndexValue(field, value);
  if (normalised === '') throw new RangeError(`nothing to index: the ${field} is empty after normalisation`);
  return createHmac('sha256', key)
    .update(`${field}\0`, 'utf8')
    .update(normalised, 'utf8')
    .digest()
    .subarray(0, BLIND_INDEX_BYTES)
    .toString('hex');
}
