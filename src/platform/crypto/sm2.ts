// SM2 digital signatures (GB/T 32918.2-2016) with SM3, as every GM implementation and `openssl pkeyutl -digest sm3
// -pkeyopt distid:1234567812345678` computes them:
//   Z_A = SM3(ENTL_A ‖ ID_A ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A)   (§5.5, ID_A the default user ID below)
//   e   = SM3(Z_A ‖ M)                                          (§6.1 A1–A2)
// The curve arithmetic here is sm-crypto-v2's (pure JS on @noble/curves): verification, key generation, and sm2Sign,
// the plain library signature; the reusable signer of sm2-signer.ts computes k·G with its own base-point table
// (sm2-base-mul.ts). SM3 is node:crypto's (native), and Z_A is cached per public key, so the library's JS SM3 never
// runs on the hot path. Node's own SM2 is not used: with an EC key on
// the SM2 curve it signs plain ECDSA, and with an SM2 key it uses an empty user ID that cannot be set, so neither
// interoperates with standard SM2 implementations.
import { createECDH } from 'node:crypto';
import { sm2 as gm } from 'sm-crypto-v2';
import { sm3, sm3Concat } from './sm3.ts';
import { bigIntToBytes, bytesToBigInt, derToRawOrUndefined, rawToDer } from './sm2-encoding.ts';

export { derToRaw, rawToDer, toBase64url, fromBase64url, sm2PublicKeyToPem, sm2PublicKeyFromSpki, sm2PublicKeyToSpki } from './sm2-encoding.ts';

/** GB/T 32918.2 / GM/T 0009 default signer identity, 16 ASCII bytes (ENTL = 128 bits). */
export const SM2_DEFAULT_USER_ID = '1234567812345678';

// Curve sm2p256v1, GB/T 32918.5-2017 §A.1.
export const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
const CURVE_A = 'fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc';
const CURVE_B = '28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93';
const G_X = '32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7';
const G_Y = 'bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0';

export interface Sm2KeyPair {
  /** 64 hex digits, d ∈ [1, n−2]. */
  privateKey: string;
  /** 130 hex digits, uncompressed point 04 ‖ x ‖ y. */
  publicKey: string;
}

const HEX_PRIVATE = /^[0-9a-f]{64}$/;
const HEX_PUBLIC = /^04[0-9a-f]{128}$/;

export function generateSm2KeyPair(): Sm2KeyPair {
  for (;;) {
    const { privateKey, publicKey } = gm.generateKeyPairHex();
    // noble draws d from [1, n−1]; GB/T 32918.2 §6.1 needs 1 + d invertible, i.e. d ≠ n − 1.
    if (isValidPrivateKey(privateKey)) return { privateKey, publicKey: publicKey.toLowerCase() };
  }
}

export function isValidPrivateKey(privateKeyHex: string): boolean {
  if (!HEX_PRIVATE.test(privateKeyHex)) return false;
  const d = BigInt(`0x${privateKeyHex}`);
  return d >= 1n && d <= SM2_N - 2n;
}

/** True when the hex is an uncompressed point on the SM2 curve (not the point at infinity). */
export function isValidPublicKey(publicKeyHex: string): boolean {
  if (!HEX_PUBLIC.test(publicKeyHex)) return false;
  try {
    return gm.verifyPublicKey(publicKeyHex);
  } catch {
    return false;
  }
}

/** The field prime p of sm2p256v1 (GB/T 32918.5-2017 §A.1). */
const CURVE_P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;

let nativeBaseMul: boolean | undefined;

/**
 * Whether Node's own SM2 curve (OpenSSL's, through createECDH) is sm2p256v1: 1·G must be the generator and (n−1)·G
 * its negation, which pins the generator and its order. Checked once; where Node has no such curve, the library's.
 */
