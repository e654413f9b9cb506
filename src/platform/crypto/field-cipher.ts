// Envelope encryption of personal data at rest (docs/design.md §4 invariant 8): buyer phone, e-mail, address, bank account
// and ID-card number. Two layers:
//
//   master key (32 bytes, versioned, key-store.ts) ──wraps──▶ per-tenant data key (versioned) ──encrypts──▶ fields
//
// The master-key layer — creating, wrapping, inspecting, unwrapping and re-wrapping data keys and blind-index keys —
// is in data-key-wrap.ts; the algorithms, DataKey and FieldCipherError in field-cipher-common.ts. This module
// re-exports both, so it stays the one import for callers.
//
// An encrypted field is one compact, self-describing string (base64url, RFC 4648 §5, unpadded):
//   f1.<alg>.<dataKeyVersion>.<iv>.<ciphertext‖tag>
// alg is 'aes-256-gcm' (NIST SP 800-38D, node:crypto, the default) or 'sm4-gcm' (GB/T 32907 SM4 in GCM as in
// RFC 8998, through sm-crypto-v2, since Node's OpenSSL 3.0 has no SM4-GCM). IVs are 96 bits, random per encryption:
// SP 800-38D §8.3 allows 2^32 random IVs per key, far beyond the fields one tenant's data key encrypts between
// rotations. The tag is 128 bits. The AAD is an unambiguous, length-prefixed encoding of the envelope header and the
// field context (tenant, table, column, row, and optionally plaintext stored beside the envelope that it vouches
// for): a ciphertext copied to another row, column, table or tenant, relabelled with another algorithm or key
// version, or stored beside other plaintext, fails authentication.
//
// Rotation: a new master key re-wraps every data key at once (rewrapDataKey: same data key, so no row changes);
// a new data key (next version) encrypts new writes while a background job moves old rows with reencryptField.
// A tenant's blind-index key is wrapped the same way (wrapIndexKey, `ik1.<sealed secret>`), so it survives both.
//
// Errors are FieldCipherError with a `reason`; messages never contain key material, plaintext or the field context.
// Ciphertexts reveal the plaintext's UTF-8 length (exactly: GCM is a stream mode); for these fields that is accepted.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { sm4 } from 'sm-crypto-v2';
import { fromBase64url, toBase64url } from './sm2-encoding.ts';
import {
  assertAlg, assertKey, assertText, assertVersion, DATA_KEY_BYTES, FieldCipherError, isFieldAlg, parseVersion,
  type DataKey, type FieldAlg,
} from './field-cipher-common.ts';

export {
  DATA_KEY_BYTES, FIELD_ALGS, FieldCipherError, type DataKey, type FieldAlg, type FieldCipherErrorReason,
} from './field-cipher-common.ts';
export {
  createDataKey, INDEX_KEY_BYTES, inspectWrappedDataKey, inspectWrappedIndexKey, rewrapDataKey, unwrapDataKey,
  unwrapIndexKey, wrapDataKey, wrapIndexKey, type WrappedDataKeyInfo,
} from './data-key-wrap.ts';

const FIELD_PREFIX = 'f1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

/** Finds the data key of a version (the tenant's current and, during rotation, older ones); undefined if unknown. */
export type DataKeyResolver = (version: number) => { alg: FieldAlg; key: Uint8Array } | undefined;

/** Where a value lives; all four are bound into the AAD. None may be empty. */
export interface FieldContext {
  tenantId: string;
  table: string;
  column: string;
  rowId: string;
  /**
   * Data stored beside the envelope, in plaintext, that the envelope vouches for (e.g. the masked form of what it
   * seals): bound into the AAD when given, so the envelope opens only beside exactly these bytes.
   */
  bound?: string;
}

/** A resolver over a list of data keys (e.g. the tenant's unwrapped keys). */
export function dataKeyResolver(keys: Iterable<DataKey>): DataKeyResolver {
  const byVersion = new Map<number, DataKey>();
  for (const k of keys) byVersion.set(k.version, k);
  return (version) => byVersion.get(version);
}

// ───────────────────────────── fields ─────────────────────────────

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function lengthPrefixed(parts: readonly string[]): Uint8Array {
  // Buffer.byteLength/write encode straight into one allocation: several times faster than a TextEncoder per part,
  // and this runs for every field of every invoice read. Same bytes (well-formed input is asserted by the callers).
  let size = 0;
  for (const p of parts) size += 4 + Buffer.byteLength(p, 'utf8');
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of parts) {
    const n = out.write(p, at + 4, 'utf8');
    out.writeUInt32BE(n, at);
    at += 4 + n;
  }
  return out;
}

