// Secrets at rest under a master key. A sealed secret is one compact, self-describing string:
//   v1.aes-256-gcm.<keyVersion>.<iv>.<ciphertext>.<tag>        (base64url, RFC 4648 §5, unpadded)
// AES-256-GCM (NIST SP 800-38D) with a random 96-bit IV: safe for far more than the number of secrets we seal under
// one key (SP 800-38D §8.3 allows 2^32 random IVs). The AAD is the envelope header plus a caller label naming what
// the secret is ('signing-key:<keyId>'), so a sealed value cannot be moved to another row or relabelled unnoticed.
// keyVersion names the master key, for rotation: openSecret accepts one key or a map of versions to keys.
// A master key is either its 32 bytes (the file or environment key) or a MasterKeyCipher whose key never leaves its
// provider (an HSM over PKCS#11, pkcs11-master-key.ts): the same AES-256-GCM runs inside the token, so an envelope has
// the same form whichever provider sealed it and only its version says which key opens it.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../shared/errors.ts';
import { sm3Hex } from './sm3.ts';
import { generateSm2KeyPair, sm2PublicKeyFromPrivate } from './sm2.ts';
import { toBase64url, fromBase64url } from './sm2-encoding.ts';
import { generateIntlKeyPair, intlPublicKeyFromPrivate } from './intl-signing.ts';
import type { SigningAlgorithm } from '../../shared/signing.ts';

const VERSION = 'v1';
const ALG = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const MASTER_KEY_BYTES = 32;
export const MASTER_KEY_FILE = 'master.key';

