// Byte formats around SM2: the DER signature (GB/T 35276-2017 §7.3 / GM/T 0009: SEQUENCE { r INTEGER, s INTEGER },
// the form OpenSSL and most GM libraries exchange), the raw 64-byte r‖s form (compact, for the QR code), base64url
// (RFC 4648 §5, unpadded) and the SubjectPublicKeyInfo of an SM2 public key (RFC 5480 layout with the SM2 curve OID
// 1.2.156.10197.1.301 from GB/T 33560 as the named curve), so keys can be handed to OpenSSL or published as PEM.

/** Big-endian unsigned bytes → BigInt. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

/** BigInt → `length` big-endian bytes (throws if it does not fit). */
export function bigIntToBytes(n: bigint, length: number): Uint8Array {
  const hex = n.toString(16).padStart(length * 2, '0');
  if (n < 0n || hex.length > length * 2) throw new RangeError('integer does not fit');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Unpadded base64url (RFC 4648 §5). */
export function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Strict base64url decoding: throws on characters outside the alphabet, on padding and on non-canonical tails. */
export function fromBase64url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new TypeError('not base64url');
  const bytes = Buffer.from(text, 'base64url');
  // Node ignores leftover bits; re-encoding catches texts that two different strings would decode to.
  if (bytes.toString('base64url') !== text) throw new TypeError('not canonical base64url');
  return new Uint8Array(bytes);
}

/** DER INTEGER content of a non-negative integer: minimal, with a 0x00 in front when the top bit is set. */
function derInteger(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  const pad = (v[0] ?? 0) & 0x80 ? 1 : 0;
  const out = new Uint8Array(2 + pad + v.length);
  out[0] = 0x02;
  out[1] = pad + v.length;
  out.set(v, 2 + pad);
  return out;
}

/** Raw r‖s (64 bytes) → DER SEQUENCE { INTEGER r, INTEGER s }. */
export function rawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length !== 64) throw new TypeError('raw SM2 signature must be 64 bytes');
  const r = derInteger(raw.subarray(0, 32));
  const s = derInteger(raw.subarray(32));
  // At most 2 + 35 + 35 = 72 bytes, so the short length form always applies.
  const out = new Uint8Array(2 + r.length + s.length);
  out[0] = 0x30;
  out[1] = r.length + s.length;
  out.set(r, 2);
  out.set(s, 2 + r.length);
  return out;
}

/** Reads one DER INTEGER at `at`; strict DER: short length, minimal, non-negative, at most 32 value bytes. */
function readInteger(der: Uint8Array, at: number): { value: Uint8Array; next: number } | undefined {
  if (der[at] !== 0x02) return undefined;
  const len = der[at + 1];
  if (len === undefined || len === 0 || len > 33 || at + 2 + len > der.length) return undefined;
  const v = der.subarray(at + 2, at + 2 + len);
  const b0 = v[0]!;
  if (b0 & 0x80) return undefined; // negative
  if (b0 === 0 && len > 1 && (v[1]! & 0x80) === 0) return undefined; // non-minimal leading zero
  const value = b0 === 0 && len > 1 ? v.subarray(1) : v;
  if (value.length > 32) return undefined;
  const padded = new Uint8Array(32);
  padded.set(value, 32 - value.length);
  return { value: padded, next: at + 2 + len };
}

/** Strict DER → raw r‖s (64 bytes), or undefined when the bytes are not exactly one well-formed signature. */
export function derToRawOrUndefined(der: Uint8Array): Uint8Array | undefined {
  if (der.length < 8 || der.length > 72 || der[0] !== 0x30 || der[1] !== der.length - 2) return undefined;
  const r = readInteger(der, 2);
  if (!r) return undefined;
  const s = readInteger(der, r.next);
  if (!s || s.next !== der.length) return undefined;
  const raw = new Uint8Array(64);
  raw.set(r.value, 0);
  raw.set(s.value, 32);
  return raw;
}

/** Strict DER → raw r‖s (64 bytes); throws TypeError on anything else. */
export function derToRaw(der: Uint8Array): Uint8Array {
  const raw = derToRawOrUndefined(der);
  if (!raw) throw new TypeError('not a DER-encoded SM2 signature');
  return raw;
}

// SEQUENCE { SEQUENCE { OID id-ecPublicKey 1.2.840.10045.2.1, OID sm2p256v1 1.2.156.10197.1.301 }, BIT STRING 0x00 ‖ … }
const SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a811ccf5501822d034200', 'hex');

/** SubjectPublicKeyInfo DER of an uncompressed SM2 public key (hex 04‖x‖y). */
export function sm2PublicKeyToSpki(publicKeyHex: string): Uint8Array {
  if (!/^04[0-9a-fA-F]{128}$/.test(publicKeyHex)) throw new TypeError('SM2 public key must be 130 hex digits 04‖x‖y');
  return new Uint8Array(Buffer.concat([SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]));
}

/** PEM "PUBLIC KEY" of an SM2 public key (what `openssl pkey -pubin` reads). */
export function sm2PublicKeyToPem(publicKeyHex: string): string {
  const b64 = Buffer.from(sm2PublicKeyToSpki(publicKeyHex)).toString('base64');
  return `-----BEGIN PUBLIC KEY-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END PUBLIC KEY-----\n`;
}

/** Uncompressed public key hex from an SM2 SubjectPublicKeyInfo (DER or PEM); throws if it is not one. */
export function sm2PublicKeyFromSpki(spki: Uint8Array | string): string {
  const der =
    typeof spki === 'string'
      ? Buffer.from(spki.replace(/-----(BEGIN|END) PUBLIC KEY-----|\s/g, ''), 'base64')
      : Buffer.from(spki);
  if (der.length !== SPKI_PREFIX.length + 65 || !der.subarray(0, SPKI_PREFIX.length).equals(SPKI_PREFIX) || der[SPKI_PREFIX.length] !== 4) {
    throw new TypeError('not an uncompressed SM2 SubjectPublicKeyInfo');
  }
  return der.subarray(SPKI_PREFIX.length).toString('hex');
}
