// An invoice signature under any of the signing algorithms (shared/signing.ts), dispatched by the key's algorithm:
// SM2 (sm2.ts) or the international profile (intl-signing.ts). The forms:
//   stored  (`signature.value`, ledger leaf)  SM2 and ECDSA-P256 DER SEQUENCE { r, s }; Ed25519 the 64 bytes R‖S
//   raw     (the QR code)                     r‖s, 32 bytes each, for SM2 and ECDSA-P256; Ed25519 the same 64 bytes
import type { SigningAlgorithm } from '../../shared/signing.ts';
import { derToRaw, rawToDer, sm2PublicKeyToSpki, sm2Verify } from './sm2.ts';
import { intlPublicKeyToSpki, intlVerify } from './intl-signing.ts';

/** True when `signature` (stored form) is a valid signature of `message` under the public key (hex). Never throws. */
export function verifySignature(alg: SigningAlgorithm, publicKeyHex: string, message: Uint8Array, signature: Uint8Array): boolean {
  if (alg === 'SM2') {
    try {
      return sm2Verify(publicKeyHex, message, signature);
    } catch {
      return false;
    }
  }
  return intlVerify(alg, publicKeyHex, message, signature);
}

/** The 64-byte form the QR carries; throws TypeError when the stored signature is malformed. */
export function rawSignature(alg: SigningAlgorithm, stored: Uint8Array): Uint8Array {
  if (alg === 'Ed25519') {
    if (stored.length !== 64) throw new TypeError('an Ed25519 signature is 64 bytes');
    return stored;
  }
  return derToRaw(stored);
}

/** The stored form of a 64-byte QR signature. */
export function storedSignature(alg: SigningAlgorithm, raw: Uint8Array): Uint8Array {
  return alg === 'Ed25519' ? raw : rawToDer(raw);
}

/** SubjectPublicKeyInfo DER of a signing key (SM2: id-ecPublicKey with the SM2 curve OID, GB/T 33560). */
export function publicKeySpki(alg: SigningAlgorithm, publicKeyHex: string): Uint8Array {
  return alg === 'SM2' ? sm2PublicKeyToSpki(publicKeyHex) : intlPublicKeyToSpki(alg, publicKeyHex);
}

/** The algorithm and public key (hex) of a SubjectPublicKeyInfo (DER, or PEM "PUBLIC KEY") of one of our algorithms. */
export function publicKeyFromSpki(spki: Uint8Array | string): { alg: SigningAlgorithm; publicKey: string } | undefined {
  const der = typeof spki === 'string' ? Buffer.from(spki.replace(/-----(BEGIN|END) PUBLIC KEY-----|\s/g, ''), 'base64') : Buffer.from(spki);
  for (const alg of ['SM2', 'ECDSA-P256', 'Ed25519'] as const) {
    const size = alg === 'Ed25519' ? 32 : 65;
    if (der.length <= size) continue;
    const publicKey = der.subarray(der.length - size).toString('hex');
    try {
      if (Buffer.from(publicKeySpki(alg, publicKey)).equals(der)) return { alg, publicKey };
    } catch {
      // not this algorithm's form
    }
  }
  return undefined;
}
