// The tiled log as a whole: appending entries (leaf hashes, tiles, entry bundles and the new root, computed from
// what is stored without writing anything) and proofs answered from tiles. The caller stores the plan's tiles and
// bundles, then signs and publishes the checkpoint of the new size: a checkpoint never names tiles not yet stored.
import { type BundleReader, type EntryBundle, buildBundleUpdates } from './entry-bundle.ts';
import { assertTreeSize, consistencyProof, hashLeaf, inclusionProof } from './merkle.ts';
import { type Tile, type TileNodes, type TileReader, type TileTreeCache, buildTileUpdates, overlayTileReader, rootFromTiles, tileHashReader } from './tiles.ts';

export interface AppendPlan {
  oldSize: number;
  newSize: number;
  /** MTH of the new tree. */
  root: Uint8Array;
  /** RFC 9162 leaf hashes of the appended entries, in order (leaf indices oldSize …). */
  leafHashes: Uint8Array[];
  /** Tiles to store, each as it is in the new tree (full, or partial at its new width). */
  tiles: Tile[];
  /** Entry bundles to store, likewise. */
  bundles: EntryBundle[];
  /** With `keepNodes`: the nodes of every tile in `tiles` (for a reader's cache once they are stored). */
  nodes: { tile: Tile; nodes: TileNodes }[];
}

export async function planAppend(reader: TileReader & BundleReader, size: number, entries: readonly Uint8Array[], opts: { keepNodes?: boolean } = {}): Promise<AppendPlan> {
  assertTreeSize(size);
  const leafHashes = entries.map(hashLeaf);
  const nodes: AppendPlan['nodes'] = [];
  const tiles = await buildTileUpdates(reader, size, leafHashes, opts.keepNodes ? (tile, n) => nodes.push({ tile, nodes: n }) : undefined);
  const bundles = await buildBundleUpdates(reader, size, entries);
  const newSize = size + entries.length;
  const root = await rootFromTiles(overlayTileReader(reader, tiles), newSize);
  return { oldSize: size, newSize, root, leafHashes, tiles, bundles, nodes };
}

/** The inclusion proof of leaf `index` in the tree of `size` leaves, from tiles. */
export async function proveInclusion(reader: TileReader, index: number, size: number, cache?: TileTreeCache): Promise<Uint8Array[]> {
  return inclusionProof(index, size, tileHashReader(reader, size, cache));
}

/** The consistency proof from size `m` to size `n`, from the tiles of the tree of `n` leaves. */
export async function proveConsistency(reader: TileReader, m: number, n: number): Promise<Uint8Array[]> {
  return consistencyProof(m, n, tileHashReader(reader, n));
}
