// SM2 signing on one core, by variant: signatures (and their parts) per CPU-second of this thread, measured with
// process.cpuUsage() (user + system), so that other load on the machine slows the wall clock more than the figure.
//   node --import tsx bench/sm2-sign.ts [CPU seconds per measure, default 3] [rounds of the whole signatures, default 3]
// Variants of k·G (the one scalar multiplication of GB/T 32918.2 §6.1 A4):
// - openssl: Node's createECDH('SM2').generateKeys() (OpenSSL's generic curve code, a Montgomery ladder);
// - table: the base-point table of src/platform/crypto/sm2-base-mul.ts, one inversion per k, or one per batch of 16;
// - noble: @noble/curves' weierstrassN() with the GB/T 32918.5 parameters and Point.BASE.precompute(8) (wNAF);
// - library: sm-crypto-v2's getPoint (what its doSignature runs: noble plus hex round trips).
// Then the whole signature through createSm2Signer on each path, and the other costs of a signature.
import { createECDH, randomBytes, randomFillSync } from 'node:crypto';
import { loadavg } from 'node:os';
import { weierstrassN } from '@noble/curves/abstract/weierstrass';
import { sm2 as gm } from 'sm-crypto-v2';
import { SM2_N, generateSm2KeyPair, sm2Digest } from '../src/platform/crypto/sm2.ts';
import { createSm2Signer, type Sm2BaseMul } from '../src/platform/crypto/sm2-signer.ts';
import { precomputeSm2Base, sm2BaseX, sm2BaseXBatch } from '../src/platform/crypto/sm2-base-mul.ts';
import { bigIntToBytes, bytesToBigInt, rawToDer } from '../src/platform/crypto/sm2-encoding.ts';

const seconds = Number(process.argv[2] ?? 3);

/** Runs `fn` (which does `per` operations) until `seconds` of this thread's CPU time have passed: operations per CPU-second. */
function perCpuSecond(fn: () => void, per = 1): { rate: number; wallRate: number } {
  for (let i = 0; i < 20; i++) fn();
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  let ops = 0;
  let cpu = 0;
  while (cpu < seconds * 1e6) {
    for (let i = 0; i < 50; i++) fn();
    ops += 50 * per;
    const d = process.cpuUsage(cpu0);
    cpu = d.user + d.system;
  }
  const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
  return { rate: ops / (cpu / 1e6), wallRate: ops / wall };
}

function measure(name: string, fn: () => void, per = 1): number {
  const { rate, wallRate } = perCpuSecond(fn, per);
  console.log(`${name.padEnd(72)} ${Math.round(rate).toString().padStart(8)} /CPU-s  ${Math.round(wallRate).toString().padStart(8)} /s wall`);
  return rate;
}

const fmt = (l: number[]): string => l.map((x) => (Math.round(x * 100) / 100).toString()).join(' ');
console.log(`load average at start: ${fmt(loadavg())}, ${seconds} s of CPU per measure`);

const key = generateSm2KeyPair();
const msg = new Uint8Array(600).fill(7);
const k32 = (): Uint8Array => {
  for (;;) {
    const b = randomBytes(32);
    const k = bytesToBigInt(b);
    if (k >= 1n && k < SM2_N) return b;
  }
};

// k·G alone.
const ecdh = createECDH('SM2');
measure('k·G openssl: generateKeys + getPrivateKey + getPublicKey', () => {
  ecdh.generateKeys();
  bytesToBigInt(ecdh.getPrivateKey());
  bytesToBigInt(ecdh.getPublicKey().subarray(1, 33));
});
precomputeSm2Base();
const kb = new Uint8Array(32);
measure('k·G table, one inversion per k (randomFillSync + sm2BaseX)', () => {
  randomFillSync(kb);
  kb[0] = kb[0]! & 0x7f;
  sm2BaseX(kb);
});
const batch = Buffer.concat(Array.from({ length: 16 }, k32));
measure('k·G table, one inversion per 16 k (sm2BaseXBatch)', () => {
  sm2BaseXBatch(batch, 16);
}, 16);
const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const NoblePoint = weierstrassN({
  p: P,
  n: SM2_N,
  h: 1n,
  a: P - 3n,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  Gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  Gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
});
NoblePoint.BASE.precompute(8, false);
measure('k·G noble: Point.BASE.multiply(k).toAffine() (precompute(8), wNAF)', () => {
  NoblePoint.BASE.multiply(bytesToBigInt(k32())).toAffine();
});
measure('k·G sm-crypto-v2: getPoint()', () => {
  gm.getPoint();
});

