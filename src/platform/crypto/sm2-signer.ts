// A reusable SM2 signer for one key.
//
// GB/T 32918.2 §6.1 A3–A6: pick k ∈ [1, n−1], (x1, y1) = k·G, r = (e + x1) mod n (retry if r = 0 or r + k = n),
// s = (1 + d)⁻¹ · (k − r·d) mod n (retry if s = 0). Only k·G needs elliptic-curve arithmetic; the rest is a few BigInt
// operations mod n, with (1 + d)⁻¹ computed once per key. k·G is computed one of three ways (`baseMul`):
// - 'openssl' (the default): Node's crypto.createECDH('SM2').generateKeys(), which draws k from OpenSSL's CSPRNG and
//   returns k and k·G in constant time (OpenSSL's ladder; its SM2 *curve* only, never its SM2 *signature*, which has
//   the wrong user ID);
// - 'table' (`signing.sm2BaseMul: table`, opt-in): the base-point table of sm2-base-mul.ts, ≈ 2.4× faster but not
//   constant-time — it indexes the table by the secret nonce's digits, which a process sharing the CPU's caches
//   could observe, and one nonce gives away the key; for hosts where nothing untrusted shares the CPU. Pure JS (built by the first signature of a
//   thread, so a thread that only holds a signer, like the pool's key check on the main thread, never builds it), with
//   k drawn from node:crypto's CSPRNG (randomFillSync) a batch at a time, so that one inversion serves the whole
//   batch; each k is used once and dropped;
// - 'library': sm-crypto-v2's doSignature (pure JS on @noble/curves), the independent implementation the tests
//   compare against.
// Each gives a standard signature; the interop tests run against all three. bench/sm2-sign.ts measures them.
//
// `signDeterministic` takes k from the key and the message instead (RFC 6979 §3.2, HMAC_DRBG with HMAC-SM3 over the
// private key and e, with the §3.2 step h loop for every retry SM2 asks for), so the same key signs the same message
// with the same bytes: the OFD's package signature (GB/T 38540) is then a function of the stored invoice like the rest
// of the document, whichever node renders it, and an e-mail attachment equals the download. Verifiers cannot tell
// the difference: a signature with k so derived is an ordinary SM2 signature (RFC 6979 §3.6: k is still unknowable
// without the key, and never repeats for two different messages).
import { createECDH, createHmac, randomFillSync, type ECDH } from 'node:crypto';
import { sm2 as gm } from 'sm-crypto-v2';
import { SM2_N, sm2Digest, sm2PublicKeyFromPrivate, sm2SignRaw, isValidPrivateKey } from './sm2.ts';
import { bytesToBigInt, bigIntToBytes, rawToDer } from './sm2-encoding.ts';
import { sm2BaseX, sm2BaseXBatch } from './sm2-base-mul.ts';

export type Sm2BaseMul = 'table' | 'openssl' | 'library';

export interface Sm2Signer {
  /** 04‖x‖y hex of the signing key. */
  readonly publicKey: string;
  /** True when k·G is computed natively by OpenSSL. */
  readonly native: boolean;
  /** How k·G is computed (see the top of this file). */
  readonly baseMul: Sm2BaseMul;
  /** DER SEQUENCE { r, s } over the message bytes, default user ID. */
  sign(message: Uint8Array): Uint8Array;
  /** Raw 64-byte r‖s. */
  signRaw(message: Uint8Array): Uint8Array;
  /** DER SEQUENCE { r, s } with k derived from the key and the message (RFC 6979 with HMAC-SM3): the same bytes each time. */
  signDeterministic(message: Uint8Array): Uint8Array;
}

export interface Sm2SignerOptions {
  /** How k·G is computed (default 'openssl', constant-time; 'openssl' falls back to 'table' when Node has no SM2 curve). */
  baseMul?: Sm2BaseMul;
  /** true is baseMul 'openssl', false is baseMul 'library' (the pure-JS library path); baseMul wins when both are given. */
  native?: boolean;
}

/** Nonces drawn ahead per signer on the table path: one inversion per batch. */
const NONCE_BATCH = 16;

export function createSm2Signer(privateKeyHex: string, publicKeyHex?: string, options: Sm2SignerOptions = {}): Sm2Signer {
  if (!isValidPrivateKey(privateKeyHex)) throw new TypeError('SM2 private key must be 64 lowercase hex digits in [1, n-2]');
  const derived = sm2PublicKeyFromPrivate(privateKeyHex);
  // A mismatched public key would silently produce signatures nobody can verify (Z_A would be wrong).
  if (publicKeyHex !== undefined && publicKeyHex.toLowerCase() !== derived) throw new TypeError('SM2 public key does not match the private key');
  const publicKey = derived;
  const wanted: Sm2BaseMul = options.baseMul ?? (options.native === undefined ? 'openssl' : options.native ? 'openssl' : 'library');
  const ecdh = wanted === 'openssl' ? nativeEcdh(privateKeyHex, publicKey) : undefined;
  const baseMul: Sm2BaseMul = wanted === 'openssl' && !ecdh ? 'table' : wanted;
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
  // x1 of a given k·G: with the table, natively (Node's SM2 curve) or with sm-crypto-v2's scalar multiplication.
  const x1Of = baseMul === 'table'
    ? (k: bigint) => sm2BaseX(bigIntToBytes(k, 32))
    : ecdh
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
  const done = (signRaw: (message: Uint8Array) => Uint8Array): Sm2Signer => ({
    publicKey, native: baseMul === 'openssl', baseMul, signRaw, sign: (message) => rawToDer(signRaw(message)), signDeterministic,
  });
  if (baseMul === 'library') return done((message) => sm2SignRaw(privateKeyHex, message, publicKey));
  if (ecdh) {
    return done((message) => finish(bytesToBigInt(sm2Digest(publicKey, message)), () => {
      ecdh.generateKeys();
      return { k: bytesToBigInt(ecdh.getPrivateKey()), x1: bytesToBigInt(ecdh.getPublicKey().subarray(1, 33)) };
    }));
  }
  const nonces = tableNonces();
  return done((message) => finish(bytesToBigInt(sm2Digest(publicKey, message)), nonces));
}

/**
 * Random nonces for the table path: k uniform in [1, n − 1] (32 CSPRNG bytes, redrawn when out of range) with x1 of
 * k·G, drawn NONCE_BATCH at a time. Each is handed out once and forgotten; the random bytes are wiped after use.
 */
function tableNonces(): () => { k: bigint; x1: bigint } {
  const queue: { k: bigint; x1: bigint }[] = [];
  const draw = new Uint8Array(32 * NONCE_BATCH);
  const accepted = new Uint8Array(32 * NONCE_BATCH);
  const refill = (): void => {
    randomFillSync(draw);
    const ks: bigint[] = [];
    for (let i = 0; i < NONCE_BATCH; i++) {
      const bytes = draw.subarray(i * 32, i * 32 + 32);
      const k = bytesToBigInt(bytes);
      if (k < 1n || k >= SM2_N) continue;
      accepted.set(bytes, ks.length * 32);
      ks.push(k);
    }
    const xs = sm2BaseXBatch(accepted.subarray(0, ks.length * 32), ks.length);
    draw.fill(0);
    accepted.fill(0);
    for (let i = 0; i < ks.length; i++) queue.push({ k: ks[i]!, x1: xs[i]! });
  };
  return () => {
    while (queue.length === 0) refill();
    return queue.pop()!;
  };
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
