// Merkle tree tiles (https://c2sp.org/tlog-tiles "Merkle Tree"): tile (L, N) holds the hashes of tree level 8·L
// with indices N·256 … N·256+255, i.e. MTH(D[(N·256+i)·256^L : (N·256+i+1)·256^L]). Level 0 holds the leaf hashes;
// a hash at level L+1 is the tree hash of a *full* tile at level L. The eight tree levels inside a tile are
// recomputed from its hashes, so any perfect subtree is one tile read plus at most 255 hash operations.
//
// Appending k leaves to a tree of n touches, per tile level, the one partial tile of size n (read once) and the
// tiles after it: buildTileUpdates returns them, full and partial, for the caller to store. Proofs and roots read
// tiles through a TileReader; every node of a proof lies in the tile on the leaf's path or in the right-edge tile
// of its level, so a proof costs at most a few reads per tile level, O(log n) in all.
import { HASH_SIZE, hashChildren, hashPair, type HashReader, type NodeId, assertTreeSize, rangeNodes, foldNodes } from './merkle.ts';
import { TILE_HEIGHT, TILE_WIDTH, levelSize, tileWidthAt, type TileCoords } from './tile-path.ts';

/** A tile's contents: `width` hashes of 32 bytes, concatenated. */
export interface Tile extends TileCoords {
  data: Uint8Array;
}

export interface TileReader {
  /**
   * The tile (level, index) as it is in a tree whose tile has exactly `width` hashes: 32·width bytes, or undefined
   * when the store does not have it. A store holding a wider version of the tile may answer with its first
   * `width` hashes (tiles only grow at the end).
   */
  readTile(level: number, index: number, width: number): Promise<Uint8Array | undefined>;
}

export class TileError extends Error {
  override readonly name = 'TileError';
}

function hashAt(data: Uint8Array, i: number): Uint8Array {
  return data.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
}

/** The hash of the perfect subtree over `count` (a power of two ≤ 256) consecutive hashes of a tile from `start`. */
export function subtreeOfTile(data: Uint8Array, start: number, count: number): Uint8Array {
  let row: Uint8Array[] = [];
  for (let i = 0; i < count; i++) row.push(hashAt(data, start + i));
  while (row.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(hashChildren(row[i]!, row[i + 1]!));
    row = next;
  }
  return row[0]!;
}

async function readTileOrThrow(reader: TileReader, level: number, index: number, width: number): Promise<Uint8Array> {
  const data = await reader.readTile(level, index, width);
  if (data === undefined) throw new TileError(`tile ${level}/${index} of width ${width} is not stored`);
  if (data.length !== width * HASH_SIZE) throw new TileError(`tile ${level}/${index} has ${data.length} bytes, expected ${width * HASH_SIZE}`);
  return data;
}

/**
 * The tiles that change when `leafHashes` are appended to a tree of `size` leaves whose tiles `reader` holds: per
 * level, the partial tile of the old tree extended, and every tile after it, each as it is in the new tree (full,
 * or partial with its new width). Reads one tile per level at most.
 */
export async function buildTileUpdates(
  reader: TileReader,
  size: number,
  leafHashes: readonly Uint8Array[],
  /** Given: every tile's nodes (TileNodes) are built instead of only the roots of the full ones, and handed over. */
  onNodes?: (tile: Tile, nodes: TileNodes) => void,
): Promise<Tile[]> {
  assertTreeSize(size);
  if (!Number.isSafeInteger(size + leafHashes.length)) throw new RangeError('the tree would outgrow a safe integer');
  for (const h of leafHashes) if (h.length !== HASH_SIZE) throw new TileError('a leaf hash is 32 bytes');
  const out: Tile[] = [];
  let appended: readonly Uint8Array[] = leafHashes;
  for (let level = 0; appended.length > 0; level++) {
    const before = levelSize(level, size);
    const firstTile = Math.floor(before / TILE_WIDTH);
    const partial = before % TILE_WIDTH;
    const head = partial > 0 ? await readTileOrThrow(reader, level, firstTile, partial) : new Uint8Array(0);
    const row = Buffer.concat([head, ...appended]);
    const count = row.length / HASH_SIZE;
    const completed: Uint8Array[] = [];
    for (let t = 0; t * TILE_WIDTH < count; t++) {
      const width = Math.min(TILE_WIDTH, count - t * TILE_WIDTH);
      const data = new Uint8Array(row.subarray(t * TILE_WIDTH * HASH_SIZE, (t * TILE_WIDTH + width) * HASH_SIZE));
      const tile = { level, index: firstTile + t, width, data };
      out.push(tile);
      if (onNodes) {
        const nodes = TileNodes.of(data);
        onNodes(tile, nodes);
        if (width === TILE_WIDTH) completed.push(nodes.node(TILE_HEIGHT, 0)!);
      } else if (width === TILE_WIDTH) completed.push(subtreeOfTile(data, 0, TILE_WIDTH));
    }
    appended = completed;
  }
  return out;
}

