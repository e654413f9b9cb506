// Note signers and verifiers for the signature types the ledger uses (docs/ledger.md "Signature algorithms"):
//
//   0x01                     Ed25519 over the note text (https://c2sp.org/signed-note "Ed25519 signatures"). Every
//                            checkpoint carries one, as https://c2sp.org/tlog-tiles requires of a log that talks to
//                            witnesses.
//   0x04                     cosignature/v1, timestamped Ed25519 (https://c2sp.org/tlog-cosignature), cosigner.ts.
//   0xff "fapiao.dev/sm2-sm3" SM2 with SM3 (GB/T 32918.2-2016, default user ID 1234567812345678) over the note text,
//                            the optional 国密 line. signed-note assigns 0xff to "signature types without an
//                            identifier byte assigned by this specification" and recommends a longer identifier
//                            after it; ours is the 18 ASCII bytes of `fapiao.dev/sm2-sm3`. The public key is the
//                            65-byte uncompressed point 04 ‖ x ‖ y, the signature the raw 64 bytes r ‖ s. The key ID
//                            follows the recommended rule with the whole type: SHA-256(name ‖ 0x0A ‖ 0xff ‖
//                            "fapiao.dev/sm2-sm3" ‖ 04 ‖ x ‖ y)[:4]. Verifiers that do not know the type ignore
//                            the line, as signed-note requires of unknown keys.
//
// Keys as text: verifier keys are signed-note vkeys; signer keys follow golang.org/x/mod/sumdb/note,
// `PRIVATE+KEY+<name>+<hex key ID>+<base64(type ‖ secret)>`, the secret being the 32-byte Ed25519 seed or SM2
// private scalar, and the key ID that of the matching public key.
import type { KeyObject } from 'node:crypto';
import { generateSm2KeyPair, isValidPrivateKey, isValidPublicKey, sm2PublicKeyFromPrivate, sm2SignRaw, sm2VerifyRaw } from '../../../platform/crypto/sm2.ts';
import { COSIGNATURE_V1_TYPE } from '../domain/cosignature.ts';
import { NoteFormatError, computeKeyId, decodeBase64Strict, encodeBase64, formatVerifierKey, hex8, isValidKeyName, parseVerifierKey } from '../domain/signed-note.ts';
import { createCosignatureVerifier, createCosigner } from './cosigner.ts';
import { ED25519_KEY_SIZE, ed25519PrivateKey, ed25519PublicKey, ed25519RawPublicKey, ed25519Sign, ed25519Verify, generateEd25519Seed } from './ed25519.ts';

export const ED25519_TYPE = 0x01;
export const SM2_TYPE: Uint8Array = Uint8Array.from([0xff, ...Buffer.from('fapiao.dev/sm2-sm3', 'ascii')]);

export type NoteKeyType = 'ed25519' | 'cosignature/v1' | 'sm2';

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  readonly type: NoteKeyType;
  /** The signed-note verifier key of this signer. */
  readonly verifierKey: string;
  /** The signature bytes (without the key ID) over a note text. */
  sign(text: Uint8Array): Uint8Array;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly type: NoteKeyType;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

function typed(type: Uint8Array | number, key: Uint8Array): Uint8Array {
  const t = typeof type === 'number' ? Uint8Array.of(type) : type;
  const out = new Uint8Array(t.length + key.length);
  out.set(t, 0);
  out.set(key, t.length);
  return out;
}

function assertName(name: string): void {
  if (!isValidKeyName(name)) throw new NoteFormatError('a key name is non-empty, without spaces or +');
}

export function createEd25519NoteSigner(name: string, seed: Uint8Array | KeyObject): NoteSigner {
  assertName(name);
  const privateKey = seed instanceof Uint8Array ? ed25519PrivateKey(seed) : seed;
  const typedKey = typed(ED25519_TYPE, ed25519RawPublicKey(privateKey));
  return {
    name,
    keyId: computeKeyId(name, typedKey),
    type: 'ed25519',
    verifierKey: formatVerifierKey(name, typedKey),
    sign: (text) => ed25519Sign(privateKey, text),
  };
}

export function createEd25519NoteVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  assertName(name);
  const key = ed25519PublicKey(publicKey);
  return {
    name,
    keyId: computeKeyId(name, typed(ED25519_TYPE, publicKey)),
    type: 'ed25519',
    verify: (text, signature) => ed25519Verify(key, text, signature),
  };
}

