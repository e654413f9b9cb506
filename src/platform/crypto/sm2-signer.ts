// A reusable SM2 signer for one key, with a native fast path for the expensive step.
//
// GB/T 32918.2 §6.1 A3–A6: pick k ∈ [1, n−1], (x1, y1) = k·G, r = (e + x1) mod n (retry if r = 0 or r + k = n),
// s = (1 + d)⁻¹ · (k − r·d) mod n (retry if s = 0). Only k·G needs elliptic-curve arithmetic. Node's
// crypto.createECDH('SM2').generateKeys() draws a fresh k from OpenSSL's CSPRNG and returns exactly k and k·G, natively,
// about twice as fast as @noble's JS scalar multiplication; the rest is a few BigInt operations mod n, with (1 + d)⁻¹
// computed once per key. This uses Node's SM2 *curve* only, never its SM2 *signature* (which has the wrong user ID),
// so the result is a standard signature; the interop tests run against both paths. When the running OpenSSL has no SM2
// curve the signer falls back to sm-crypto-v2.
//
// `signDeterministic` takes k from the key and the message instead (RFC 6979 §3.2, HMAC_DRBG with HMAC-SM3 over the
// private key and e, with the §3.2 step h loop for every retry SM2 asks for), so the same key signs the same message
// with the same bytes: the OFD's package signature (GB/T 38540) is then a function of the stored invoice like the rest
// of the document, whichever node renders it, and an e-mail attachment equals the download. Verifiers cannot tell
// the difference: a signature with k so derived is an ordinary SM2 signature (RFC 6979 §3.6: k is still unknowable
// without the key, and never repeats for two different messages).
import { createECDH, createHmac, type ECDH } from 'node:crypto';
import { sm2 as gm } from 'sm-crypto-v2';
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
  /** DER SEQUENCE { r, s } with k derived from the key and the message (RFC 6979 with HMAC-SM3): the same bytes each time. */
  signDeterministic(message: Uint8Array): Uint8Array;
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
  const d = BigInt(`0x${privateKeyHex}`);
  const inv1d = modInverse(1n + d, SM2_N);
  /** A3–A6 with the nonces `next` gives (each k ∈ [1, n−1], with x1 of k·G) until one makes a valid signature. */
  const finish = (e: bigint, next: () => { k: bigint; x1: bigint }): Uint8Array => {
    for (;;) {
      const { k, x1 } = next();
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
  // x1 of k·G: natively (Node's SM2 curve) or with sm-crypto-v2's scalar multiplication.
  const x1Of = ecdh
    ? (k: bigint) => {
      ecdh.setPrivateKey(Buffer.from(bigIntToBytes(k, 32)));
      return bytesToBigInt(ecdh.getPublicKey().subarray(1, 33));
    }
    : (k: bigint) => BigInt(`0x${gm.getPublicKeyFromPrivateKey(bigIntToHex(k)).slice(2, 66)}`);
  const signDeterministic = (message: Uint8Array): Uint8Array => {
    const digest = sm2Digest(publicKey, message);
    const nonces = rfc6979Nonces(d, digest);
    return rawToDer(finish(bytesToBigInt(digest), () => {
      const k = nonces();
      return { k, x1: x1Of(k) };
    }));
  };
  if (!ecdh) {
    return {
      publicKey,
      native: false,
      signRaw: (message) => sm2SignRaw(privateKeyHex, message, publicKey),
      sign: (message) => rawToDer(sm2SignRaw(privateKeyHex, message, publicKey)),
      signDeterministic,
    };
  }
  const signRaw = (message: Uint8Array): Uint8Array => finish(bytesToBigInt(sm2Digest(publicKey, message)), () => {
    ecdh.generateKeys();
    return { k: bytesToBigInt(ecdh.getPrivateKey()), x1: bytesToBigInt(ecdh.getPublicKey().subarray(1, 33)) };
  });
  return { publicKey, native: true, signRaw, sign: (message) => rawToDer(signRaw(message)), signDeterministic };
}

const bigIntToHex = (n: bigint): string => n.toString(16).padStart(64, '0');

/**
 * The nonces of RFC 6979 §3.2 for the private key `x` and the message digest `h1` (SM2's e, 32 bytes), with HMAC-SM3
 * (hlen = qlen = 256 bits): each call answers the next candidate k ∈ [1, n−1] (step h, continued after a refusal).
 */
export function rfc6979Nonces(x: bigint, h1: Uint8Array): () => bigint {
  const hmac = (key: Buffer, ...parts: Uint8Array[]): Buffer => {
    const h = createHmac('sm3', key);
    for (const p of parts) h.update(p);
    return h.digest();
  };
  const xOctets = bigIntToBytes(x, 32);
  const hOctets = bigIntToBytes(bytesToBigInt(h1) % SM2_N, 32);
  let v: Buffer = Buffer.alloc(32, 0x01);
  let k: Buffer = Buffer.alloc(32, 0x00);
  k = hmac(k, v, Uint8Array.of(0x00), xOctets, hOctets);
  v = hmac(k, v);
  k = hmac(k, v, Uint8Array.of(0x01), xOctets, hOctets);
  v = hmac(k, v);
  let first = true;
  return () => {
    for (;;) {
      if (!first) {
        k = hmac(k, v, Uint8Array.of(0x00));
        v = hmac(k, v);
      }
      first = false;
      v = hmac(k, v);
      const candidate = bytesToBigInt(v);
      if (candidate >= 1n && candidate < SM2_N) return candidate;
    }
  };
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
