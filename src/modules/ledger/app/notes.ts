// Signing and opening signed notes (https://c2sp.org/signed-note "Signatures"): a signature line whose key name and
// ID match a known key MUST verify, else the whole note is refused; lines of unknown keys are ignored (kept apart,
// e.g. for a witness's cosignatures the caller does not trust); a note with no verified signature is refused.
import { NoteFormatError, formatNote, formatSignatureLine, parseNote, parseSignatureLine, type NoteSignature } from '../domain/signed-note.ts';
import type { NoteSigner, NoteVerifier } from './note-keys.ts';

export type NoteFailure = 'malformed' | 'unverified' | 'invalid-signature';

export class NoteVerificationError extends Error {
  override readonly name = 'NoteVerificationError';
  constructor(
    readonly reason: NoteFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifiedSignature extends NoteSignature {
  verifier: NoteVerifier;
}

export interface OpenedNote {
  text: string;
  verified: VerifiedSignature[];
  /** Lines of keys not among the verifiers, in order, duplicates dropped. */
  unverified: NoteSignature[];
}

/** The note `text` signed by every signer, after any `existingLines` (signature lines kept from another copy). */
export function signNote(text: string, signers: readonly NoteSigner[], existingLines: readonly string[] = []): string {
  const bytes = new Uint8Array(Buffer.from(text, 'utf8'));
  const mine = new Set(signers.map((s) => `${s.name}\u0000${s.keyId}`));
  const kept = existingLines.filter((l) => {
    const s = parseSignatureLine(l);
    return !mine.has(`${s.name}\u0000${s.keyId}`);
  });
  return formatNote(text, [...kept, ...signers.map((s) => formatSignatureLine(s.name, s.keyId, s.sign(bytes)))]);
}

function verifierIndex(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  const byKey = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const key = `${v.name}\u0000${v.keyId}`;
    // Two keys with one name and ID cannot be told apart (signed-note: "Accidental collisions of both key name
    // and key ID can lead to errors"): a configuration error, refused rather than guessed.
    if (byKey.has(key)) throw new NoteFormatError(`two verifier keys share the name and key ID of ${v.name}`);
    byKey.set(key, v);
  }
  return byKey;
}

/** Parses and verifies a note; throws NoteVerificationError (reason says why) unless a known key signed it. */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const byKey = verifierIndex(verifiers);
  let parsed: ReturnType<typeof parseNote>;
  try {
    parsed = parseNote(note);
  } catch (err) {
    throw new NoteVerificationError('malformed', err instanceof Error ? err.message : 'malformed note');
  }
  const text = new Uint8Array(Buffer.from(parsed.text, 'utf8'));
  const verified: VerifiedSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of parsed.signatures) {
    const key = `${sig.name}\u0000${sig.keyId}`;
    const v = byKey.get(key);
    if (v === undefined) {
      if (!seen.has(sig.line)) unverified.push(sig);
      seen.add(sig.line);
      continue;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    if (!v.verify(text, sig.signature)) throw new NoteVerificationError('invalid-signature', `the signature of ${sig.name} does not verify`);
    verified.push({ ...sig, verifier: v });
  }
  if (verified.length === 0) throw new NoteVerificationError('unverified', 'no known key signed the note');
  return { text: parsed.text, verified, unverified };
}

/**
 * Adds signature lines (e.g. a witness's add-checkpoint response) to a note, dropping lines it already has.
 * `lines` is one or more signature lines, each ending in a newline.
 */
export function addSignatureLines(note: string, lines: string): string {
  const parsed = parseNote(note);
  if (lines.length === 0 || !lines.endsWith('\n')) throw new NoteFormatError('signature lines end in a newline');
  const extra = lines.slice(0, -1).split('\n');
  for (const l of extra) parseSignatureLine(l);
  const have = new Set(parsed.signatures.map((s) => s.line));
  const all = [...parsed.signatures.map((s) => s.line)];
  for (const l of extra) {
    if (!have.has(l)) all.push(l);
    have.add(l);
  }
  return formatNote(parsed.text, all);
}
