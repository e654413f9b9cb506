// SM3 (GB/T 32905-2016) through node:crypto: OpenSSL's native implementation, far faster than any JS one.
import { createHash, createHmac } from 'node:crypto';

export type BytesLike = Uint8Array | string;

/** Strings are hashed as their UTF-8 bytes, never reinterpreted as hex. */
function toBytes(data: BytesLike): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/** SM3 digest (32 bytes). */
export function sm3(data: BytesLike): Uint8Array {
  return new Uint8Array(createHash('sm3').update(toBytes(data)).digest());
}

/** SM3 digest as 64 lowercase hex digits. */
export function sm3Hex(data: BytesLike): string {
  return createHash('sm3').update(toBytes(data)).digest('hex');
}

/** SM3 over several parts without concatenating them first (used for Z_A || M in SM2). */
export function sm3Concat(parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash('sm3');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** HMAC-SM3 (RFC 2104 with SM3), 32 bytes. */
export function hmacSm3(key: Uint8Array, data: BytesLike): Uint8Array {
  return new Uint8Array(createHmac('sm3', key).update(toBytes(data)).digest());
}
