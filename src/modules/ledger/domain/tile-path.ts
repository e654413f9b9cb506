// Path math of the C2SP tiled log layout (https://c2sp.org/tlog-tiles "Merkle Tree" and "Log entries"; the same
// rules as transparency-dev/tessera api/layout/paths.go and tile.go):
//   tile/<L>/<N>[.p/<W>]       Merkle tree tiles, L in 0…63
//   tile/entries/<N>[.p/<W>]   entry bundles
// N is written in zero-padded groups of three digits, every group but the last prefixed with `x` (1234067 →
// x001/x234/067); `.p/<W>` marks a partial tile of W hashes, 1 ≤ W ≤ 255. A full tile holds 256 hashes (height 8).

export const TILE_HEIGHT = 8;
/** Hashes in a full tile, and entries in a full bundle. */
export const TILE_WIDTH = 256;
export const MAX_TILE_LEVEL = 63;

export interface TileCoords {
  level: number;
  index: number;
  /** Number of hashes (or entries): 256 for a full tile, 1…255 for a partial one. */
  width: number;
}

export class TilePathError extends Error {
  override readonly name = 'TilePathError';
}

function assertIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) throw new TilePathError('tile index must be a non-negative safe integer');
}

function assertWidth(width: number): void {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw new TilePathError('tile width must be 1…256');
}

/** The `<N>` element: 1234067 → `x001/x234/067`, 5 → `005`. */
export function formatTileIndex(index: number): string {
  assertIndex(index);
  let n = index;
  let out = String(n % 1000).padStart(3, '0');
  n = Math.floor(n / 1000);
  while (n > 0) {
    out = `x${String(n % 1000).padStart(3, '0')}/${out}`;
    n = Math.floor(n / 1000);
  }
  return out;
}

function withWidth(index: number, width: number): string {
  assertWidth(width);
  return width === TILE_WIDTH ? formatTileIndex(index) : `${formatTileIndex(index)}.p/${width}`;
}

export function tilePath(level: number, index: number, width: number = TILE_WIDTH): string {
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) throw new TilePathError('tile level must be 0…63');
  return `tile/${level}/${withWidth(index, width)}`;
}

export function entriesPath(index: number, width: number = TILE_WIDTH): string {
  return `tile/entries/${withWidth(index, width)}`;
}

const LEVEL = /^(?:0|[1-9][0-9]?)$/;
const WIDTH = /^[1-9][0-9]{0,2}$/;

/** Parses the `<N>[.p/<W>]` part; undefined when it is not exactly in the canonical form. */
function parseIndexAndWidth(parts: string[]): { index: number; width: number } | undefined {
  let width = TILE_WIDTH;
  const groups = [...parts];
  const last = groups[groups.length - 1];
  if (groups.length >= 2 && groups[groups.length - 2]!.endsWith('.p')) {
    if (last === undefined || !WIDTH.test(last)) return undefined;
    width = Number(last);
    if (width >= TILE_WIDTH) return undefined;
    groups.pop();
    groups[groups.length - 1] = groups[groups.length - 1]!.slice(0, -2);
  }
  if (groups.length === 0) return undefined;
  let index = 0;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    const isLast = i === groups.length - 1;
    const digits = isLast ? g : g.startsWith('x') ? g.slice(1) : undefined;
    if (digits === undefined || !/^[0-9]{3}$/.test(digits)) return undefined;
    index = index * 1000 + Number(digits);
    if (!Number.isSafeInteger(index)) return undefined;
  }
  // One spelling per index: no leading all-zero groups (x000/005 would name tile 5 a second way).
  if (groups.length > 1 && groups[0] === 'x000') return undefined;
  return { index, width };
}

export type ParsedTilePath = ({ kind: 'tile' } & TileCoords) | { kind: 'entries'; index: number; width: number };

/** Parses a path relative to the log prefix (`tile/…`); undefined for anything not in canonical form. */
export function parseTilePath(path: string): ParsedTilePath | undefined {
  const parts = path.split('/');
  if (parts[0] !== 'tile' || parts.length < 3) return undefined;
  if (parts[1] === 'entries') {
    const r = parseIndexAndWidth(parts.slice(2));
    return r && { kind: 'entries', ...r };
  }
  if (!LEVEL.test(parts[1]!)) return undefined;
  const level = Number(parts[1]);
  if (level > MAX_TILE_LEVEL) return undefined;
  const r = parseIndexAndWidth(parts.slice(2));
  return r && { kind: 'tile', level, ...r };
}

/** Entries at tile level `level` of a tree of `size` leaves: floor(size / 256^level). */
export function levelSize(level: number, size: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/**
 * The width of tile (level, index) in a tree of `size` leaves: 256 when full, 1…255 when partial, 0 when the tile
 * does not exist yet (https://c2sp.org/tlog-tiles "Partial Tiles": floor(s / 256^l) mod 256 for the last one).
 */
export function tileWidthAt(level: number, index: number, size: number): number {
  const n = levelSize(level, size) - index * TILE_WIDTH;
  return n <= 0 ? 0 : Math.min(n, TILE_WIDTH);
}

/**
 * Every tile of a tree of `size` leaves, level by level: the full ones and at most one partial per level. A tree of
 * 70 000 leaves has 273 full level-0 tiles and one of width 112, a full level-1 tile and one of width 17, and a
 * level-2 tile of width 1 (the spec's example).
 */
export function tilesOfTree(size: number): TileCoords[] {
  const out: TileCoords[] = [];
  for (let level = 0; level <= MAX_TILE_LEVEL; level++) {
    const entries = levelSize(level, size);
    if (entries === 0) break;
    for (let index = 0; index * TILE_WIDTH < entries; index++) out.push({ level, index, width: tileWidthAt(level, index, size) });
  }
  return out;
}