function assertContext(ctx: FieldContext): void {
  if (typeof ctx !== 'object' || ctx === null) throw new TypeError('field context is required');
  assertText(ctx.tenantId, 'context tenantId', true);
  assertText(ctx.table, 'context table', true);
  assertText(ctx.column, 'context column', true);
  assertText(ctx.rowId, 'context rowId', true);
  if (ctx.bound !== undefined) assertText(ctx.bound, 'context bound', false);
}

/**
 * The canonical encoding of a field context: for tenantId, table, column, rowId (and `bound`, when given) in that
 * order, a 32-bit big-endian byte length then the UTF-8 bytes. Injective, so no choice of strings ('a|b' + 'c' vs
 * 'a' + 'b|c') collides, and a context with `bound` never encodes like one without.
 */
export function encodeFieldContext(ctx: FieldContext): Uint8Array {
  assertContext(ctx);
  return lengthPrefixed(contextParts(ctx));
}

function contextParts(ctx: FieldContext): string[] {
  const parts = [ctx.tenantId, ctx.table, ctx.column, ctx.rowId];
  if (ctx.bound !== undefined) parts.push(ctx.bound);
  return parts;
}

function fieldHeader(alg: FieldAlg, version: number): string {
  return `${FIELD_PREFIX}.${alg}.${version}`;
}

/** AAD = the envelope header, then the four context strings (and `bound`), each length-prefixed. */
function fieldAad(alg: FieldAlg, version: number, ctx: FieldContext): Uint8Array {
  assertContext(ctx);
  return lengthPrefixed([fieldHeader(alg, version), ...contextParts(ctx)]);
}