// Whole signatures (DER), 600-byte message, as the issue path signs.
const paths: Sm2BaseMul[] = ['openssl', 'table', 'library'];
const signers = Object.fromEntries(paths.map((p) => [p, createSm2Signer(key.privateKey, key.publicKey, { baseMul: p })]));
// The paths take turns, round after round, so that a change in the machine's load falls on all of them; the median
// of the rounds is reported, with the table path's ratio to the OpenSSL path.
const rounds = Number(process.argv[3] ?? 3);
const wholes: [string, () => void][] = [
  ...paths.map((p): [string, () => void] => [`sign, ${p}`, () => void signers[p]!.sign(msg)]),
  ...(['openssl', 'table'] as const).map((p): [string, () => void] => [`signDeterministic (RFC 6979, HMAC-SM3), ${p}`, () => void signers[p]!.signDeterministic(msg)]),
];
const byName = new Map<string, number[]>();
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of wholes) byName.set(name, [...(byName.get(name) ?? []), measure(`${name} (round ${r + 1})`, fn)]);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const [name] of wholes) console.log(`median ${name.padEnd(65)} ${Math.round(median(byName.get(name)!)).toString().padStart(8)} /CPU-s`);
const ratio = (a: string, b: string): string => (Math.round((median(byName.get(a)!) / median(byName.get(b)!)) * 100) / 100).toString();
console.log(`table / openssl: sign ${ratio('sign, table', 'sign, openssl')}×, signDeterministic ${ratio('signDeterministic (RFC 6979, HMAC-SM3), table', 'signDeterministic (RFC 6979, HMAC-SM3), openssl')}×`);

// The rest of a signature.
measure('SM3(Z‖M), 600-byte message (Z cached)', () => sm2Digest(key.publicKey, msg));
const e = bytesToBigInt(sm2Digest(key.publicKey, msg));
const d = BigInt(`0x${key.privateKey}`);
const k = bytesToBigInt(k32());
const x1 = sm2BaseX(bigIntToBytes(k, 32));
/** (1 + d)⁻¹ mod n by Euclid, as createSm2Signer computes it once per key. */
const inverse1d = (): bigint => {
  let [a, b, x, y] = [(1n + d) % SM2_N, SM2_N, 1n, 0n];
  while (b !== 0n) {
    const q = a / b;
    [a, b, x, y] = [b, a - q * b, y, x - q * y];
  }
  return ((x % SM2_N) + SM2_N) % SM2_N;
};
const inv1d = inverse1d();
measure('r, s from e, k, x1 (BigInt, (1 + d)⁻¹ precomputed)', () => {
  const r = (e + x1) % SM2_N;
  const t = (k - r * d) % SM2_N;
  void ((inv1d * (t < 0n ? t + SM2_N : t)) % SM2_N);
});
measure('(1 + d)⁻¹ mod n (Euclid; once per key, not per signature)', () => void inverse1d());
const raw = new Uint8Array(64);
measure('r, s → 64 bytes (2 × bigIntToBytes) → DER', () => {
  raw.set(bigIntToBytes(e, 32), 0);
  raw.set(bigIntToBytes(x1, 32), 32);
  rawToDer(raw);
});
measure('32 bytes → BigInt (bytesToBigInt, hex)', () => bytesToBigInt(kb));
measure('32 CSPRNG bytes (randomFillSync)', () => randomFillSync(kb));

console.log(`load average at end: ${fmt(loadavg())}`);
