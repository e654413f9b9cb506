// Entry bundles, tile/entries/<N>[.p/<W>] (https://c2sp.org/tlog-tiles "Log entries"): the entries of leaves
// N·256 … N·256+255, each as a big-endian uint16 length followed by the entry bytes. Entry i of a bundle hashes
// (RFC 9162 leaf hash) to hash i of level-0 tile N. The ledger's entries are leaf-entry.ts encodings, which carry
// no buyer data, so bundles can be published as they are.
import { HASH_SIZE, equalHashes, hashLeaf, assertTreeSize } from './merkle.ts';
import { TILE_WIDTH } from './tile-path.ts';

export const MAX_ENTRY_SIZE = 0xffff;

export interface EntryBundle {
  index: number;
  width: number;
  data: Uint8Array;
}

export interface BundleReader {
  /** Bundle `index` holding exactly `width` entries, or undefined when not stored (a wider one may be cut short). */
  readBundle(index: number, width: number): Promise<Uint8Array | undefined>;
}

export class EntryBundleError extends Error {
  override readonly name = 'EntryBundleError';
}

export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length > TILE_WIDTH) throw new EntryBundleError('a bundle holds at most 256 entries');
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    if (e.length > MAX_ENTRY_SIZE) throw new EntryBundleError('an entry is at most 65535 bytes');
    parts.push(Uint8Array.of(e.length >> 8, e.length & 0xff), e);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** Splits a bundle into its entries; throws on a truncated entry or more than 256 of them. */
export function decodeEntryBundle(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    if (at + 2 > data.length) throw new EntryBundleError('truncated entry length');
    const len = (data[at]! << 8) | data[at + 1]!;
    at += 2;
    if (at + len > data.length) throw new EntryBundleError('truncated entry');
    out.push(data.subarray(at, at + len));
    at += len;
    if (out.length > TILE_WIDTH) throw new EntryBundleError('a bundle holds at most 256 entries');
  }
  return out;
}

/** True when the bundle's entries hash, one for one, to the hashes of the level-0 tile of the same index and width. */
export function bundleMatchesTile(bundle: Uint8Array, tile: Uint8Array): boolean {
  let entries: Uint8Array[];
  try {
    entries = decodeEntryBundle(bundle);
  } catch {
    return false;
  }
  if (entries.length * HASH_SIZE !== tile.length) return false;
  return entries.every((e, i) => equalHashes(hashLeaf(e), tile.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE)));
}

/**
 * The bundles that change when `entries` are appended to a log of `size` entries: the old partial bundle extended
 * (read once) and every bundle after it, each as it is in the new log.
 */
export async function buildBundleUpdates(reader: BundleReader, size: number, entries: readonly Uint8Array[]): Promise<EntryBundle[]> {
  assertTreeSize(size);
  const firstBundle = Math.floor(size / TILE_WIDTH);
  const partial = size % TILE_WIDTH;
  let head: Uint8Array[] = [];
  if (partial > 0) {
    const data = await reader.readBundle(firstBundle, partial);
    if (data === undefined) throw new EntryBundleError(`entry bundle ${firstBundle} of width ${partial} is not stored`);
    head = decodeEntryBundle(data);
    if (head.length !== partial) throw new EntryBundleError(`entry bundle ${firstBundle} has ${head.length} entries, expected ${partial}`);
  }
  const all = [...head, ...entries];
  const out: EntryBundle[] = [];
  for (let t = 0; t * TILE_WIDTH < all.length; t++) {
    const slice = all.slice(t * TILE_WIDTH, (t + 1) * TILE_WIDTH);
    out.push({ index: firstBundle + t, width: slice.length, data: encodeEntryBundle(slice) });
  }
  return out;
}
