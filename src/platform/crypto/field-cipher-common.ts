// What the two halves of field encryption share (data-key-wrap.ts wraps data keys under the master key,
// field-cipher.ts encrypts fields under them): the algorithms and key sizes, the DataKey shape, FieldCipherError and
// the argument checks. Imports nothing of ours, so both can import it without a cycle.

export type FieldAlg = 'aes-256-gcm' | 'sm4-gcm';

export const FIELD_ALGS: readonly FieldAlg[] = ['aes-256-gcm', 'sm4-gcm'];

/** Key length in bytes per algorithm. */
export const DATA_KEY_BYTES: Readonly<Record<FieldAlg, number>> = { 'aes-256-gcm': 32, 'sm4-gcm': 16 };

const VERSION_RE = /^[1-9][0-9]{0,15}$/;
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A data key with its algorithm and version (the version is recorded in every envelope it makes). */
export interface DataKey {
  alg: FieldAlg;
  version: number;
  key: Uint8Array;
}

export type FieldCipherErrorReason =
  /** Not an envelope of this format, or a part does not decode. */
  | 'malformed'
  /** The envelope names a key version the resolver (or master-key map) does not have. */
  | 'unknown_key_version'
  /** The resolved key is for another algorithm or has the wrong length. */
  | 'key_mismatch'
  /** Wrong key, wrong context (tenant/table/column/row), or the envelope was changed. */
  | 'authentication_failed';

export class FieldCipherError extends Error {
  readonly reason: FieldCipherErrorReason;

  constructor(reason: FieldCipherErrorReason, message: string) {
    super(`field cipher: ${message}`);
    this.name = 'FieldCipherError';
    this.reason = reason;
  }
}

export function isFieldAlg(s: unknown): s is FieldAlg {
  return s === 'aes-256-gcm' || s === 'sm4-gcm';
}

export function assertAlg(alg: unknown): asserts alg is FieldAlg {
  if (!isFieldAlg(alg)) throw new TypeError(`unsupported field algorithm (use ${FIELD_ALGS.join(' or ')})`);
}

export function assertVersion(version: unknown, what: string): asserts version is number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new TypeError(`${what} must be a positive integer`);
  }
}

export function assertKey(alg: FieldAlg, key: unknown): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== DATA_KEY_BYTES[alg]) {
    throw new TypeError(`${alg} data key must be ${DATA_KEY_BYTES[alg]} bytes`);
  }
}

export function assertText(value: unknown, what: string, nonEmpty: boolean): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
  if (nonEmpty && value === '') throw new TypeError(`${what} must not be empty`);
  // A lone surrogate has no UTF-8 form (it would be replaced by U+FFFD): two different strings, one encoding.
  if (LONE_SURROGATE_RE.test(value)) throw new TypeError(`${what} is not well-formed Unicode`);
}

export function parseVersion(text: string): number | undefined {
  if (!VERSION_RE.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
