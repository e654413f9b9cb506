// The Merkle tree of the ledger, exactly as RFC 9162 §2.1 defines it with SHA-256 (the hash every C2SP tlog
// specification fixes, https://c2sp.org/tlog-tiles "Merkle Tree"):
//   MTH({})       = SHA-256()                       the empty tree
//   MTH({d0})     = SHA-256(0x00 ‖ d0)              a leaf
//   MTH(D[n])     = SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])), k the largest power of two smaller than n
// Proofs are generated as lists of the perfect subtrees they are made of (so a store of tiles can answer them with
// a few reads) and verified with the iterative algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2.
//
// Sizes and indices are JavaScript numbers, safe integers up to 2^53 − 1; the arithmetic below divides and takes
// remainders instead of using the 32-bit bitwise operators, so it stays exact for any such size.
import * as crypto from 'node:crypto';

export const HASH_SIZE = 32;

// crypto.hash, the one-shot digest (Node ≥ 20.12), costs about half of a createHash object per call, and a log
// hashes a lot of short inputs; older Node 20 releases fall back to createHash.
const sha256: (data: Uint8Array) => Uint8Array =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();

/** The root of the empty tree, SHA-256 of the empty string (RFC 9162 §2.1.1). */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ entry). */
export function hashLeaf(entry: Uint8Array): Uint8Array {
  return sha256(Buffer.concat([LEAF_PREFIX, entry]));
}

/** RFC 9162 §2.1.1 interior node: SHA-256(0x01 ‖ left ‖ right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(Buffer.concat([NODE_PREFIX, left, right]));
}

const pairScratch = Buffer.alloc(1 + 2 * HASH_SIZE);
pairScratch[0] = 0x01;

/**
 * hashChildren of two adjacent hashes given as one 64-byte run (left ‖ right), without allocating the concatenation:
 * rows of a tile are built from consecutive pairs of the row below.
 */
export function hashPair(pair: Uint8Array): Uint8Array {
  if (pair.length !== 2 * HASH_SIZE) throw new RangeError('a pair is two 32-byte hashes');
  pairScratch.set(pair, 1);
  return sha256(pairScratch);
}

export function equalHashes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/**
 * A perfect subtree of the log: the tree hash of the 2^level leaves starting at index · 2^level, i.e.
 * MTH(D[index·2^level : (index+1)·2^level]). Level 0 nodes are the leaf hashes.
 */
export interface NodeId {
  level: number;
  index: number;
}

/** Anything that can give the hashes of perfect subtrees: a list of leaf hashes, a store of tiles. */
export interface HashReader {
  /** The hashes of `nodes`, in the same order. Every node lies inside the tree the caller asks about. */
  readNodes(nodes: readonly NodeId[]): Promise<Uint8Array[]>;
}

export function assertTreeSize(size: number, what = 'tree size'): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`${what} must be a non-negative safe integer`);
}

/** The largest power of two smaller than n (n ≥ 2): where RFC 9162 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  if (!(n >= 2)) throw new RangeError('a tree of fewer than two leaves has no split');
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  if (n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

function log2Exact(n: number): number {
  let level = 0;
  while (n > 1) {
    n /= 2;
    level++;
  }
  return level;
}

/**
 * The perfect subtrees, left to right, that make up MTH(D[lo:hi]) for a range the RFC 9162 recursion produces
 * (lo a multiple of the largest power of two not above hi − lo). The range's hash is their right fold, foldNodes.
 */
export function rangeNodes(lo: number, hi: number): NodeId[] {
  const out: NodeId[] = [];
  while (lo < hi) {
    const n = hi - lo;
    if (isPowerOfTwo(n)) {
      if (lo % n !== 0) throw new RangeError(`range [${lo}, ${hi}) is not a subtree of the log`);
      out.push({ level: log2Exact(n), index: lo / n });
      break;
    }
    const k = splitPoint(n);
    if (lo % k !== 0) throw new RangeError(`range [${lo}, ${hi}) is not a subtree of the log`);
    out.push({ level: log2Exact(k), index: lo / k });
    lo += k;
  }
  return out;
}

/** MTH of a range from the hashes of its rangeNodes: H(n0, H(n1, … H(n_{j−1}, n_j))). */
export function foldNodes(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return EMPTY_ROOT;
  let h = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) h = hashChildren(hashes[i]!, h);
  return h;
}

/** MTH(D[n]) of a list of leaf hashes, computed bottom-up in O(n). */
export function rootOf(leafHashes: readonly Uint8Array[]): Uint8Array {
  if (leafHashes.length === 0) return EMPTY_ROOT;
  // Collapse perfect subtrees as they complete (a compact range), then fold the remaining stack right to left.
  const stack: { level: number; hash: Uint8Array }[] = [];
  for (const leaf of leafHashes) {
    let node = { level: 0, hash: leaf };
    while (stack.length > 0 && stack[stack.length - 1]!.level === node.level) {
      const left = stack.pop()!;
      node = { level: node.level + 1, hash: hashChildren(left.hash, node.hash) };
    }
    stack.push(node);
  }
  return foldNodes(stack.map((s) => s.hash));
}

/**
 * RFC 9162 §2.1.3.1 PATH(m, D[n]) as the ranges its elements hash, deepest first. Each element is the list of
 * perfect subtrees of one range (one node when the sibling is perfect, several along the right edge).
 */
