// The signed-note format (https://c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank line, then one
// or more signature lines `— <key name> <base64(key ID ‖ signature)>`. This file is the syntax only — parsing,
// formatting, key IDs and verifier keys; the algorithms that sign and verify are in ../app/note-keys.ts.
//
// Parsing is strict, as golang.org/x/mod/sumdb/note Open is, and stricter where the spec leaves room: base64 must
// be canonical (padding and zero trailing bits), verifier-key hashes lower-case, at most 100 signature lines (the
// spec requires accepting at least 16).
import { createHash } from 'node:crypto';

export const MAX_NOTE_SIGNATURES = 100;

/** One signature line. `signature` excludes the 4-byte key ID. */
export interface NoteSignature {
  name: string;
  keyId: number;
  signature: Uint8Array;
  /** The line as it appears in the note, without the final newline. */
  line: string;
}

export interface ParsedNote {
  /** The signed text, with its final newline. */
  text: string;
  signatures: NoteSignature[];
}

export class NoteFormatError extends Error {
  override readonly name = 'NoteFormatError';
}

const SIGNATURE_PREFIX = '\u2014 ';
// Go's unicode.IsSpace (the reference implementation's test) plus U+FEFF, which JavaScript also calls a space.
const UNICODE_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/u;
/** True when `s` has an ASCII control character (below U+0020) other than newline. */
export function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return true;
  }
  return false;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** signed-note "Format": key names are non-empty and contain no Unicode space and no `+`. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !UNICODE_SPACE.test(name) && !name.includes('+') && !hasControlCharacter(name) && !LONE_SURROGATE.test(name);
}

/** RFC 4648 §4 base64, canonical only (decodes and re-encodes to the same text); undefined otherwise. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? new Uint8Array(bytes) : undefined;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}

/** The note as text, checked to be UTF-8 without control characters other than newline. */
export function noteText(note: string | Uint8Array): string {
  let s: string;
  if (typeof note === 'string') {
    if (LONE_SURROGATE.test(note)) throw new NoteFormatError('a note is valid UTF-8');
    s = note;
  } else {
    try {
      s = utf8.decode(note);
    } catch {
      throw new NoteFormatError('a note is valid UTF-8');
    }
  }
  if (hasControlCharacter(s)) throw new NoteFormatError('a note has no control characters other than newline');
  return s;
}

/** Parses one signature line (without its newline). */
export function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(SIGNATURE_PREFIX)) throw new NoteFormatError('a signature line starts with an em dash and a space');
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw new NoteFormatError('a signature line is a key name, a space and a base64 signature');
  const name = rest.slice(0, space);
  const b64 = rest.slice(space + 1);
  if (!isValidKeyName(name)) throw new NoteFormatError('a signature line has an invalid key name');
  const raw = decodeBase64Strict(b64);
  if (raw === undefined || raw.length < 5) throw new NoteFormatError('a signature is base64 of a key ID and at least one byte');
  const keyId = Buffer.from(raw).readUInt32BE(0);
  return { name, keyId, signature: raw.subarray(4), line };
}

/** Splits a note into its text and signature lines; throws NoteFormatError for anything malformed. */
export function parseNote(note: string | Uint8Array): ParsedNote {
  const s = noteText(note);
  // The text is separated from the signatures by the last blank line (signed-note "Format").
  const split = s.lastIndexOf('\n\n');
  if (split < 0) throw new NoteFormatError('a note has a blank line before its signatures');
  const text = s.slice(0, split + 1);
  const block = s.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw new NoteFormatError('a note ends with signature lines, each ending in a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw new NoteFormatError(`a note has at most ${MAX_NOTE_SIGNATURES} signatures`);
  return { text, signatures: lines.map(parseSignatureLine) };
}

export function formatSignatureLine(name: string, keyId: number, signature: Uint8Array): string {
  if (!isValidKeyName(name)) throw new NoteFormatError('invalid key name');
  const raw = Buffer.alloc(4 + signature.length);
  raw.writeUInt32BE(keyId >>> 0, 0);
  raw.set(signature, 4);
  return `${SIGNATURE_PREFIX}${name} ${raw.toString('base64')}`;
}

/** text ‖ "\n" ‖ one line per signature, each ending in a newline. */
export function formatNote(text: string, signatureLines: readonly string[]): string {
  if (!text.endsWith('\n')) throw new NoteFormatError('a note text ends in a newline');
  if (signatureLines.length === 0) throw new NoteFormatError('a note has at least one signature');
  noteText(text);
  for (const l of signatureLines) parseSignatureLine(l);
  return `${text}\n${signatureLines.map((l) => `${l}\n`).join('')}`;
}

/**
 * The signed-note key ID: the first four bytes, big-endian, of SHA-256(key name ‖ 0x0A ‖ signature type ‖ public
 * key). `typedKey` is the signature type identifier followed by the public key, as in a verifier key.
 */
export function computeKeyId(name: string, typedKey: Uint8Array): number {
  const digest = createHash('sha256').update(name, 'utf8').update('\n').update(typedKey).digest();
  return digest.readUInt32BE(0);
}

export interface VerifierKey {
  name: string;
  keyId: number;
  /** Signature type identifier followed by the public key material. */
  typedKey: Uint8Array;
}

export function hex8(keyId: number): string {
  return (keyId >>> 0).toString(16).padStart(8, '0');
}

/** `<name>+<hex key ID>+<base64(type ‖ public key)>` (signed-note "Verifier keys"). */
export function formatVerifierKey(name: string, typedKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new NoteFormatError('invalid key name');
  if (typedKey.length < 2) throw new NoteFormatError('a verifier key has a type and a public key');
  return `${name}+${hex8(computeKeyId(name, typedKey))}+${encodeBase64(typedKey)}`;
}

/** Parses a verifier key; the key ID must be the one computed from name, type and key. */
export function parseVerifierKey(vkey: string): VerifierKey {
  const first = vkey.indexOf('+');
  const second = first < 0 ? -1 : vkey.indexOf('+', first + 1);
  if (second < 0) throw new NoteFormatError('a verifier key is name+keyid+key');
  const name = vkey.slice(0, first);
  const hash = vkey.slice(first + 1, second);
  const typedKey = decodeBase64Strict(vkey.slice(second + 1));
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hash) || typedKey === undefined || typedKey.length < 2) {
    throw new NoteFormatError('malformed verifier key');
  }
  const keyId = Number.parseInt(hash, 16);
  if (keyId !== computeKeyId(name, typedKey)) throw new NoteFormatError('the verifier key ID does not match its name and key');
  return { name, keyId, typedKey };
}