function nativeSm2Curve(): boolean {
  if (nativeBaseMul !== undefined) return nativeBaseMul;
  try {
    const ecdh = createECDH('SM2');
    const times = (d: bigint) => {
      ecdh.setPrivateKey(Buffer.from(d.toString(16).padStart(64, '0'), 'hex'));
      return ecdh.getPublicKey('hex', 'uncompressed');
    };
    const minusGy = (CURVE_P - BigInt(`0x${G_Y}`)).toString(16).padStart(64, '0');
    nativeBaseMul = times(1n) === `04${G_X}${G_Y}` && times(SM2_N - 1n) === `04${G_X}${minusGy}`;
  } catch {
    nativeBaseMul = false;
  }
  return nativeBaseMul;
}

/**
 * P = d·G as 04‖x‖y hex. Through OpenSSL where Node has the curve: the library's first multiplication builds its
 * tables of the base point (≈ 0.1 s, paid by every process and signer thread that opens a key at start-up).
 */
export function sm2PublicKeyFromPrivate(privateKeyHex: string): string {
  assertPrivateKey(privateKeyHex);
  if (nativeSm2Curve()) {
    const ecdh = createECDH('SM2');
    ecdh.setPrivateKey(Buffer.from(privateKeyHex, 'hex'));
    return ecdh.getPublicKey('hex', 'uncompressed');
  }
  return gm.getPublicKeyFromPrivateKey(privateKeyHex).toLowerCase();
}

function assertPrivateKey(privateKeyHex: string): void {
  if (!isValidPrivateKey(privateKeyHex)) throw new TypeError('SM2 private key must be 64 lowercase hex digits in [1, n-2]');
}

// Z_A depends only on the public key (and user ID); a server signs with a handful of keys and verifies against a
// handful more, so a small cache removes one SM3 run per operation.
const zCache = new Map<string, Uint8Array>();
const Z_CACHE_MAX = 256;

/** Z_A for the default user ID (GB/T 32918.2 §5.5). `userId` is UTF-8; ENTL is its length in bits. */
export function sm2Z(publicKeyHex: string, userId: string = SM2_DEFAULT_USER_ID): Uint8Array {
  const cacheKey = userId === SM2_DEFAULT_USER_ID ? publicKeyHex : undefined;
  const hit = cacheKey === undefined ? undefined : zCache.get(cacheKey);
  if (hit) return hit;
  const id = Buffer.from(userId, 'utf8');
  const entl = id.length * 8;
  if (entl > 0xffff) throw new RangeError('SM2 user ID too long');
  const z = sm3(Buffer.concat([Buffer.from([entl >> 8, entl & 0xff]), id, Buffer.from(CURVE_A + CURVE_B + G_X + G_Y, 'hex'), Buffer.from(publicKeyHex.slice(2), 'hex')]));
  if (cacheKey !== undefined) {
    if (zCache.size >= Z_CACHE_MAX) zCache.delete(zCache.keys().next().value!);
    zCache.set(cacheKey, z);
  }
  return z;
}

/** e = SM3(Z_A ‖ M) as 32 bytes: the value an SM2 signature actually signs. */
export function sm2Digest(publicKeyHex: string, message: Uint8Array, userId?: string): Uint8Array {
  return sm3Concat([sm2Z(publicKeyHex, userId), message]);
}

/**
 * Signs the bytes `message` (GB/T 32918.2 §6.1) with the default user ID. Returns the DER SEQUENCE { r, s }.
 * Passing the public key saves deriving it (a scalar multiplication) on every call.
 */
export function sm2Sign(privateKeyHex: string, message: Uint8Array, publicKeyHex?: string): Uint8Array {
  assertPrivateKey(privateKeyHex);
  const pub = publicKeyHex ?? sm2PublicKeyFromPrivate(privateKeyHex);
  const e = sm2Digest(pub, message);
  // hash:false: the library then signs e as given (it hex-encodes the bytes and reads them as an integer), i.e. it
  // performs A3–A7 only; A1–A2 were done above with native SM3 on the real message bytes.
  const rawHex = gm.doSignature(e, privateKeyHex, { hash: false, der: false });
  return rawToDer(new Uint8Array(Buffer.from(rawHex, 'hex')));
}