export function inclusionProofNodes(index: number, size: number): NodeId[][] {
  assertTreeSize(size);
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError('leaf index must be below the tree size');
  const path: NodeId[][] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      path.push(rangeNodes(lo + k, hi));
      hi = lo + k;
    } else {
      path.push(rangeNodes(lo, lo + k));
      lo += k;
    }
  }
  return path.reverse();
}

/**
 * RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true) as the ranges its elements hash, in proof order.
 * Empty when m = 0 or m = n (the empty tree and an identical tree need no proof).
 */
export function consistencyProofNodes(m: number, n: number): NodeId[][] {
  assertTreeSize(m, 'old size');
  assertTreeSize(n, 'new size');
  if (m > n) throw new RangeError('the old size must not exceed the new size');
  if (m === 0 || m === n) return [];
  const reversed: NodeId[][] = [];
  let lo = 0;
  let hi = n;
  let b = true;
  let mm = m;
  for (;;) {
    const size = hi - lo;
    if (mm === size) {
      if (!b) reversed.push(rangeNodes(lo, hi));
      break;
    }
    const k = splitPoint(size);
    if (mm <= k) {
      reversed.push(rangeNodes(lo + k, hi));
      hi = lo + k;
    } else {
      reversed.push(rangeNodes(lo, lo + k));
      lo += k;
      mm -= k;
      b = false;
    }
  }
  return reversed.reverse();
}

async function resolve(groups: NodeId[][], reader: HashReader): Promise<Uint8Array[]> {
  const flat = groups.flat();
  const hashes = await reader.readNodes(flat);
  if (hashes.length !== flat.length) throw new Error('hash reader returned the wrong number of hashes');
  let at = 0;
  return groups.map((g) => {
    const part = hashes.slice(at, at + g.length);
    at += g.length;
    return foldNodes(part);
  });
}

/** The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1). */
export async function inclusionProof(index: number, size: number, reader: HashReader): Promise<Uint8Array[]> {
  return resolve(inclusionProofNodes(index, size), reader);
}

/** The consistency proof from the tree of `m` leaves to the tree of `n` leaves (RFC 9162 §2.1.4.1). */
export async function consistencyProof(m: number, n: number, reader: HashReader): Promise<Uint8Array[]> {
  return resolve(consistencyProofNodes(m, n), reader);
}

/** MTH(D[size]) from perfect-subtree hashes. */
export async function treeRoot(size: number, reader: HashReader): Promise<Uint8Array> {
  assertTreeSize(size);
  if (size === 0) return EMPTY_ROOT;
  const [root] = await resolve([rangeNodes(0, size)], reader);
  return root!;
}

function allHashes(proof: readonly Uint8Array[]): boolean {
  return proof.every((p) => p instanceof Uint8Array && p.length === HASH_SIZE);
}

/**
 * RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or undefined when the proof has the wrong shape for
 * (index, size). Compare the result with a trusted root (verifyInclusion does).
 */
export function rootFromInclusionProof(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Uint8Array | undefined {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return undefined;
  if (leafHash.length !== HASH_SIZE || !allHashes(proof)) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

/** True when `proof` shows the leaf hash at `index` in the tree of `size` leaves whose root is `root`. */
export function verifyInclusion(leafHash: Uint8Array, index: number, size: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  const r = rootFromInclusionProof(leafHash, index, size, proof);
  return r !== undefined && equalHashes(r, root);
}

/**
 * True when `proof` shows the tree of size1 leaves (root1) to be a prefix of the tree of size2 leaves (root2):
 * RFC 9162 §2.1.4.2 for 0 < size1 < size2; for equal sizes the proof is empty and the roots equal; from the empty
 * tree the proof is empty and root1 is the empty root (the empty tree is a prefix of every tree).
 */
export function verifyConsistency(size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2) || size1 < 0 || size1 > size2) return false;
  if (root1.length !== HASH_SIZE || root2.length !== HASH_SIZE || !allHashes(proof)) return false;
  if (size1 === size2) return proof.length === 0 && equalHashes(root1, root2);
  if (size1 === 0) return proof.length === 0 && equalHashes(root1, EMPTY_ROOT);
  // Step 1: a non-trivial consistency proof is never empty.
  if (proof.length === 0) return false;
  // Step 2: when the old tree is a perfect subtree its root is the first node of the path, left implicit.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  // Steps 3–4.
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr = path[0]!;
  let sr = path[0]!;
  // Step 6.
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7.
  return sn === 0 && equalHashes(fr, root1) && equalHashes(sr, root2);
}

/**
 * A HashReader over leaf hashes held in memory: every perfect subtree is computed once, bottom-up. For tests,
 * tools and small logs; a served log reads its tiles instead (tiles.ts).
 */
export function memoryHashReader(leafHashes: readonly Uint8Array[]): HashReader {
  const levels: Uint8Array[][] = [leafHashes.slice()];
  for (let l = 0; levels[l]!.length >= 2; l++) {
    const below = levels[l]!;
    const row: Uint8Array[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) row.push(hashChildren(below[i]!, below[i + 1]!));
    levels.push(row);
  }
  return {
    async readNodes(nodes) {
      return nodes.map(({ level, index }) => {
        const h = levels[level]?.[index];
        if (!h) throw new RangeError(`node ${level}/${index} is outside the tree`);
        return h;
      });
    },
  };
}
