import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  EMPTY_ROOT,
  consistencyProof,
  hashLeaf,
  inclusionProof,
  memoryHashReader,
  rootOf,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

// ---------------------------------------------------------------------------------------------------------------
// An independent RFC 9162 implementation, written from the RFC's text (§2.1.1 MTH, §2.1.3.1 PATH, §2.1.3.2
// verification, §2.1.4.1 PROOF/SUBPROOF, §2.1.4.2 verification) with BigInt shifts exactly as the pseudo-code
// reads. It shares nothing with merkle.ts but node:crypto's SHA-256.
// ---------------------------------------------------------------------------------------------------------------
const rfc = (() => {
  const sha = (...parts: Uint8Array[]): Buffer => {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return h.digest();
  };
  const HASH = (a: Uint8Array, b: Uint8Array): Buffer => sha(Buffer.from([1]), a, b);
  const k = (n: number): number => {
    let p = 1;
    while (p * 2 < n) p *= 2;
    return p;
  };
  const eq = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

  /** MTH over entry bytes D[lo:hi], memoised per leaf list. */
  function tree(entries: Uint8Array[]) {
    const memo = new Map<string, Buffer>();
    const MTH = (lo: number, hi: number): Buffer => {
      const key = `${lo}:${hi}`;
      const hit = memo.get(key);
      if (hit) return hit;
      let r: Buffer;
      if (hi - lo === 0) r = sha();
      else if (hi - lo === 1) r = sha(Buffer.from([0]), entries[lo]!);
      else {
        const s = k(hi - lo);
        r = HASH(MTH(lo, lo + s), MTH(lo + s, hi));
      }
      memo.set(key, r);
      return r;
    };
    // PATH(m, D[n]): for n > m, PATH(m, {d(0)}) = {}; k largest power of two < n;
    // m < k: PATH(m, D[0:k]) : MTH(D[k:n]);  m >= k: PATH(m - k, D[k:n]) : MTH(D[0:k]).
    const PATH = (m: number, lo: number, hi: number): Buffer[] => {
      if (hi - lo === 1) return [];
      const s = k(hi - lo);
      return m < s ? [...PATH(m, lo, lo + s), MTH(lo + s, hi)] : [...PATH(m - s, lo + s, hi), MTH(lo, lo + s)];
    };
    // SUBPROOF(m, D[n], b): m = n: {} if b else {MTH(D[n])}; m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]);
    // m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]).
    const SUBPROOF = (m: number, lo: number, hi: number, b: boolean): Buffer[] => {
      const n = hi - lo;
      if (m === n) return b ? [] : [MTH(lo, hi)];
      const s = k(n);
      return m <= s ? [...SUBPROOF(m, lo, lo + s, b), MTH(lo + s, hi)] : [...SUBPROOF(m - s, lo + s, hi, false), MTH(lo, lo + s)];
    };
    return {
      root: (n: number) => MTH(0, n),
      leaf: (i: number) => MTH(i, i + 1),
      path: (m: number, n: number) => PATH(m, 0, n),
      proof: (m: number, n: number) => SUBPROOF(m, 0, n, true),
    };
  }

  const LSB = (x: bigint): boolean => (x & 1n) === 1n;

  function verifyInclusion(hash: Uint8Array, leafIndex: number, treeSize: number, path: Uint8Array[], rootHash: Uint8Array): boolean {
    // 1. leaf_index >= tree_size: fail.
    if (leafIndex >= treeSize) return false;
    // 2.–3.
    let fn = BigInt(leafIndex);
    let sn = BigInt(treeSize - 1);
    let r: Uint8Array = hash;
    // 4.
    for (const p of path) {
      if (sn === 0n) return false;
      if (LSB(fn) || fn === sn) {
        r = HASH(p, r);
        if (!LSB(fn)) {
          while (!(LSB(fn) || fn === 0n)) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        r = HASH(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    // 5.
    return sn === 0n && eq(r, rootHash);
  }

  function verifyConsistency(first: number, second: number, firstHash: Uint8Array, secondHash: Uint8Array, consistencyPath: Uint8Array[]): boolean {
    // The RFC's algorithm is for 0 < first < second.
    if (!(0 < first && first < second)) throw new Error('outside the RFC algorithm');
    // 1.
    if (consistencyPath.length === 0) return false;
    // 2.
    const path = (first & (first - 1)) === 0 ? [firstHash, ...consistencyPath] : [...consistencyPath];
    // 3.
    let fn = BigInt(first - 1);
    let sn = BigInt(second - 1);
    // 4.
    if (LSB(fn)) {
      while (LSB(fn)) {
        fn >>= 1n;
        sn >>= 1n;
      }
    }
    // 5.
    let fr: Uint8Array = path[0]!;
    let sr: Uint8Array = path[0]!;
    // 6.
    for (const c of path.slice(1)) {
      if (sn === 0n) return false;
      if (LSB(fn) || fn === sn) {
        fr = HASH(c, fr);
        sr = HASH(c, sr);
        if (!LSB(fn)) {
          while (!(LSB(fn) || fn === 0n)) {
            fn >>= 1n;
            sn >>= 1n;
          }
        }
      } else {
        sr = HASH(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    // 7.
    return eq(fr, firstHash) && eq(sr, secondHash) && sn === 0n;
  }

  return { tree, verifyInclusion, verifyConsistency };
})();

// A small deterministic generator, so sampled cases are the same on every run.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const flip = (b: Uint8Array, at = 0): Uint8Array => {
  const c = new Uint8Array(b);
  c[at] = c[at]! ^ 1;
  return c;
};

// RFC 6962 test vectors (test/vectors/merkle-rfc6962.json), kept in the repo so the tests are self-contained.
interface Vectors {
  leavesHex: string[];
  roots: string[];
  inclusion: { index: number; size: number; proof: string[] }[];
  consistency: { first: number; second: number; proof: string[] }[];
}
const vectors = JSON.parse(readFileSync(new URL('../../../../test/vectors/merkle-rfc6962.json', import.meta.url), 'utf8')) as Vectors;

describe('RFC 6962 / 9162 reference vectors', () => {
  const entries = vectors.leavesHex.map(fromHex);
  const leaves = entries.map(hashLeaf);
  const reader = memoryHashReader(leaves);

  it('the empty tree is SHA-256 of the empty string', () => {
    assert.equal(hex(EMPTY_ROOT), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('computes every root', async () => {
    assert.equal(vectors.roots.length, entries.length + 1);
    for (let n = 0; n <= entries.length; n++) {
      assert.equal(hex(rootOf(leaves.slice(0, n))), vectors.roots[n], `root of ${n}`);
      assert.equal(hex(await treeRoot(n, reader)), vectors.roots[n], `treeRoot of ${n}`);
    }
  });

  it('generates and verifies the inclusion proofs', async () => {
    for (const v of vectors.inclusion) {
      const proof = await inclusionProof(v.index, v.size, reader);
      assert.deepEqual(proof.map(hex), v.proof);
      assert.ok(verifyInclusion(leaves[v.index]!, v.index, v.size, v.proof.map(fromHex), fromHex(vectors.roots[v.size]!)));
    }
  });

  it('generates and verifies the consistency proofs', async () => {
    for (const v of vectors.consistency) {
      const proof = await consistencyProof(v.first, v.second, reader);
      assert.deepEqual(proof.map(hex), v.proof);
      assert.ok(verifyConsistency(v.first, v.second, fromHex(vectors.roots[v.first]!), fromHex(vectors.roots[v.second]!), v.proof.map(fromHex)));
    }
  });
});

describe('proofs for every tree up to a few hundred leaves', () => {
  const MAX = 400;
  const EXHAUSTIVE = 72;
  const entries = Array.from({ length: MAX }, (_, i) => new Uint8Array(Buffer.from(`entry ${i}`)));
  const leaves = entries.map(hashLeaf);
  const reader = memoryHashReader(leaves);
  const ref = rfc.tree(entries);
  const roots = Array.from({ length: MAX + 1 }, (_, n) => ref.root(n));

  it('roots equal the RFC definition at every size', async () => {
    for (let n = 0; n <= MAX; n++) {
      assert.equal(hex(rootOf(leaves.slice(0, n))), hex(roots[n]!), `size ${n}`);
      assert.equal(hex(await treeRoot(n, reader)), hex(roots[n]!), `size ${n}`);
    }
  });

  async function checkInclusion(i: number, n: number): Promise<void> {
    const proof = await inclusionProof(i, n, reader);
    const where = `leaf ${i} of ${n}`;
    assert.deepEqual(proof.map(hex), ref.path(i, n).map(hex), where);
    assert.ok(verifyInclusion(leaves[i]!, i, n, proof, roots[n]!), where);
    assert.ok(rfc.verifyInclusion(leaves[i]!, i, n, proof, roots[n]!), where);
    // Wrong leaf, wrong index, a changed or missing or extra path element: refused by both verifiers.
    const bad: [Uint8Array, number, number, Uint8Array[], Uint8Array, string][] = [
      [flip(leaves[i]!), i, n, proof, roots[n]!, 'leaf'],
      [hashLeaf(Buffer.from('another entry')), i, n, proof, roots[n]!, 'other leaf'],
      [leaves[i]!, i, n, proof, flip(roots[n]!), 'root'],
      [leaves[i]!, i, n, [...proof, leaves[0]!], roots[n]!, 'longer path'],
      [leaves[i]!, n, n, proof, roots[n]!, 'index = size'],
    ];
    if (i + 1 < n) bad.push([leaves[i]!, i + 1, n, proof, roots[n]!, 'index + 1']);
    if (i > 0) bad.push([leaves[i]!, i - 1, n, proof, roots[n]!, 'index - 1']);
    if (proof.length > 0) bad.push([leaves[i]!, i, n, proof.slice(0, -1), roots[n]!, 'shorter path']);
    proof.forEach((_, j) => bad.push([leaves[i]!, i, n, proof.map((p, k) => (k === j ? flip(p, 31) : p)), roots[n]!, `path[${j}]`]));
    // Another size is checked against that size's root, as a client holding that size's checkpoint would.
    for (const m of [n - 1, n + 1]) if (m > i && m <= MAX) bad.push([leaves[i]!, i, m, proof, roots[m]!, `size ${m}`]);
    for (const [leaf, idx, size, path, root, what] of bad) {
      assert.equal(verifyInclusion(leaf, idx, size, path, root), false, `${where}: wrong ${what}`);
      assert.equal(rfc.verifyInclusion(leaf, idx, size, path, root), false, `${where}: wrong ${what} (RFC)`);
    }
  }

  async function checkConsistency(m: number, n: number): Promise<void> {
    const proof = await consistencyProof(m, n, reader);
    const where = `${m} → ${n}`;
    assert.ok(verifyConsistency(m, n, roots[m]!, roots[n]!, proof), where);
    if (m === n || m === 0) {
      assert.equal(proof.length, 0, where);
      return;
    }
    assert.deepEqual(proof.map(hex), ref.proof(m, n).map(hex), where);
    assert.ok(rfc.verifyConsistency(m, n, roots[m]!, roots[n]!, proof), where);
    const bad: [number, number, Uint8Array, Uint8Array, Uint8Array[], string][] = [
      [m, n, flip(roots[m]!), roots[n]!, proof, 'old root'],
      [m, n, roots[m]!, flip(roots[n]!), proof, 'new root'],
      [m, n, roots[m]!, roots[n]!, [...proof, roots[0]!], 'longer proof'],
      [m, n, roots[m]!, roots[n]!, proof.slice(0, -1), 'shorter proof'],
    ];
    proof.forEach((_, j) => bad.push([m, n, roots[m]!, roots[n]!, proof.map((p, k) => (k === j ? flip(p, 7) : p)), `proof[${j}]`]));
    if (m + 1 < n) bad.push([m + 1, n, roots[m + 1]!, roots[n]!, proof, 'old size + 1']);
    if (m > 1) bad.push([m - 1, n, roots[m - 1]!, roots[n]!, proof, 'old size - 1']);
    if (n + 1 <= MAX) bad.push([m, n + 1, roots[m]!, roots[n + 1]!, proof, 'new size + 1']);
    if (n - 1 > m) bad.push([m, n - 1, roots[m]!, roots[n - 1]!, proof, 'new size - 1']);
    for (const [s1, s2, r1, r2, p, what] of bad) {
      assert.equal(verifyConsistency(s1, s2, r1, r2, p), false, `${where}: wrong ${what}`);
      if (p.length > 0 || s1 > 0) assert.equal(rfc.verifyConsistency(s1, s2, r1, r2, p), false, `${where}: wrong ${what} (RFC)`);
    }
  }

  it(`inclusion: every leaf of every tree up to ${EXHAUSTIVE} leaves`, async () => {
    for (let n = 1; n <= EXHAUSTIVE; n++) for (let i = 0; i < n; i++) await checkInclusion(i, n);
  });

  it(`consistency: every pair of sizes up to ${EXHAUSTIVE}`, async () => {
    for (let n = 0; n <= EXHAUSTIVE; n++) for (let m = 0; m <= n; m++) await checkConsistency(m, n);
  });

  it(`inclusion and consistency sampled up to ${MAX} leaves`, async () => {
    const rnd = prng(9162);
    for (let t = 0; t < 800; t++) {
      const n = EXHAUSTIVE + 1 + Math.floor(rnd() * (MAX - EXHAUSTIVE));
      await checkInclusion(Math.floor(rnd() * n), n);
      await checkConsistency(Math.floor(rnd() * (n + 1)), n);
    }
    // The edges: first and last leaf, powers of two and their neighbours.
    for (const n of [127, 128, 129, 255, 256, 257, 384, MAX]) {
      await checkInclusion(0, n);
      await checkInclusion(n - 1, n);
      for (const m of [1, 2, 63, 64, 65, 127, 128, 129, n - 1, n]) if (m <= n) await checkConsistency(m, n);
    }
  });

  it('refuses proofs for impossible sizes', () => {
    assert.equal(verifyConsistency(5, 4, roots[5]!, roots[4]!, []), false);
    assert.equal(verifyConsistency(0, 4, flip(roots[0]!), roots[4]!, []), false, 'a non-empty tree is not the empty tree');
    assert.equal(verifyConsistency(0, 4, roots[0]!, roots[4]!, [roots[1]!]), false, 'from the empty tree the proof is empty');
    assert.equal(verifyConsistency(4, 4, roots[4]!, roots[4]!, [roots[1]!]), false, 'between equal trees the proof is empty');
    assert.equal(verifyConsistency(4, 4, roots[4]!, roots[3]!, []), false, 'equal sizes, different roots');
    assert.equal(verifyInclusion(leaves[0]!, 0, 0, [], roots[0]!), false);
    assert.equal(verifyInclusion(leaves[0]!, -1, 4, [], roots[4]!), false);
    assert.equal(verifyInclusion(leaves[0]!, 0, 1, [], roots[1]!), true);
    assert.equal(verifyInclusion(leaves[0]!.subarray(0, 31), 0, 1, [], roots[1]!), false, 'a hash is 32 bytes');
  });
});
