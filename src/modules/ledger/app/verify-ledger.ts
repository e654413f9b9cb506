// `fapiao ledger verify` (docs/ledger.md "Verification"): re-derives the whole tree from the stored leaves and compares
// it with what was published. Each leaf's entry must decode and hash to its stored leaf hash, indices must run
// without a gap from 0, every stored tile and entry bundle must equal the one rebuilt from the entries, and the
// newest checkpoint must verify with a log key and name the rebuilt root of its size. A leaf changed, deleted or
// reordered directly in the database is reported at its index: a changed entry whose leaf hash was recomputed, or
// two rows whose indices were swapped, no longer match the published level-0 tile at exactly those hashes.
//
// Holds one 32-byte hash per leaf in memory (320 MB for 10 M leaves) and reads the leaves in index order.
import { openCheckpoint } from './checkpoints.ts';
import type { NoteVerifier } from './note-keys.ts';
import { encodeEntryBundle } from '../domain/entry-bundle.ts';
import { decodeLeafEntry } from '../domain/leaf-entry.ts';
import { equalHashes, hashLeaf, HASH_SIZE, rootOf } from '../domain/merkle.ts';
import { TILE_WIDTH, tilePath } from '../domain/tile-path.ts';
import { buildAllTiles } from '../domain/tiles.ts';
import type { LedgerRepository } from '../storage/ledger-repository.ts';

export interface LedgerProblem {
  /** The leaf index at fault, when one is. */
  index?: number;
  problem: string;
}

export interface LedgerReport {
  ok: boolean;
  leaves: number;
  /** The newest checkpoint's size (0 without one). */
  checkpointSize: number;
  tiles: number;
  problems: LedgerProblem[];
}

const MAX_PROBLEMS = 100;
const BATCH = 4096;

export async function verifyLedger(ledger: LedgerRepository, origin: string, verifiers: readonly NoteVerifier[]): Promise<LedgerReport> {
  const problems: LedgerProblem[] = [];
  const add = (p: LedgerProblem) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p);
  };
  const hashes: Uint8Array[] = [];
  const entries: Uint8Array[] = [];
  // Leaves in index order: a gap is a deleted leaf; each entry must decode and hash to the stored leaf hash.
  for (let from = 0; ;) {
    const batch = await ledger.leavesFrom(from, BATCH);
    if (batch.length === 0) break;
    for (const leaf of batch) {
      while (hashes.length < leaf.index) {
        add({ index: hashes.length, problem: 'missing (deleted?)' });
        hashes.push(new Uint8Array(HASH_SIZE));
        entries.push(new Uint8Array(0));
      }
      let entry = new Uint8Array(0);
      if (leaf.entry === undefined) add({ index: leaf.index, problem: 'no entry stored (written before 0009 and not integrated yet)' });
      else {
        entry = new Uint8Array(Buffer.from(leaf.entry, 'base64'));
        try {
          const e = decodeLeafEntry(entry);
          if (e.number !== leaf.number) add({ index: leaf.index, problem: `the entry names invoice ${e.number}, the row ${leaf.number}` });
        } catch (err) {
          add({ index: leaf.index, problem: `the entry does not decode: ${err instanceof Error ? err.message : String(err)}` });
        }
        if (Buffer.from(hashLeaf(entry)).toString('hex') !== leaf.leafHash) add({ index: leaf.index, problem: 'the entry does not hash to the stored leaf hash' });
      }
      hashes.push(hashLeaf(entry));
      entries.push(entry);
    }
    from = batch[batch.length - 1]!.index + 1;
  }

  const latest = await ledger.latestCheckpoint();
  const size = latest?.size ?? 0;
  if (size > hashes.length) add({ index: hashes.length, problem: `the newest checkpoint has ${size} leaves, the database ${hashes.length}` });

  // Every stored tile against the tree rebuilt from the entries, over the checkpoint's size (tiles are written
  // with their checkpoint). A level-0 mismatch names the exact leaves.
  const covered = hashes.slice(0, size);
  const expected = new Map((await buildAllTiles(covered)).map((t) => [`${t.level}/${t.index}`, t]));
  let tiles = 0;
  for await (const t of ledger.allTiles()) {
    tiles++;
    const want = expected.get(`${t.level}/${t.index}`);
    expected.delete(`${t.level}/${t.index}`);
    if (!want) {
      add({ problem: `${tilePath(t.level, t.index, t.width)}: a tile beyond the checkpoint's tree` });
      continue;
    }
    if (want.width !== t.width) add({ problem: `${tilePath(t.level, t.index, t.width)}: width ${t.width}, the tree has ${want.width}` });
    const n = Math.min(want.width, t.width);
    for (let i = 0; i < n; i++) {
      const a = t.data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
      const b = want.data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
      if (equalHashes(a, b)) continue;
      if (t.level === 0) add({ index: t.index * TILE_WIDTH + i, problem: 'the leaf differs from the published tile (changed or reordered)' });
      else add({ problem: `${tilePath(t.level, t.index, t.width)}: hash ${i} differs from the rebuilt tree` });
    }
  }
  for (const t of expected.values()) add({ problem: `${tilePath(t.level, t.index, t.width)}: not stored` });

  // Entry bundles: the published entries, byte for byte.
  for (let index = 0; index * TILE_WIDTH < size; index++) {
    const width = Math.min(TILE_WIDTH, size - index * TILE_WIDTH);
    const stored = await ledger.readBundle(index, width);
    const want = encodeEntryBundle(entries.slice(index * TILE_WIDTH, index * TILE_WIDTH + width));
    if (!stored || !Buffer.from(stored).equals(want)) add({ problem: `entry bundle ${index} differs from the entries` });
  }

  if (latest) {
    try {
      const { checkpoint } = openCheckpoint(latest.note, origin, verifiers);
      if (checkpoint.size !== size) add({ problem: 'the checkpoint row\'s size is not the signed size' });
      else if (!equalHashes(checkpoint.rootHash, rootOf(covered))) add({ problem: 'the newest checkpoint\'s root is not the root of the stored leaves' });
    } catch (err) {
      add({ problem: `the newest checkpoint does not verify: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  problems.sort((a, b) => (a.index ?? Infinity) - (b.index ?? Infinity));
  return { ok: problems.length === 0, leaves: hashes.length, checkpointSize: size, tiles, problems };
}
