// k·G on sm2p256v1 (GB/T 32918.5-2017 §A.1) with a precomputed table of the base point: the one scalar multiplication
// an SM2 signature needs (GB/T 32918.2 §6.1 A4).
//
// The table holds, for each window i of w = 8 bits, the odd multiples m·2^(8i)·G, m = 1, 3, …, 255, in affine
// coordinates (33 windows × 128 points, about 0.6 MB, built once per thread on first use in tens of milliseconds).
// k is made odd first (k·G and (n − k)·G share x; for the full point y is negated back) and recoded into 33 signed
// odd digits d_i ∈ [−255, 255] with k = Σ d_i·2^(8i) (Joye–Tunstall regular recoding): no digit is ever zero, so k costs
// exactly 33 table reads, 32 mixed Jacobian–affine additions (7M + 4S each, a = −3) and one inversion, with no
// doubling at all. OpenSSL's generic SM2 curve, which Node's createECDH('SM2') uses, runs a Montgomery ladder with
// ~256 steps instead, and @noble/curves' wNAF with its 8-bit base table uses complete projective formulas (12M + 3S
// plus multiplications by a and 3b) and double the additions for its constant-time fake point.
//
// The mixed addition is incomplete: it cannot add a point to itself, to its opposite, or to the point at infinity.
// Before window j the accumulator is s·G with |s| < 2^(8j), and it adds d·2^(8j)·G with 2^(8j) ≤ |d·2^(8j)|, so up to
// window 30 (both below n/2) the two are never equal or opposite. In the last two windows they can be, for at most a
// few thousand scalars out of n (k = 2^256 − n is one: its partial sum reaches the infinity, −2^256·G + 2^256·G, before
// the top digit adds 2^256·G); those take the branches of `addMixed` (doubling, infinity), which a random k takes with
// probability below 2^−240. The tests run such scalars.
//
// Side channels, honestly: the sequence of field operations is the same for every k but those few (no zero digits, no
// skipped additions, the parity fix done by a masked select), and the inversion is blinded by a random factor, so its
// variable-time Euclid sees a value independent of k. But JavaScript BigInt arithmetic is not constant-time (its
// conditional subtractions and division steps depend on the values), and the table index is the secret digit, which
// a process sharing the CPU cache could observe. OpenSSL's ladder is constant-time; the rest of an SM2 signature in
// BigInt (s = (1 + d)⁻¹·(k − r·d)) was never constant-time on either path.
import { randomFillSync } from 'node:crypto';
import { SM2_N } from './sm2.ts';
import { bigIntToBytes, bytesToBigInt } from './sm2-encoding.ts';

const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

/** Window width in bits. */
const W = 8;
/** Odd multiples per window: 1, 3, …, 2^W − 1. */
const HALF = 1 << (W - 1);
/** Signed digits of a 256-bit scalar: ⌈256 / W⌉ windows and the top carry. */
const WINDOWS = Math.ceil(256 / W) + 1;

const mul = (a: bigint, b: bigint): bigint => (a * b) % P;
const sqr = (a: bigint): bigint => (a * a) % P;
const add = (a: bigint, b: bigint): bigint => {
  const t = a + b;
  return t >= P ? t - P : t;
};
const sub = (a: bigint, b: bigint): bigint => {
  const t = a - b;
  return t < 0n ? t + P : t;
};

/** a⁻¹ mod P, a ≠ 0 (extended Euclid; variable-time, so callers blind a). */
function invert(a: bigint): bigint {
  let r0 = P;
  let r1 = a;
  let t0 = 0n;
  let t1 = 1n;
  while (r1 !== 0n) {
    const q = r0 / r1;
    const r2 = r0 - q * r1;
    r0 = r1;
    r1 = r2;
    const t2 = t0 - q * t1;
    t0 = t1;
    t1 = t2;
  }
  if (r0 !== 1n) throw new RangeError('not invertible');
  return t0 < 0n ? t0 + P : t0;
}

interface Jacobian {
  X: bigint;
  Y: bigint;
  Z: bigint;
}

/** 2·(X, Y, Z) for a = −3 (dbl-2001-b). */
function double({ X, Y, Z }: Jacobian): Jacobian {
  const delta = sqr(Z);
  const gamma = sqr(Y);
  const beta = mul(X, gamma);
  const t = mul(sub(X, delta), add(X, delta));
  const alpha = add(add(t, t), t);
  const beta4 = add(add(beta, beta), add(beta, beta));
  const X3 = sub(sqr(alpha), add(beta4, beta4));
  const Z3 = sub(sub(sqr(add(Y, Z)), gamma), delta);
  const g2 = sqr(gamma);
  const g8 = add(add(add(g2, g2), add(g2, g2)), add(add(g2, g2), add(g2, g2)));
  return { X: X3, Y: sub(mul(alpha, sub(beta4, X3)), g8), Z: Z3 };
}