function seal(alg: FieldAlg, key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  if (alg === 'aes-256-gcm') {
    const cipher = createCipheriv('aes-256-gcm', aesKey(key), iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    return new Uint8Array(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
  }
  const r = sm4.encrypt(plaintext, key, { mode: 'gcm', iv, associatedData: aad, output: 'array', outputTag: true });
  if (!r.tag || r.tag.length !== TAG_BYTES) throw new Error('sm4-gcm: no authentication tag');
  const out = new Uint8Array(r.output.length + TAG_BYTES);
  out.set(r.output, 0);
  out.set(r.tag, r.output.length);
  return out;
}

/**
 * AES keys as KeyObjects, made once per data key: createDecipheriv with a KeyObject skips copying and checking raw
 * key bytes on every call. Weakly held, so a dropped data key takes its KeyObject with it.
 */
const keyObjects = new WeakMap<Uint8Array, KeyObject>();

function aesKey(key: Uint8Array): KeyObject {
  let k = keyObjects.get(key);
  if (!k) {
    k = createSecretKey(key);
    keyObjects.set(key, k);
  }
  return k;
}

/** Throws (anything) when authentication fails. */
function open(alg: FieldAlg, key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  const ciphertext = sealed.subarray(0, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  if (alg === 'aes-256-gcm') {
    const decipher = createDecipheriv('aes-256-gcm', aesKey(key), iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const head = decipher.update(ciphertext);
    const tail = decipher.final();
    return tail.length === 0 ? head : Buffer.concat([head, tail]);
  }
  // sm-crypto-v2 checks the tag (in constant time, before decrypting) only when one is passed: always pass all 16
  // bytes. It does not check the key length in GCM mode either: assertKey did.
  return sm4.decrypt(ciphertext, key, { mode: 'gcm', iv, associatedData: aad, tag, output: 'array' });
}

/** Encrypts one field value under the data key; the envelope names the algorithm and the data-key version. */
export function encryptField(dataKey: DataKey, plaintext: string, ctx: FieldContext): string {
  if (typeof dataKey !== 'object' || dataKey === null) throw new TypeError('data key is required');
  assertAlg(dataKey.alg);
  assertVersion(dataKey.version, 'data key version');
  assertKey(dataKey.alg, dataKey.key);
  assertText(plaintext, 'plaintext', false);
  const aad = fieldAad(dataKey.alg, dataKey.version, ctx);
  const iv = new Uint8Array(randomBytes(IV_BYTES));
  const sealed = seal(dataKey.alg, dataKey.key, iv, utf8.encode(plaintext), aad);
  return `${fieldHeader(dataKey.alg, dataKey.version)}.${toBase64url(iv)}.${toBase64url(sealed)}`;
}

/** What an envelope says about itself (to select rows still under an old data key), without decrypting. */
export interface FieldEnvelopeInfo {
  alg: FieldAlg;
  version: number;
}

interface ParsedField extends FieldEnvelopeInfo {
  iv: Uint8Array;
  sealed: Uint8Array;
}

function parseField(envelope: unknown): ParsedField {
  const parts = typeof envelope === 'string' ? envelope.split('.') : [];
  const version = parts[2] === undefined ? undefined : parseVersion(parts[2]);
  if (parts.length !== 5 || parts[0] !== FIELD_PREFIX || !isFieldAlg(parts[1]) || version === undefined) {
    throw new FieldCipherError('malformed', 'not an encrypted field');
  }
  let iv: Uint8Array, sealed: Uint8Array;
  try {
    [iv, sealed] = [fromBase64url(parts[3]!), fromBase64url(parts[4]!)];
  } catch {
    throw new FieldCipherError('malformed', 'envelope does not decode');
  }
  if (iv.length !== IV_BYTES || sealed.length < TAG_BYTES) throw new FieldCipherError('malformed', 'envelope has wrong sizes');
  return { alg: parts[1], version, iv, sealed };
}

export function fieldEnvelopeInfo(envelope: string): FieldEnvelopeInfo {
  const { alg, version } = parseField(envelope);
  return { alg, version };
}

/** True when `s` has the shape of an encrypted field (f1.<alg>.<version>.<iv>.<ciphertext‖tag>); does not decrypt. */
export function isEncryptedField(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const parts = s.split('.');
  if (parts.length !== 5 || parts[0] !== FIELD_PREFIX || !isFieldAlg(parts[1]) || parseVersion(parts[2]!) === undefined) {
    return false;
  }
  // 12 bytes → 16 base64url characters; at least the 16-byte tag → at least 22.
  return parts[3]!.length === 16 && B64URL_RE.test(parts[3]!) && parts[4]!.length >= 22 && B64URL_RE.test(parts[4]!);
}

/**
 * Decrypts an envelope made by encryptField for exactly this context. Throws FieldCipherError: 'malformed',
 * 'unknown_key_version' (the resolver has no key of the envelope's version), 'key_mismatch' (that key is for another
 * algorithm or the wrong length), 'authentication_failed' (wrong key, another tenant/table/column/row, tampered).
 */
export function decryptField(resolveKey: DataKeyResolver, envelope: string, ctx: FieldContext): string {
  const env = parseField(envelope);
  const aad = fieldAad(env.alg, env.version, ctx);
  const found = resolveKey(env.version);
  if (!found) throw new FieldCipherError('unknown_key_version', `data key version ${env.version} is not available`);
  if (found.alg !== env.alg) throw new FieldCipherError('key_mismatch', `data key version ${env.version} is not ${env.alg}`);
  if (!(found.key instanceof Uint8Array) || found.key.length !== DATA_KEY_BYTES[env.alg]) {
    throw new FieldCipherError('key_mismatch', `data key version ${env.version} has the wrong length`);
  }
  let plaintext: Uint8Array;
  try {
    plaintext = open(env.alg, found.key, env.iv, env.sealed, aad);
  } catch {
    throw new FieldCipherError('authentication_failed', 'authentication failed (wrong key, wrong context, or tampered)');
  }
  try {
    return utf8Strict.decode(plaintext);
  } catch {
    throw new FieldCipherError('malformed', 'plaintext is not UTF-8');
  }
}

/**
 * Data-key rotation: decrypts with the old keys and encrypts under `newKey` for the same context. An envelope already
 * under newKey's version and algorithm is checked (it must decrypt under newKey) and returned unchanged, so a
 * background job can be re-run or interrupted safely.
 */
export function reencryptField(
  oldKey: DataKeyResolver | DataKey,
  newKey: DataKey,
  envelope: string,
  ctx: FieldContext,
): string {
  const info = fieldEnvelopeInfo(envelope);
  if (info.version === newKey.version && info.alg === newKey.alg) {
    decryptField(dataKeyResolver([newKey]), envelope, ctx);
    return envelope;
  }
  const resolve = typeof oldKey === 'function' ? oldKey : dataKeyResolver([oldKey]);
  return encryptField(newKey, decryptField(resolve, envelope, ctx), ctx);
}