/** Every tile of the tree of these leaf hashes, built in one go (for checks and for rebuilding a store). */
export async function buildAllTiles(leafHashes: readonly Uint8Array[]): Promise<Tile[]> {
  const none: TileReader = { readTile: async () => undefined };
  return buildTileUpdates(none, 0, leafHashes);
}

/** A reader that answers from `tiles` first (the updates of an append not yet stored), then from `base`. */
export function overlayTileReader(base: TileReader, tiles: readonly Tile[]): TileReader {
  const byKey = new Map<string, Tile>();
  for (const t of tiles) {
    const key = `${t.level}/${t.index}`;
    const had = byKey.get(key);
    if (!had || had.width < t.width) byKey.set(key, t);
  }
  return {
    async readTile(level, index, width) {
      const t = byKey.get(`${level}/${index}`);
      if (t && t.width >= width) return t.data.subarray(0, width * HASH_SIZE);
      return base.readTile(level, index, width);
    },
  };
}

export interface TileHashReader extends HashReader {
  /** Tiles read so far (each distinct tile once per readNodes call). */
  readonly tileReads: number;
}

/**
 * Every node inside one tile, at the width it has in some tree: row h (0 … 8) holds the floor(width / 2^h) perfect
 * subtrees of height h that lie wholly inside the tile, row 0 being the tile's own hashes. One buffer of
 * (≈ 2·width − 1) · 32 bytes, 16,352 for a full tile. A tile at a given width never changes (tiles only grow at
 * their end, and a narrower read is the prefix), so these nodes never go stale.
 */
export class TileNodes {
  private constructor(
    private readonly buf: Buffer,
    /** Hash offset of row h's first node. */
    private readonly rowStart: readonly number[],
    private readonly rowLength: readonly number[],
    readonly width: number,
  ) {}

  static of(data: Uint8Array): TileNodes {
    const width = data.length / HASH_SIZE;
    if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw new TileError(`a tile has 1 to ${TILE_WIDTH} hashes`);
    const rowStart: number[] = [];
    const rowLength: number[] = [];
    let total = 0;
    for (let h = 0, n = width; h <= TILE_HEIGHT; h++, n = Math.floor(n / 2)) {
      rowStart.push(total);
      rowLength.push(n);
      total += n;
    }
    const buf = Buffer.allocUnsafe(total * HASH_SIZE);
    buf.set(data, 0);
    for (let h = 1; h <= TILE_HEIGHT; h++) {
      const below = rowStart[h - 1]! * HASH_SIZE;
      const at = rowStart[h]! * HASH_SIZE;
      for (let k = 0; k < rowLength[h]!; k++) {
        const left = below + 2 * k * HASH_SIZE;
        buf.set(hashPair(buf.subarray(left, left + 2 * HASH_SIZE)), at + k * HASH_SIZE);
      }
    }
    return new TileNodes(buf, rowStart, rowLength, width);
  }

  /** Bytes held. */
  get bytes(): number {
    return this.buf.length;
  }