/** (X1, Y1, Z1) + (x2, y2, 1) (madd-2007-bl), or undefined for the point at infinity (see above for when). */
function addMixed(X1: bigint, Y1: bigint, Z1: bigint, x2: bigint, y2: bigint): Jacobian | undefined {
  const z1z1 = sqr(Z1);
  const h = sub(mul(x2, z1z1), X1);
  const s = sub(mul(y2, mul(Z1, z1z1)), Y1);
  if (h === 0n) return s === 0n ? double({ X: x2, Y: y2, Z: 1n }) : undefined;
  const hh = sqr(h);
  const i = add(add(hh, hh), add(hh, hh));
  const j = mul(h, i);
  const r = add(s, s);
  const v = mul(X1, i);
  const X3 = sub(sub(sqr(r), j), add(v, v));
  const Y3 = sub(mul(r, sub(v, X3)), mul(add(Y1, Y1), j));
  return { X: X3, Y: Y3, Z: mul(add(Z1, Z1), h) };
}

/** Affine x and y of Jacobian points with one inversion for all (Montgomery's trick): for the table, not secret. */
function toAffine(points: readonly Jacobian[]): { x: bigint; y: bigint }[] {
  const prefix = new Array<bigint>(points.length);
  let acc = 1n;
  for (let i = 0; i < points.length; i++) {
    prefix[i] = acc;
    acc = mul(acc, points[i]!.Z);
  }
  // inv = (Z_0⋯Z_i)⁻¹ at step i; times Z_0⋯Z_(i−1) it is Z_i⁻¹, times Z_i it becomes the next step's.
  let inv = invert(acc);
  const out = new Array<{ x: bigint; y: bigint }>(points.length);
  for (let i = points.length - 1; i >= 0; i--) {
    const p = points[i]!;
    const zi = mul(inv, prefix[i]!);
    inv = mul(inv, p.Z);
    const zi2 = sqr(zi);
    out[i] = { x: mul(p.X, zi2), y: mul(p.Y, mul(zi2, zi)) };
  }
  return out;
}

/** TX[i·HALF + (m − 1)/2], TY, TNY (= P − y): m·2^(W·i)·G for odd m < 2^W. */
let TX: bigint[] = [];
let TY: bigint[] = [];
let TNY: bigint[] = [];

function buildTable(): void {
  const tx: bigint[] = [];
  const ty: bigint[] = [];
  const tny: bigint[] = [];
  let base = { x: GX, y: GY };
  for (let w = 0; w < WINDOWS; w++) {
    const [d] = toAffine([double({ X: base.x, Y: base.y, Z: 1n })]);
    const odd: Jacobian[] = [{ X: base.x, Y: base.y, Z: 1n }];
    for (let m = 1; m < HALF; m++) {
      const prev = odd[m - 1]!;
      // (2m − 1)·B + 2·B for odd multiples of B far below n: never exceptional.
      odd.push(addMixed(prev.X, prev.Y, prev.Z, d!.x, d!.y)!);
    }
    for (const p of toAffine(odd)) {
      tx.push(p.x);
      ty.push(p.y);
      tny.push(p.y === 0n ? 0n : P - p.y);
    }
    let next: Jacobian = { X: base.x, Y: base.y, Z: 1n };
    for (let b = 0; b < W; b++) next = double(next);
    [base] = toAffine([next]) as [{ x: bigint; y: bigint }];
  }
  TX = tx;
  TY = ty;
  TNY = tny;
}

/** Builds the base-point table now rather than on the first multiplication (tens of milliseconds, once per thread). */
export function precomputeSm2Base(): void {
  if (TX.length === 0) buildTable();
}

const N_BYTES = bigIntToBytes(SM2_N, 32);
const oddK = new Uint8Array(32);
const digits = new Int16Array(WINDOWS);
const blindBytes = new Uint8Array(32);

/**
 * k (32 big-endian bytes, 1 ≤ k ≤ n − 1) made odd, into `oddK`: k itself or n − k, chosen by a mask rather than a
 * branch. Returns 1 when it is n − k (whose multiple is −k·G).
 */
function makeOdd(k: Uint8Array): number {
  const odd = k[31]! & 1;
  const keep = -odd & 0xff;
  let borrow = 0;
  for (let i = 31; i >= 0; i--) {
    const t = N_BYTES[i]! - k[i]! - borrow;
    borrow = (t >> 31) & 1;
    oddK[i] = (k[i]! & keep) | (t & 0xff & ~keep);
  }
  return odd ^ 1;
}

/** Bits [pos, pos + len) of the 256-bit big-endian `bytes`, least significant first (len ≤ 16). */
function bitsAt(bytes: Uint8Array, pos: number, len: number): number {
  let v = 0;
  for (let b = (pos + len - 1) >> 3; b >= pos >> 3; b--) v = v * 256 + (b < 32 ? bytes[31 - b]! : 0);
  return Math.floor(v / 2 ** (pos & 7)) & ((1 << len) - 1);
}