/** Like sm2Sign, returning the raw 64-byte r‖s. */
export function sm2SignRaw(privateKeyHex: string, message: Uint8Array, publicKeyHex?: string): Uint8Array {
  assertPrivateKey(privateKeyHex);
  const pub = publicKeyHex ?? sm2PublicKeyFromPrivate(privateKeyHex);
  return new Uint8Array(Buffer.from(gm.doSignature(sm2Digest(pub, message), privateKeyHex, { hash: false, der: false }), 'hex'));
}

/**
 * Verifies a DER signature over the bytes `message` (GB/T 32918.2 §7.1). Never throws: a malformed key, a malformed
 * or non-DER signature, r or s outside [1, n−1] (B1–B2), or a wrong signature all give false.
 */
export function sm2Verify(publicKeyHex: string, message: Uint8Array, derSignature: Uint8Array): boolean {
  try {
    const raw = derSignature instanceof Uint8Array ? derToRawOrUndefined(derSignature) : undefined;
    return raw !== undefined && verifyRaw(publicKeyHex, message, raw);
  } catch {
    return false;
  }
}

/** Verifies a raw 64-byte r‖s signature. Never throws. */
export function sm2VerifyRaw(publicKeyHex: string, message: Uint8Array, rawSignature: Uint8Array): boolean {
  try {
    return rawSignature instanceof Uint8Array && rawSignature.length === 64 && verifyRaw(publicKeyHex, message, rawSignature);
  } catch {
    return false;
  }
}

function verifyRaw(publicKeyHex: string, message: Uint8Array, raw: Uint8Array): boolean {
  if (typeof publicKeyHex !== 'string' || !(message instanceof Uint8Array)) return false;
  const pub = publicKeyHex.toLowerCase();
  if (!isValidPublicKey(pub)) return false;
  const r = bytesToBigInt(raw.subarray(0, 32));
  const s = bytesToBigInt(raw.subarray(32));
  if (r < 1n || r >= SM2_N || s < 1n || s >= SM2_N) return false;
  const e = sm2Digest(pub, message);
  const rawHex = Buffer.from(bigIntToBytes(r, 32)).toString('hex') + Buffer.from(bigIntToBytes(s, 32)).toString('hex');
  return gm.doVerifySignature(e, rawHex, publicPoint(pub), { hash: false, der: false });
}

// Verification computes s·G + t·P_A. G has a precomputed window table inside @noble/curves; P_A gets one here, which
// makes a verification ~6× faster (≈150/s → ≈900/s) but costs ~80 ms to build. Verifiers check many invoices under
// few keys, so a key is precomputed on its second use: one-off keys (which anyone can submit to a public verify
// endpoint) never pay, or make us pay, the 80 ms.
type Sm2Point = ReturnType<typeof gm.precomputePublicKey>;
const POINT_CACHE_MAX = 32;
const points = new Map<string, Sm2Point>();
const seen = new Map<string, number>();

function publicPoint(publicKeyHex: string): Sm2Point | string {
  const hit = points.get(publicKeyHex);
  if (hit) return hit;
  const uses = (seen.get(publicKeyHex) ?? 0) + 1;
  if (uses < 2) {
    if (seen.size >= 4096) seen.clear();
    seen.set(publicKeyHex, uses);
    return publicKeyHex;
  }
  seen.delete(publicKeyHex);
  return precomputeSm2PublicKey(publicKeyHex);
}

/** Builds (and caches) the window table for a key that will verify many signatures, e.g. at start-up. */
export function precomputeSm2PublicKey(publicKeyHex: string): Sm2Point {
  const key = publicKeyHex.toLowerCase();
  let point = points.get(key);
  if (!point) {
    point = gm.precomputePublicKey(key);
    if (points.size >= POINT_CACHE_MAX) points.delete(points.keys().next().value!);
    points.set(key, point);
  }
  return point;
}