  /** The k-th subtree of height h inside the tile (the hashes k·2^h … (k+1)·2^h − 1), or undefined past its width. */
  node(height: number, k: number): Uint8Array | undefined {
    if (height < 0 || height > TILE_HEIGHT || k < 0 || k >= this.rowLength[height]!) return undefined;
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset + (this.rowStart[height]! + k) * HASH_SIZE, HASH_SIZE);
  }
}

/**
 * Where a reader keeps the nodes of tiles it has read, per tile and width (`level/index/width`): a tile at a width
 * is immutable, so an entry is never stale. Bounded by whoever implements it.
 */
export function tileNodesKey(level: number, index: number, width: number): string {
  return `${level}/${index}/${width}`;
}

export interface TileTreeCache {
  get(key: string): TileNodes | undefined;
  set(key: string, nodes: TileNodes): void;
}

/**
 * Perfect-subtree hashes of the tree of `size` leaves, from its tiles. Node (h, i) lives in tile level ⌊h/8⌋: it is
 * the subtree over 2^(h mod 8) consecutive hashes of one tile, read at the width that tile has in this tree.
 */
export function tileHashReader(reader: TileReader, size: number, cache?: TileTreeCache): TileHashReader {
  assertTreeSize(size);
  let tileReads = 0;
  return {
    get tileReads() {
      return tileReads;
    },
    async readNodes(nodes: readonly NodeId[]) {
      if (cache) return readCached(reader, size, nodes, cache, () => tileReads++);
      const located = nodes.map(({ level, index }) => {
        const tileLevel = Math.floor(level / TILE_HEIGHT);
        const count = 2 ** (level % TILE_HEIGHT);
        const first = index * count;
        const tileIndex = Math.floor(first / TILE_WIDTH);
        const width = tileWidthAt(tileLevel, tileIndex, size);
        const start = first - tileIndex * TILE_WIDTH;
        if (start + count > width) throw new TileError(`node ${level}/${index} is outside the tree of size ${size}`);
        return { tileLevel, tileIndex, width, start, count };
      });
      const pending = new Map<string, Promise<Uint8Array>>();
      for (const l of located) {
        const key = `${l.tileLevel}/${l.tileIndex}`;
        if (!pending.has(key)) {
          tileReads++;
          pending.set(key, readTileOrThrow(reader, l.tileLevel, l.tileIndex, l.width));
        }
      }
      const tiles = new Map<string, Uint8Array>();
      await Promise.all([...pending].map(async ([key, p]) => tiles.set(key, await p)));
      return located.map((l) => subtreeOfTile(tiles.get(`${l.tileLevel}/${l.tileIndex}`)!, l.start, l.count));
    },
  };
}

/** MTH of the tree of `size` leaves from its tiles (one read per tile level). */
export async function rootFromTiles(reader: TileReader, size: number): Promise<Uint8Array> {
  const nodes = size === 0 ? [] : rangeNodes(0, size);
  return foldNodes(await tileHashReader(reader, size).readNodes(nodes));
}

/**
 * readNodes through the cache: each node comes from the nodes of its tile at the width the tile has in this tree,
 * read and built once (the partial right-edge tiles too, per width: they serve every proof under one checkpoint).
 */
async function readCached(reader: TileReader, size: number, nodes: readonly NodeId[], cache: TileTreeCache, counted: () => void): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const node of nodes) {
    const tileLevel = Math.floor(node.level / TILE_HEIGHT);
    const height = node.level % TILE_HEIGHT;
    const count = 2 ** height;
    const first = node.index * count;
    const tileIndex = Math.floor(first / TILE_WIDTH);
    const width = tileWidthAt(tileLevel, tileIndex, size);
    const start = first - tileIndex * TILE_WIDTH;
    if (start + count > width) throw new TileError(`node ${node.level}/${node.index} is outside the tree of size ${size}`);
    const key = tileNodesKey(tileLevel, tileIndex, width);
    let tile = cache.get(key);
    if (!tile) {
      counted();
      tile = TileNodes.of(await readTileOrThrow(reader, tileLevel, tileIndex, width));
      cache.set(key, tile);
    }
    out.push(tile.node(height, start / count)!);
  }
  return out;
}
