// RFC 8785 JSON Canonicalization Scheme (JCS): the byte-exact form of a JSON value that the invoice hash covers.
// JCS = I-JSON data (RFC 7493) serialised the way ECMAScript's JSON.stringify does, with object members sorted by
// the UTF-16 code units of their names and no whitespace. Amounts in our documents are strings, so the number rules
// (RFC 8785 §3.2.2.3, ECMA-262 Number::toString) only ever see integers, but the whole rule set is implemented.

/** A value canonicalize() accepts: what JSON.parse produces, plus undefined members (skipped) and toJSON(). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };

// In a /u regex a surrogate class matches only *lone* surrogates (pairs are read as one code point).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Canonical JSON text of `value` (RFC 8785). Throws TypeError for what I-JSON forbids or JSON cannot express:
 * non-finite numbers, BigInt, lone surrogates, cycles, and a top-level value that serialises to nothing.
 */
export function canonicalize(value: unknown): string {
  const out = serialize(value, new Set<object>());
  if (out === undefined) throw new TypeError('canonicalize: the value has no JSON representation');
  return out;
}

/** UTF-8 bytes of the canonical form: what is hashed. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}

function serialize(value: unknown, stack: Set<object>): string | undefined {
  // JSON.stringify semantics: an object's toJSON() (e.g. Date) replaces it.
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      return serializeString(value);
    case 'number':
      return serializeNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('canonicalize: BigInt has no I-JSON representation');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (stack.has(obj)) throw new TypeError('canonicalize: cyclic structure');
  stack.add(obj);
  try {
    if (Array.isArray(obj)) {
      // Like JSON.stringify: holes, undefined, functions and symbols in arrays become null.
      const items: string[] = [];
      for (let i = 0; i < obj.length; i++) items.push(serialize((obj as unknown[])[i], stack) ?? 'null');
      return `[${items.join(',')}]`;
    }
    // RFC 8785 §3.2.3: members sorted by name as arrays of UTF-16 code units. Array.prototype.sort without a
    // comparator compares exactly that way (not by code point, not by locale).
    const record = obj as Record<string, unknown>;
    const members: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const v = serialize(record[key], stack);
      if (v !== undefined) members.push(`${serializeString(key)}:${v}`);
    }
    return `{${members.join(',')}}`;
  } finally {
    stack.delete(obj);
  }
}

/**
 * RFC 8785 §3.2.2.2: \b \t \n \f \r \" \\ as two-character escapes, other U+0000..U+001F as lowercase \u00hh,
 * everything else as is. That is exactly JSON.stringify on a well-formed string; lone surrogates, which
 * JSON.stringify would escape, are not I-JSON (RFC 7493 §2.1) and are rejected.
 */
function serializeString(s: string): string {
  if (LONE_SURROGATE.test(s)) throw new TypeError('canonicalize: string contains a lone surrogate');
  return JSON.stringify(s);
}

/**
 * RFC 8785 §3.2.2.3: the ECMAScript Number-to-String algorithm (shortest round-trip digits, exponent from 1e21 and
 * below 1e-6, "-0" as "0"), which is what JSON.stringify produces for finite numbers. NaN and ±Infinity are errors.
 */
function serializeNumber(n: number): string {
  if (!Number.isFinite(n)) throw new TypeError('canonicalize: non-finite number');
  return JSON.stringify(n);
}