/** An AES-256-GCM master key held by a provider that does the cipher itself (the key bytes are not available). */
export interface MasterKeyCipher {
  /** Where the key lives, for `fapiao doctor` and errors (e.g. 'pkcs11'). */
  readonly provider: string;
  /** AES-256-GCM with a 96-bit IV and a 128-bit tag: ciphertext ‖ tag. */
  encrypt(iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array;
  /** The inverse of encrypt; throws when the tag does not verify. */
  decrypt(iv: Uint8Array, ciphertextAndTag: Uint8Array, aad: Uint8Array): Uint8Array;
}

/** A master key: its bytes (file or environment provider) or a cipher whose key stays in its provider. */
export type MasterKey = Uint8Array | MasterKeyCipher;

export function isMasterKeyCipher(key: unknown): key is MasterKeyCipher {
  return typeof key === 'object' && key !== null && typeof (key as MasterKeyCipher).encrypt === 'function' && typeof (key as MasterKeyCipher).decrypt === 'function';
}

/** The name of the provider a master key comes from: 'file' for key bytes. */
export function masterKeyProviderOf(key: MasterKey): string {
  return isMasterKeyCipher(key) ? key.provider : 'file';
}

/** A master key provider that cannot answer now (e.g. the HSM is unreachable), as opposed to a key that does not fit. */
export class MasterKeyUnavailableError extends Error {
  override readonly name = 'MasterKeyUnavailableError';
}

export interface SealOptions {
  /** Version number of the master key (default 1); recorded in the envelope. */
  keyVersion?: number;
}

/** A single master key, or master keys by version (during rotation). */
export type MasterKeys = MasterKey | ReadonlyMap<number, MasterKey>;

function header(keyVersion: number): string {
  return `${VERSION}.${ALG}.${keyVersion}`;
}

function assertMasterKey(key: MasterKey): void {
  if (isMasterKeyCipher(key)) return;
  if (!(key instanceof Uint8Array) || key.length !== MASTER_KEY_BYTES) throw new TypeError('master key must be 32 bytes');
}

function gcmEncrypt(key: MasterKey, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): { ciphertext: Uint8Array; tag: Uint8Array } {
  if (isMasterKeyCipher(key)) {
    const out = key.encrypt(iv, plaintext, aad);
    if (out.length !== plaintext.length + TAG_BYTES) throw new Error('sealed secret: the master key provider returned a malformed ciphertext');
    return { ciphertext: out.subarray(0, plaintext.length), tag: out.subarray(plaintext.length) };
  }
  const cipher = createCipheriv(ALG, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

function gcmDecrypt(key: MasterKey, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array): Uint8Array {
  if (isMasterKeyCipher(key)) return key.decrypt(iv, Buffer.concat([ciphertext, tag]), aad);
  const decipher = createDecipheriv(ALG, key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
}

/** Seals `plaintext` under the master key; `aad` names what the secret is and must be given again to open it. */
export function sealSecret(masterKey: MasterKey, plaintext: Uint8Array, aad: string, options: SealOptions = {}): string {
  assertMasterKey(masterKey);
  const keyVersion = options.keyVersion ?? 1;
  if (!Number.isSafeInteger(keyVersion) || keyVersion < 1) throw new TypeError('keyVersion must be a positive integer');
  const head = header(keyVersion);
  const iv = randomBytes(IV_BYTES);
  const { ciphertext, tag } = gcmEncrypt(masterKey, iv, plaintext, Buffer.from(`${head}|${aad}`, 'utf8'));
  return [head, toBase64url(iv), toBase64url(ciphertext), toBase64url(tag)].join('.');
}

/**
 * Opens an envelope made by sealSecret. Throws an Error (never including key material or plaintext) when the
 * envelope is malformed, the master key version is unknown, or the ciphertext, tag, header or AAD was changed.
 */
export function openSecret(masterKey: MasterKeys, envelope: string, aad: string): Uint8Array {
  const parts = envelope.split('.');
  if (parts.length !== 6 || parts[0] !== VERSION || parts[1] !== ALG || !/^[1-9][0-9]{0,15}$/.test(parts[2]!)) {
    throw new Error('sealed secret: unsupported or malformed envelope');
  }
  const keyVersion = Number(parts[2]);
  const key = masterKey instanceof Uint8Array || isMasterKeyCipher(masterKey) ? masterKey : masterKey.get(keyVersion);
  if (!key) throw new Error(`sealed secret: master key version ${keyVersion} is not available`);
  assertMasterKey(key);
  let iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array;
  try {
    [iv, ciphertext, tag] = [fromBase64url(parts[3]!), fromBase64url(parts[4]!), fromBase64url(parts[5]!)];
  } catch {
    throw new Error('sealed secret: malformed envelope');
  }
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('sealed secret: malformed envelope');
  try {
    return gcmDecrypt(key, iv, ciphertext, tag, Buffer.from(`${header(keyVersion)}|${aad}`, 'utf8'));
  } catch (e) {
    // A provider that is unreachable (HSM session lost, token removed) is not a wrong key: say so.
    if (e instanceof MasterKeyUnavailableError) throw e;
    throw new Error('sealed secret: authentication failed (wrong master key, wrong label, or tampered)');
  }
}

/**
 * The master key: from the environment value (base64 of 32 bytes) when given, else `<dataDir>/master.key`
 * (32 raw bytes), created with mode 0600 on first use. The error names the source, never the value.
 */
export function loadOrCreateMasterKey(dataDir: string, envValue?: string): Uint8Array {
  if (envValue !== undefined && envValue !== '') {
    const text = envValue.trim();
    const key = Buffer.from(text, 'base64');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || key.length !== MASTER_KEY_BYTES) {
      throw new AppError('CONFIG_INVALID', { detail: 'The master key in the environment is not base64 of 32 bytes' });
    }
    return new Uint8Array(key);
  }
  const path = join(dataDir, MASTER_KEY_FILE);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx' fails if the file exists, so two processes starting together cannot overwrite each other's key.
    const key = randomBytes(MASTER_KEY_BYTES);
    writeFileSync(path, key, { flag: 'wx', mode: 0o600 });
    return new Uint8Array(key);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const key = readFileSync(path);
  if (key.length !== MASTER_KEY_BYTES) {
    throw new AppError('CONFIG_INVALID', { detail: `${path} must hold exactly 32 bytes` });
  }
  return new Uint8Array(key);
}

export interface SigningKeyRecord {
  /**
   * The algorithm's prefix and the first 16 hex digits of a hash of the public key bytes: `sm2-` SM3 of 04‖x‖y,
   * `p256-` SHA-256 of 04‖x‖y, `ed25519-` SHA-256 of the 32-byte key.
   */
  id: string;
  /** Default SM2. */
  alg?: SigningAlgorithm;
  /** Hex: SM2 and P-256 the uncompressed point 04‖x‖y (130 digits), Ed25519 the 32-byte key (64 digits). */
  publicKey: string;
  /** The 32-byte private scalar (Ed25519: seed), sealed with AAD 'signing-key:<id>'. */
  privateKeySealed: string;
}

const KEY_ID_PREFIX: Record<SigningAlgorithm, string> = { SM2: 'sm2', 'ECDSA-P256': 'p256', Ed25519: 'ed25519' };

export function signingKeyId(publicKeyHex: string, alg: SigningAlgorithm = 'SM2'): string {
  const bytes = Buffer.from(publicKeyHex, 'hex');
  const digest = alg === 'SM2' ? sm3Hex(bytes) : createHash('sha256').update(bytes).digest('hex');
  return `${KEY_ID_PREFIX[alg]}-${digest.slice(0, 16)}`;
}

/** The AAD label a signing key's private half is sealed with. */
export function signingKeyLabel(id: string): string {
  return `signing-key:${id}`;
}

/** The master-key version a sealed secret names, without opening it. */
export function sealedSecretVersion(envelope: string): number {
  const v = envelope.split('.')[2] ?? '';
  if (!/^[1-9][0-9]{0,15}$/.test(v)) throw new Error('sealed secret: unsupported or malformed envelope');
  return Number(v);
}

/** Master-key rotation: the same secret, sealed again under the new master key (same label). */
export function resealSecret(masterKeys: ReadonlyMap<number, MasterKey>, envelope: string, aad: string, newKey: MasterKey, newVersion: number): string {
  return sealSecret(newKey, openSecret(masterKeys, envelope, aad), aad, { keyVersion: newVersion });
}

/** A fresh signing key of `alg` (default SM2), its private half sealed under the master key. */
export function createSigningKey(masterKey: MasterKey, options: SealOptions & { alg?: SigningAlgorithm } = {}): SigningKeyRecord & { alg: SigningAlgorithm } {
  const { alg = 'SM2', ...seal } = options;
  const pair = alg === 'SM2' ? generateSm2KeyPair() : generateIntlKeyPair(alg);
  const id = signingKeyId(pair.publicKey, alg);
  const privateKeySealed = sealSecret(masterKey, Buffer.from(pair.privateKey, 'hex'), signingKeyLabel(id), seal);
  return { id, alg, publicKey: pair.publicKey, privateKeySealed };
}

/** The private key hex of a stored signing key; checks that it still belongs to the recorded public key and id. */
export function openSigningKey(masterKey: MasterKeys, record: SigningKeyRecord): string {
  const alg = record.alg ?? 'SM2';
  const privateKey = Buffer.from(openSecret(masterKey, record.privateKeySealed, signingKeyLabel(record.id))).toString('hex');
  const publicKey = alg === 'SM2' ? sm2PublicKeyFromPrivate(privateKey) : intlPublicKeyFromPrivate(alg, privateKey);
  if (publicKey !== record.publicKey || signingKeyId(record.publicKey, alg) !== record.id) {
    throw new Error(`signing key ${record.id}: private key does not match its public key`);
  }
  return privateKey;
}

/** The master keys by version: the current one plus earlier ones (config `previousMasterKeys`, base64 of 32 bytes). */
export function masterKeyRing(current: MasterKey, currentVersion: number, previous: readonly { version: number; key: string }[]): Map<number, MasterKey> {
  assertMasterKey(current);
  const ring = new Map<number, MasterKey>();
  for (const p of previous) {
    const key = new Uint8Array(Buffer.from(p.key, 'base64'));
    if (key.length !== MASTER_KEY_BYTES) throw new AppError('CONFIG_INVALID', { detail: `previous master key version ${p.version} is not 32 bytes` });
    ring.set(p.version, key);
  }
  ring.set(currentVersion, current);
  return ring;
}
