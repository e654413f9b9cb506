// A reusable SM2 signer for one key, with a native fast path for the expensive step.
//
// GB/T 32918.2 §6.1 A3–A6: pick k ∈ [1, n−1], (x1, y1) = k·G, r = (e + x1) mod n (retry if r = 0 or r + k = n),
// s = (1 + d)⁻¹ · (k − r·d) mod n (retry if s = 0). Only k·G needs elliptic-curve arithmetic. Node's
// crypto.createECDH('SM2').generateKeys() draws a fresh k from OpenSSL's CSPRNG and returns exactly k and k·G, natively,
// about twice as fast as @noble's JS scalar multiplication; the rest is a few BigInt operations mod n, with (1 + d)⁻¹
// computed once per key. This uses Node's SM2 *curve* only, never its SM2 *signature* (which has the wrong user ID),
// so the result is a standard signature; the interop tests run against both paths. When the running OpenSSL has no SM2
// curve the signer falls back to sm-crypto-v2.
import { createECDH, type ECDH } from 'node:crypto';
import { SM2_N, sm2Digest, sm2PublicKeyFromPrivate, sm2SignRaw, isValidPrivateKey } from './sm2.ts';
import { bytesToBigInt, bigIntToBytes, rawToDer } from './sm2-encoding.ts';

export interface Sm2Signer {
  /** 04‖x‖y hex of the signing key. */
  readonly publicKey: string;
  /** True when k·G is computed natively by OpenSSL. */
  readonly native: boolean;
  /** DER SEQUENCE { r, s } over the message bytes, default user ID. */
  sign(message: Uint8Array): Uint8Array;
  /** Raw 64-byte r‖s. */
  signRaw(message: Uint8Array): Uint8Array;
}

export interface Sm2SignerOptions {
  /** false forces the pure-JS library path (default: native when available). */
  native?: boolean;
}

export function createSm2Signer(privateKeyHex: string, publicKeyHex?: string, options: Sm2SignerOptions = {}): Sm2Signer {
  if (!isValidPrivateKey(privateKeyHex)) throw new TypeError('SM2 private key must be 64 lowercase hex digits in [1, n-2]');
  const derived = sm2PublicKeyFromPrivate(privateKeyHex);
  // A mismatched public key would silently produce signatures nobody can verify (Z_A would be wrong).
  if (publicKeyHex !== undefined && publicKeyHex.toLowerCase() !== derived) throw new TypeError('SM2 public key does not match the private key');
  const publicKey = derived;
  const ecdh = options.native === false ? undefined : nativeEcdh(privateKeyHex, publicKey);
  if (!ecdh) {
    return {
      publicKey,
      native: false,
      signRaw: (message) => sm2SignRaw(privateKeyHex, message, publicKey),
      sign: (message) => rawToDer(sm2SignRaw(privateKeyHex, message, publicKey)),
    };
  }
  const d = BigInt(`0x${privateKeyHex}`);
  const inv1d = modInverse(1n + d, SM2_N);
  const signRaw = (message: Uint8Array): Uint8Array => {
    const e = bytesToBigInt(sm2Digest(publicKey, message));
    for (;;) {
      ecdh.generateKeys();
      const k = bytesToBigInt(ecdh.getPrivateKey());
      const x1 = bytesToBigInt(ecdh.getPublicKey().subarray(1, 33));
      const r = (e + x1) % SM2_N;
      if (r === 0n || r + k === SM2_N) continue;
      const s = (inv1d * mod(k - r * d, SM2_N)) % SM2_N;
      if (s === 0n) continue;
      const raw = new Uint8Array(64);
      raw.set(bigIntToBytes(r, 32), 0);
      raw.set(bigIntToBytes(s, 32), 32);
      return raw;
    }
  };
  return { publicKey, native: true, signRaw, sign: (message) => rawToDer(signRaw(message)) };
}

/** An ECDH object on Node's SM2 curve, if it exists and really is sm2p256v1 (d·G must give our public key). */
function nativeEcdh(privateKeyHex: string, publicKeyHex: string): ECDH | undefined {
  try {
    const probe = createECDH('SM2');
    probe.setPrivateKey(Buffer.from(privateKeyHex, 'hex'));
    if (probe.getPublicKey('hex') !== publicKeyHex) return undefined;
    return createECDH('SM2');
  } catch {
    return undefined;
  }
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** a⁻¹ mod m by the extended Euclidean algorithm (m prime, a ≠ 0 mod m). */
function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new RangeError('not invertible');
  return mod(oldS, m);
}