/** Regular signed recoding of the odd `oddK`: digits[i] odd in [−(2^W − 1), 2^W − 1], Σ digits[i]·2^(W·i) = k. */
function recode(): void {
  let carry = 0;
  for (let i = 0; i < WINDOWS - 1; i++) {
    const wide = (bitsAt(oddK, i * W, W + 1) + carry) & ((1 << (W + 1)) - 1);
    const d = wide - (1 << W);
    digits[i] = d;
    carry = (bitsAt(oddK, i * W, W) + carry - d) >> W;
  }
  digits[WINDOWS - 1] = carry;
}

/** The Jacobian k·G or −k·G (`negated`), for 32 big-endian bytes 1 ≤ k ≤ n − 1. */
function multiplyJacobian(k: Uint8Array): { p: Jacobian; negated: number } {
  if (TX.length === 0) buildTable();
  const negated = makeOdd(k);
  recode();
  let X = 0n;
  let Y = 0n;
  let Z = 1n;
  let infinity = true;
  for (let i = 0; i < WINDOWS; i++) {
    const d = digits[i]!;
    const sign = d >> 31;
    const at = i * HALF + (((d ^ sign) - sign - 1) >> 1);
    const x = TX[at]!;
    const y = sign ? TNY[at]! : TY[at]!;
    if (infinity) {
      X = x;
      Y = y;
      Z = 1n;
      infinity = false;
    } else {
      const q = addMixed(X, Y, Z, x, y);
      if (q) {
        X = q.X;
        Y = q.Y;
        Z = q.Z;
      } else {
        infinity = true;
      }
    }
  }
  // The sum is k·G for k ∈ [1, n − 1], never the infinity.
  if (infinity) throw new Error('SM2 base multiplication reached the point at infinity');
  return { p: { X, Y, Z }, negated };
}

/** A random non-zero field element, to blind an inversion. */
function randomBlind(): bigint {
  for (;;) {
    randomFillSync(blindBytes);
    const b = bytesToBigInt(blindBytes) % P;
    if (b !== 0n) return b;
  }
}

/** Z⁻¹ through a blinded inversion: Euclid sees Z·b for a fresh random b, never Z itself. */
function blindedInverse(Z: bigint): bigint {
  const blind = randomBlind();
  return mul(invert(mul(Z, blind)), blind);
}

function checkScalar(k: Uint8Array): void {
  if (k.length !== 32) throw new TypeError('scalar must be 32 bytes');
  const v = bytesToBigInt(k);
  if (v < 1n || v >= SM2_N) throw new RangeError('scalar must be in [1, n-1]');
}

/** x of k·G, for k as 32 big-endian bytes in [1, n − 1]: what an SM2 signature needs (x1). */
export function sm2BaseX(k: Uint8Array): bigint {
  checkScalar(k);
  const { p } = multiplyJacobian(k);
  return mul(p.X, sqr(blindedInverse(p.Z)));
}

/** k·G in affine coordinates, for 1 ≤ k ≤ n − 1. */
export function sm2BaseMultiply(k: bigint): { x: bigint; y: bigint } {
  const bytes = bigIntToBytes(k, 32);
  checkScalar(bytes);
  const { p, negated } = multiplyJacobian(bytes);
  const zi = blindedInverse(p.Z);
  const zi2 = sqr(zi);
  const y = mul(p.Y, mul(zi2, zi));
  return { x: mul(p.X, zi2), y: negated ? P - y : y };
}

/**
 * x of k·G for `count` scalars packed as 32-byte big-endian values in `ks` (each in [1, n − 1]), with one blinded
 * inversion for all of them (Montgomery's trick): a signer drawing its nonces ahead saves an inversion per signature.
 */
export function sm2BaseXBatch(ks: Uint8Array, count: number): bigint[] {
  if (ks.length !== count * 32) throw new TypeError('scalars must be 32 bytes each');
  const points: Jacobian[] = [];
  for (let i = 0; i < count; i++) {
    const k = ks.subarray(i * 32, i * 32 + 32);
    checkScalar(k);
    points.push(multiplyJacobian(k).p);
  }
  const blind = randomBlind();
  const prefix = new Array<bigint>(count);
  let acc = blind;
  for (let i = 0; i < count; i++) {
    prefix[i] = acc;
    acc = mul(acc, points[i]!.Z);
  }
  // Euclid sees blind·ΠZ; prefix[i] carries the blind too, so inv·prefix[i] is Z_i⁻¹ exactly.
  let inv = invert(acc);
  const xs = new Array<bigint>(count);
  for (let i = count - 1; i >= 0; i--) {
    const p = points[i]!;
    const zi = mul(inv, prefix[i]!);
    inv = mul(inv, p.Z);
    xs[i] = mul(p.X, sqr(zi));
  }
  return xs;
}
