// cosignature/v1 (https://c2sp.org/tlog-cosignature): a witness's timestamped Ed25519 signature over
// "cosignature/v1\ntime <t>\n" ‖ checkpoint body, as a note signature of type 0x04. The key ID is
// SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]; the same Ed25519 key must not also sign plain (0x01) notes.
import type { KeyObject } from 'node:crypto';
import {
  COSIGNATURE_V1_TYPE,
  cosignatureMessage,
  decodeTimestampedSignature,
  encodeTimestampedSignature,
} from '../domain/cosignature.ts';
import { NoteFormatError, computeKeyId, formatSignatureLine, formatVerifierKey, isValidKeyName } from '../domain/signed-note.ts';
import { ed25519PrivateKey, ed25519PublicKey, ed25519RawPublicKey, ed25519Sign, ed25519Verify } from './ed25519.ts';
import type { NoteSigner, NoteVerifier } from './note-keys.ts';

const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface Cosigner extends NoteSigner {
  readonly type: 'cosignature/v1';
  /** Cosigns a checkpoint body now: the note signature line (no newline) and the timestamp it carries. */
  cosign(checkpointText: string): { line: string; timestamp: number };
}

export interface CosignatureVerifier extends NoteVerifier {
  readonly type: 'cosignature/v1';
  /** The timestamp a (well-formed) cosignature carries, or undefined. */
  timestampOf(signature: Uint8Array): number | undefined;
}

/** `clock` returns milliseconds since the epoch (Date.now); the cosignature carries whole seconds. */
export function createCosigner(name: string, seed: Uint8Array | KeyObject, clock: () => number = Date.now): Cosigner {
  if (!isValidKeyName(name)) throw new NoteFormatError('a key name is non-empty, without spaces or +');
  const privateKey = seed instanceof Uint8Array ? ed25519PrivateKey(seed) : seed;
  const typedKey = Uint8Array.from([COSIGNATURE_V1_TYPE, ...ed25519RawPublicKey(privateKey)]);
  const keyId = computeKeyId(name, typedKey);
  const now = (): number => {
    const t = Math.floor(clock() / 1000);
    // tlog-witness "add-checkpoint": the timestamp MUST NOT be zero.
    if (!Number.isSafeInteger(t) || t < 1) throw new RangeError('the cosigner clock is not set');
    return t;
  };
  const signAt = (text: string, timestamp: number): Uint8Array =>
    encodeTimestampedSignature(timestamp, ed25519Sign(privateKey, cosignatureMessage(text, timestamp)));
  return {
    name,
    keyId,
    type: 'cosignature/v1',
    verifierKey: formatVerifierKey(name, typedKey),
    sign: (text) => signAt(textDecoder.decode(text), now()),
    cosign(checkpointText) {
      const timestamp = now();
      return { line: formatSignatureLine(name, keyId, signAt(checkpointText, timestamp)), timestamp };
    },
  };
}

export function createCosignatureVerifier(name: string, publicKey: Uint8Array): CosignatureVerifier {
  if (!isValidKeyName(name)) throw new NoteFormatError('a key name is non-empty, without spaces or +');
  const key = ed25519PublicKey(publicKey);
  const timestampOf = (signature: Uint8Array): number | undefined => {
    try {
      return decodeTimestampedSignature(signature).timestamp;
    } catch {
      return undefined;
    }
  };
  return {
    name,
    keyId: computeKeyId(name, Uint8Array.from([COSIGNATURE_V1_TYPE, ...publicKey])),
    type: 'cosignature/v1',
    timestampOf,
    verify(text, signature) {
      let decoded: { timestamp: number; signature: Uint8Array };
      let body: string;
      try {
        decoded = decodeTimestampedSignature(signature);
        body = textDecoder.decode(text);
      } catch {
        return false;
      }
      return ed25519Verify(key, cosignatureMessage(body, decoded.timestamp), decoded.signature);
    },
  };
}
