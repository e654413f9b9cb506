// The signature algorithms of the international profile, natively through node:crypto (OpenSSL):
//   ECDSA-P256  ECDSA over NIST P-256 with SHA-256 (FIPS 186-5; JOSE's ES256), the signature DER-encoded
//               SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3, what `openssl dgst -sha256 -verify` reads)
//   Ed25519     PureEdDSA over edwards25519 (RFC 8032 §5.1), the signature the 64 bytes R‖S
// Keys are kept as hex like SM2's: the private key is P-256's 32-byte scalar d or Ed25519's 32-byte seed; the public
// key is P-256's uncompressed point 04‖x‖y (130 hex digits) or Ed25519's 32-byte encoding (64 hex digits). Their
// SubjectPublicKeyInfo (RFC 5480, RFC 8410) is what GET /v1/keys publishes as `spki` and OpenSSL reads as PEM.
import { createECDH, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export type IntlAlgorithm = 'ECDSA-P256' | 'Ed25519';

export interface IntlKeyPair {
  privateKey: string;
  publicKey: string;
}

// SEQUENCE { SEQUENCE { OID id-ecPublicKey, OID prime256v1 }, BIT STRING 0x00 ‖ 04‖x‖y }
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
// SEQUENCE { SEQUENCE { OID id-Ed25519 }, BIT STRING 0x00 ‖ key }
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
// PKCS#8 PrivateKeyInfo of an Ed25519 seed (RFC 8410 §7): version 0, id-Ed25519, OCTET STRING { OCTET STRING seed }.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const P256_PUBLIC = /^04[0-9a-f]{128}$/;
const ED25519_PUBLIC = /^[0-9a-f]{64}$/;
const PRIVATE = /^[0-9a-f]{64}$/;

const b64u = (hex: string): string => Buffer.from(hex, 'hex').toString('base64url');
const hexOf = (b64url: string | undefined, bytes: number): string => {
  const b = Buffer.from(b64url ?? '', 'base64url');
  if (b.length > bytes) throw new TypeError('key component too long');
  return Buffer.concat([Buffer.alloc(bytes - b.length), b]).toString('hex');
};

/** A fresh key pair (OpenSSL's CSPRNG). */
export function generateIntlKeyPair(alg: IntlAlgorithm): IntlKeyPair {
  if (alg === 'ECDSA-P256') {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    return { privateKey: hexOf(jwk.d, 32), publicKey: `04${hexOf(jwk.x, 32)}${hexOf(jwk.y, 32)}` };
  }
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return { privateKey: hexOf(jwk.d, 32), publicKey: hexOf(jwk.x, 32) };
}

/** The public key of a private key, computed from it (so a stored pair can be checked to belong together). */
export function intlPublicKeyFromPrivate(alg: IntlAlgorithm, privateKeyHex: string): string {
  if (!PRIVATE.test(privateKeyHex)) throw new TypeError(`${alg} private key must be 64 lower-case hex digits`);
  if (alg === 'ECDSA-P256') {
    // Throws for a scalar outside [1, n−1].
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(privateKeyHex, 'hex'));
    return ecdh.getPublicKey('hex', 'uncompressed');
  }
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(privateKeyHex, 'hex')]), format: 'der', type: 'pkcs8' });
  return hexOf(createPublicKey(key).export({ format: 'jwk' }).x, 32);
}

function checkPublic(alg: IntlAlgorithm, publicKeyHex: string): void {
  if (!(alg === 'ECDSA-P256' ? P256_PUBLIC : ED25519_PUBLIC).test(publicKeyHex)) {
    throw new TypeError(alg === 'ECDSA-P256' ? 'P-256 public key must be 130 lower-case hex digits 04‖x‖y' : 'Ed25519 public key must be 64 lower-case hex digits');
  }
}

/** SubjectPublicKeyInfo DER of a public key (RFC 5480 for P-256, RFC 8410 for Ed25519). */
export function intlPublicKeyToSpki(alg: IntlAlgorithm, publicKeyHex: string): Uint8Array {
  checkPublic(alg, publicKeyHex);
  return new Uint8Array(Buffer.concat([alg === 'ECDSA-P256' ? P256_SPKI_PREFIX : ED25519_SPKI_PREFIX, Buffer.from(publicKeyHex, 'hex')]));
}

function privateKeyObject(alg: IntlAlgorithm, privateKeyHex: string, publicKeyHex: string): KeyObject {
  checkPublic(alg, publicKeyHex);
  if (intlPublicKeyFromPrivate(alg, privateKeyHex) !== publicKeyHex) throw new Error(`${alg} private key does not match its public key`);
  const d = b64u(privateKeyHex);
  const jwk = alg === 'ECDSA-P256'
    ? { kty: 'EC', crv: 'P-256', d, x: b64u(publicKeyHex.slice(2, 66)), y: b64u(publicKeyHex.slice(66)) }
    : { kty: 'OKP', crv: 'Ed25519', d, x: b64u(publicKeyHex) };
  return createPrivateKey({ key: jwk, format: 'jwk' });
}

export interface IntlSigner {
  readonly alg: IntlAlgorithm;
  readonly publicKey: string;
  /** ECDSA: DER (r, s) with a fresh random k; Ed25519: the 64 bytes R‖S (deterministic by definition). */
  sign(message: Uint8Array): Uint8Array;
}

/** A signer holding the private key as an OpenSSL key object, made once (the key pair is checked to belong together). */
export function createIntlSigner(alg: IntlAlgorithm, privateKeyHex: string, publicKeyHex: string): IntlSigner {
  const key = privateKeyObject(alg, privateKeyHex, publicKeyHex);
  const signOne = alg === 'ECDSA-P256'
    ? (m: Uint8Array) => new Uint8Array(sign('sha256', m, { key, dsaEncoding: 'der' }))
    : (m: Uint8Array) => new Uint8Array(sign(null, m, key));
  return { alg, publicKey: publicKeyHex, sign: signOne };
}

const VERIFY_KEYS_MAX = 1024;
const verifyKeys = new Map<string, KeyObject>();

function publicKeyObject(alg: IntlAlgorithm, publicKeyHex: string): KeyObject {
  const id = `${alg}:${publicKeyHex}`;
  let key = verifyKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: Buffer.from(intlPublicKeyToSpki(alg, publicKeyHex)), format: 'der', type: 'spki' });
    if (verifyKeys.size >= VERIFY_KEYS_MAX) verifyKeys.clear();
    verifyKeys.set(id, key);
  }
  return key;
}

/**
 * Verifies a signature as createIntlSigner makes it: ECDSA P-256 with SHA-256 over the message, the signature strict
 * DER; Ed25519 over the message, the signature 64 bytes. False for any malformed key or signature, never a throw.
 */
export function intlVerify(alg: IntlAlgorithm, publicKeyHex: string, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = publicKeyObject(alg, publicKeyHex);
    if (alg === 'ECDSA-P256') return verify('sha256', message, { key, dsaEncoding: 'der' }, signature);
    return signature.length === 64 && verify(null, message, key, signature);
  } catch {
    return false;
  }
}