export function createSm2NoteSigner(name: string, privateKeyHex: string): NoteSigner {
  assertName(name);
  if (!isValidPrivateKey(privateKeyHex)) throw new NoteFormatError('invalid SM2 private key');
  const publicKeyHex = sm2PublicKeyFromPrivate(privateKeyHex);
  const typedKey = typed(SM2_TYPE, Buffer.from(publicKeyHex, 'hex'));
  return {
    name,
    keyId: computeKeyId(name, typedKey),
    type: 'sm2',
    verifierKey: formatVerifierKey(name, typedKey),
    sign: (text) => sm2SignRaw(privateKeyHex, text, publicKeyHex),
  };
}

export function createSm2NoteVerifier(name: string, publicKeyHex: string): NoteVerifier {
  assertName(name);
  if (!isValidPublicKey(publicKeyHex)) throw new NoteFormatError('invalid SM2 public key');
  return {
    name,
    keyId: computeKeyId(name, typed(SM2_TYPE, Buffer.from(publicKeyHex, 'hex'))),
    type: 'sm2',
    verify: (text, signature) => sm2VerifyRaw(publicKeyHex, text, signature),
  };
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** A verifier for a signed-note vkey of type 0x01, 0x04 or the SM2 type; throws for any other or a malformed key. */
export function verifierFromKey(vkey: string): NoteVerifier {
  const { name, typedKey } = parseVerifierKey(vkey);
  const key = typedKey.subarray(1);
  if (typedKey[0] === ED25519_TYPE && key.length === ED25519_KEY_SIZE) return createEd25519NoteVerifier(name, key);
  if (typedKey[0] === COSIGNATURE_V1_TYPE && key.length === ED25519_KEY_SIZE) return createCosignatureVerifier(name, key);
  if (startsWith(typedKey, SM2_TYPE)) return createSm2NoteVerifier(name, Buffer.from(typedKey.subarray(SM2_TYPE.length)).toString('hex'));
  throw new NoteFormatError('unsupported verifier key type');
}

/** A signer from a `PRIVATE+KEY+…` signer key; its key ID must match the public key derived from the secret. */
export function signerFromKey(skey: string, clock?: () => number): NoteSigner {
  const m = /^PRIVATE\+KEY\+([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(skey);
  const secret = m ? decodeBase64Strict(m[3]!) : undefined;
  if (!m || secret === undefined || secret.length < 2) throw new NoteFormatError('a signer key is PRIVATE+KEY+name+keyid+key');
  const name = m[1]!;
  let signer: NoteSigner;
  if (secret[0] === ED25519_TYPE && secret.length === 1 + ED25519_KEY_SIZE) signer = createEd25519NoteSigner(name, secret.subarray(1));
  else if (secret[0] === COSIGNATURE_V1_TYPE && secret.length === 1 + ED25519_KEY_SIZE) signer = createCosigner(name, secret.subarray(1), clock);
  else if (startsWith(secret, SM2_TYPE) && secret.length === SM2_TYPE.length + 32) {
    signer = createSm2NoteSigner(name, Buffer.from(secret.subarray(SM2_TYPE.length)).toString('hex'));
  } else throw new NoteFormatError('unsupported signer key type');
  if (hex8(signer.keyId) !== m[2]) throw new NoteFormatError('the signer key ID does not match its key');
  return signer;
}

/** A new key pair as text: the signer key (secret) and its verifier key (public). */
export function generateNoteKey(name: string, type: NoteKeyType): { signerKey: string; verifierKey: string } {
  assertName(name);
  let secret: Uint8Array;
  let signer: NoteSigner;
  if (type === 'sm2') {
    const { privateKey } = generateSm2KeyPair();
    secret = typed(SM2_TYPE, Buffer.from(privateKey, 'hex'));
    signer = createSm2NoteSigner(name, privateKey);
  } else {
    const seed = generateEd25519Seed();
    const t = type === 'ed25519' ? ED25519_TYPE : COSIGNATURE_V1_TYPE;
    secret = typed(t, seed);
    signer = type === 'ed25519' ? createEd25519NoteSigner(name, seed) : createCosigner(name, seed);
  }
  return { signerKey: `PRIVATE+KEY+${name}+${hex8(signer.keyId)}+${encodeBase64(secret)}`, verifierKey: signer.verifierKey };
}
