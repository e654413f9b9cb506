// Tiles and entry bundles in memory, for tests and tools. It keeps the widest version of each tile and answers a
// narrower read with its prefix (a partial tile is always a prefix of the later, wider one), and refuses a write
// that would change a stored prefix: the store itself is append-only. It counts reads, so tests can show how many
// tiles a proof costs.
import type { BundleReader, EntryBundle } from '../domain/entry-bundle.ts';
import { decodeEntryBundle, encodeEntryBundle } from '../domain/entry-bundle.ts';
import { HASH_SIZE } from '../domain/merkle.ts';
import type { AppendPlan } from '../domain/tiled-log.ts';
import type { Tile, TileReader } from '../domain/tiles.ts';

export class MemoryTileStore implements TileReader, BundleReader {
  private readonly tiles = new Map<string, Tile>();
  private readonly bundles = new Map<string, Uint8Array[]>();
  tileReads = 0;
  bundleReads = 0;

  async readTile(level: number, index: number, width: number): Promise<Uint8Array | undefined> {
    this.tileReads++;
    const t = this.tiles.get(`${level}/${index}`);
    if (!t || t.width < width) return undefined;
    return t.data.slice(0, width * HASH_SIZE);
  }

  async readBundle(index: number, width: number): Promise<Uint8Array | undefined> {
    this.bundleReads++;
    const b = this.bundles.get(String(index));
    if (!b || b.length < width) return undefined;
    return encodeEntryBundle(b.slice(0, width));
  }

  writeTiles(tiles: readonly Tile[]): void {
    for (const t of tiles) {
      if (t.data.length !== t.width * HASH_SIZE) throw new Error(`tile ${t.level}/${t.index} has the wrong length`);
      const key = `${t.level}/${t.index}`;
      const had = this.tiles.get(key);
      if (had) {
        const common = Math.min(had.width, t.width) * HASH_SIZE;
        if (!Buffer.from(had.data.subarray(0, common)).equals(t.data.subarray(0, common))) throw new Error(`tile ${key} would change`);
        if (had.width >= t.width) continue;
      }
      this.tiles.set(key, { ...t, data: t.data.slice() });
    }
  }

  writeBundles(bundles: readonly EntryBundle[]): void {
    for (const b of bundles) {
      const entries = decodeEntryBundle(b.data).map((e) => e.slice());
      if (entries.length !== b.width) throw new Error(`bundle ${b.index} has the wrong width`);
      const had = this.bundles.get(String(b.index));
      if (had) {
        const common = Math.min(had.length, entries.length);
        for (let i = 0; i < common; i++) if (!Buffer.from(had[i]!).equals(entries[i]!)) throw new Error(`bundle ${b.index} would change`);
        if (had.length >= entries.length) continue;
      }
      this.bundles.set(String(b.index), entries);
    }
  }

  /** Stores an append plan: bundles, then tiles (a checkpoint is published only after both). */
  apply(plan: AppendPlan): void {
    this.writeBundles(plan.bundles);
    this.writeTiles(plan.tiles);
  }

  /** Every stored tile, widest version, sorted by level and index. */
  allTiles(): Tile[] {
    return [...this.tiles.values()].sort((a, b) => a.level - b.level || a.index - b.index);
  }
}
