// Signed checkpoints of the ledger: the body of domain/checkpoint.ts as a signed note. The log signs with its
// Ed25519 key (required by https://c2sp.org/tlog-tiles for a log that talks to witnesses) and, when configured,
// adds an SM2 line (note-keys.ts); checkpoint readers verify with the log's verifier keys.
import { type Checkpoint, CheckpointFormatError, formatCheckpoint, parseCheckpoint } from '../domain/checkpoint.ts';
import type { NoteSigner, NoteVerifier } from './note-keys.ts';
import { type OpenedNote, NoteVerificationError, openNote, signNote } from './notes.ts';

export function signCheckpoint(checkpoint: Checkpoint, signers: readonly NoteSigner[]): string {
  if (!signers.some((s) => s.type === 'ed25519')) throw new CheckpointFormatError('a checkpoint carries an Ed25519 signature of the log');
  return signNote(formatCheckpoint(checkpoint), signers);
}

/** Verifies a signed checkpoint of the log `origin` and parses its body. */
export function openCheckpoint(note: string | Uint8Array, origin: string, verifiers: readonly NoteVerifier[]): { checkpoint: Checkpoint; note: OpenedNote } {
  const opened = openNote(note, verifiers);
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(opened.text);
  } catch (err) {
    throw new NoteVerificationError('malformed', err instanceof Error ? err.message : 'malformed checkpoint');
  }
  if (checkpoint.origin !== origin) throw new NoteVerificationError('malformed', 'the checkpoint is of another log');
  return { checkpoint, note: opened };
}
