import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryTileStore } from '../storage/memory-tile-store.ts';
import { bundleMatchesTile, decodeEntryBundle, encodeEntryBundle } from './entry-bundle.ts';
import {
  consistencyProof,
  hashLeaf,
  inclusionProof,
  memoryHashReader,
  rootOf,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';
import { planAppend, proveConsistency, proveInclusion } from './tiled-log.ts';
import { TILE_WIDTH, levelSize, tilesOfTree } from './tile-path.ts';
import { TileNodes, buildAllTiles, buildTileUpdates, rootFromTiles, tileHashReader, type Tile } from './tiles.ts';

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

const entry = (i: number): Uint8Array => new Uint8Array(Buffer.from(`invoice event ${i}`));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const key = (t: Tile): string => `${t.level}/${t.index}/${t.width}/${hex(t.data)}`;

/** Tile levels a tree of `size` has: the number of levels with at least one hash. */
function tileLevels(size: number): number {
  let l = 0;
  while (levelSize(l, size) > 0) l++;
  return l;
}

describe('tiles', () => {
  it('built incrementally in random batches equal tiles built from scratch, at every step', async () => {
    const rnd = prng(6962);
    const store = new MemoryTileStore();
    const entries: Uint8Array[] = [];
    let size = 0;
    const steps: number[] = [];
    const all = Array.from({ length: 80_000 }, (_, i) => entry(i));
    const reference = memoryHashReader(all.map(hashLeaf));
    while (size < 70_000) {
      // Mostly small batches, sometimes a large one that fills or spans several tiles at once.
      const r = rnd();
      const batch = r < 0.6 ? 1 + Math.floor(rnd() * 5) : r < 0.9 ? Math.floor(rnd() * 300) : Math.floor(rnd() * 9000);
      const added = all.slice(size, size + batch);
      const plan = await planAppend(store, size, added);
      store.apply(plan);
      entries.push(...added);
      size = plan.newSize;
      steps.push(size);
      // The root of the plan is the root of every entry so far.
      assert.equal(hex(plan.root), hex(await treeRoot(size, reference)), `size ${size}`);
      // Each touched tile is exactly the tile of the new tree (compared with a build from scratch at the end).
      for (const t of plan.tiles) assert.equal(t.data.length, t.width * 32);
    }
    const leaves = entries.map(hashLeaf);
    const scratch = await buildAllTiles(leaves);
    assert.deepEqual(scratch.map((t) => ({ level: t.level, index: t.index, width: t.width })), tilesOfTree(size));
    assert.deepEqual(store.allTiles().map(key), scratch.map(key));
    assert.equal(hex(rootOf(leaves)), hex(await rootFromTiles(store, size)));
    // At intermediate sizes too: the tiles a reader of that checkpoint fetches are those of that tree.
    for (const s of steps.filter((_, i) => i % 40 === 0)) {
      const mine = await buildAllTiles(leaves.slice(0, s));
      for (const t of mine) assert.equal(hex((await store.readTile(t.level, t.index, t.width))!), hex(t.data), `tile ${t.level}/${t.index} at ${s}`);
      assert.equal(hex(await rootFromTiles(store, s)), hex(await treeRoot(s, reference)));
    }
  });

  it('reads at most the partial tile of each level to append', async () => {
    const leaves = Array.from({ length: 70_000 }, (_, i) => hashLeaf(entry(i)));
    const store = new MemoryTileStore();
    store.writeTiles(await buildAllTiles(leaves));
    store.tileReads = 0;
    const one = await buildTileUpdates(store, leaves.length, [hashLeaf(entry(70_000))]);
    assert.equal(store.tileReads, 1, 'the partial level-0 tile');
    assert.deepEqual(one.map((t) => [t.level, t.index, t.width]), [[0, 273, 113]]);
    store.tileReads = 0;
    // 144 more leaves complete level-0 tile 273 (112 + 144 = 256), whose hash joins level-1 tile 1 (17 → 18).
    const more = Array.from({ length: 144 }, (_, i) => hashLeaf(entry(70_000 + i)));
    const filled = await buildTileUpdates(store, leaves.length, more);
    assert.equal(store.tileReads, 2);
    assert.deepEqual(filled.map((t) => [t.level, t.index, t.width]), [[0, 273, 256], [1, 1, 18]]);
  });

  it('gives the same proofs through a cache of tile nodes, reading each tile once per width', async () => {
    const leaves = Array.from({ length: 70_000 }, (_, i) => hashLeaf(entry(i)));
    const store = new MemoryTileStore();
    store.writeTiles(await buildAllTiles(leaves));
    const map = new Map<string, TileNodes>();
    const cache = { get: (k: string) => map.get(k), set: (k: string, v: TileNodes) => void map.set(k, v) };
    const rnd = prng(7);
    for (const size of [1, 2, 3, 255, 256, 257, 511, 65_536, 65_537, 70_000]) {
      const root = rootOf(leaves.slice(0, size));
      for (let k = 0; k < 40; k++) {
        const index = k === 0 ? size - 1 : Math.floor(rnd() * size);
        const cached = await proveInclusion(store, index, size, cache);
        assert.deepEqual(cached.map(hex), (await proveInclusion(store, index, size)).map(hex), `leaf ${index} of ${size}`);
        assert.ok(verifyInclusion(leaves[index]!, index, size, cached, root));
      }
    }
    await proveInclusion(store, 5, 70_000, cache);
    store.tileReads = 0;
    await proveInclusion(store, 6, 69_999, cache);
    // Leaf 6's path in a tree of 69,999: level-0 tile 0 and level-1 tile 0 are full and cached; on the right edge,
    // level-1 tile 1 has the width 17 it had at 70,000 (cached), level-0 tile 273 is 111 wide here (112 at 70,000).
    assert.equal(store.tileReads, 1, 'a partial tile is read once per width');
    store.tileReads = 0;
    await proveInclusion(store, 7, 69_999, cache);
    await proveInclusion(store, 69_998, 69_999, cache);
    assert.equal(store.tileReads, 0, 'every tile of these paths is cached at its width');
  });

  it('hands over the nodes of every tile an append stores, equal to those built from the stored tile', async () => {
    const store = new MemoryTileStore();
    let size = 0;
    for (const n of [3, 300, 70_000 - 303]) {
      const entries = Array.from({ length: n }, (_, i) => entry(size + i));
      const plain = await planAppend(store, size, entries);
      const plan = await planAppend(store, size, entries, { keepNodes: true });
      assert.equal(hex(plan.root), hex(plain.root));
      assert.deepEqual(plan.tiles.map(key), plain.tiles.map(key));
      assert.deepEqual(plan.nodes.map((x) => x.tile), plan.tiles);
      for (const { tile, nodes } of plan.nodes) {
        const fresh = TileNodes.of(tile.data);
        for (let h = 0; h <= 8; h++) for (let k = 0; nodes.node(h, k); k++) assert.equal(hex(nodes.node(h, k)!), hex(fresh.node(h, k)!));
      }
      store.apply(plan);
      size += n;
    }
  });

  it('builds every node of a tile at its width, and none past it', () => {
    const hashes = Array.from({ length: 256 }, (_, i) => hashLeaf(entry(i)));
    for (const width of [1, 2, 3, 7, 100, 255, 256]) {
      const nodes = TileNodes.of(Buffer.concat(hashes.slice(0, width)));
      for (let h = 0; h <= 8; h++) {
        const count = 2 ** h;
        for (let k = 0; (k + 1) * count <= width; k++) assert.equal(hex(nodes.node(h, k)!), hex(rootOf(hashes.slice(k * count, (k + 1) * count))), `${width}: ${h}/${k}`);
        assert.equal(nodes.node(h, Math.floor(width / count)), undefined);
      }
    }
    assert.throws(() => TileNodes.of(new Uint8Array(0)), /1 to 256/);
    assert.throws(() => TileNodes.of(new Uint8Array(33)), /1 to 256/);
  });

  it('refuses a missing or short tile rather than guessing', async () => {
    const store = new MemoryTileStore();
    await assert.rejects(buildTileUpdates(store, 5, [hashLeaf(entry(5))]), /not stored/);
    await assert.rejects(rootFromTiles(store, 5), /not stored/);
  });

  it('the store is append-only: a stored hash cannot change', async () => {
    const store = new MemoryTileStore();
    const tiles = await buildAllTiles([hashLeaf(entry(0)), hashLeaf(entry(1))]);
    store.writeTiles(tiles);
    const forged = await buildAllTiles([hashLeaf(entry(0)), hashLeaf(entry(99)), hashLeaf(entry(2))]);
    assert.throws(() => store.writeTiles(forged), /would change/);
  });
});

describe('proofs from tiles', () => {
  const N = 70_000;
  const entries = Array.from({ length: N }, (_, i) => entry(i));
  const leaves = entries.map(hashLeaf);
  const full = memoryHashReader(leaves);
  const storeReady = (async () => {
    const store = new MemoryTileStore();
    store.writeTiles(await buildAllTiles(leaves));
    return store;
  })();

  it('equal proofs from the full list of leaves, with O(log n) tile reads', async () => {
    const store = await storeReady;
    const rnd = prng(1);
    const sizes = [1, 2, 3, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, N];
    for (let i = 0; i < 40; i++) sizes.push(1 + Math.floor(rnd() * N));
    let maxInclusionReads = 0;
    let maxConsistencyReads = 0;
    for (const n of sizes) {
      const levels = tileLevels(n);
      const root = await treeRoot(n, full);
      assert.equal(hex(await rootFromTiles(store, n)), hex(root));
      for (const i of [0, n - 1, Math.floor(rnd() * n)]) {
        const reader = tileHashReader(store, n);
        const proof = await inclusionProof(i, n, reader);
        assert.deepEqual(proof.map(hex), (await inclusionProof(i, n, full)).map(hex), `leaf ${i} of ${n}`);
        assert.ok(verifyInclusion(leaves[i]!, i, n, proof, root));
        // The leaf's own tile and the right-edge tile, per tile level.
        assert.ok(reader.tileReads <= 2 * levels, `leaf ${i} of ${n}: ${reader.tileReads} reads for ${levels} levels`);
        maxInclusionReads = Math.max(maxInclusionReads, reader.tileReads);
        assert.deepEqual((await proveInclusion(store, i, n)).map(hex), proof.map(hex));
      }
      for (const m of [1, Math.floor(n / 2), n - 1, Math.floor(rnd() * n)]) {
        if (m < 1 || m > n) continue;
        const reader = tileHashReader(store, n);
        const proof = await consistencyProof(m, n, reader);
        assert.deepEqual(proof.map(hex), (await consistencyProof(m, n, full)).map(hex), `${m} → ${n}`);
        assert.ok(verifyConsistency(m, n, await treeRoot(m, full), root, proof));
        assert.ok(reader.tileReads <= 3 * levels, `${m} → ${n}: ${reader.tileReads} reads for ${levels} levels`);
        maxConsistencyReads = Math.max(maxConsistencyReads, reader.tileReads);
        assert.deepEqual((await proveConsistency(store, m, n)).map(hex), proof.map(hex));
      }
    }
    // 70 000 leaves: proofs of 17 hashes from at most 6 (inclusion) or 9 (consistency) tiles of 8 KiB.
    assert.ok(maxInclusionReads <= 6 && maxConsistencyReads <= 9, `${maxInclusionReads} / ${maxConsistencyReads}`);
  });

  it('counts the tiles a store is asked for, not hashes', async () => {
    const store = await storeReady;
    store.tileReads = 0;
    const proof = await proveInclusion(store, 12_345, N);
    assert.equal(proof.length, 17);
    assert.ok(store.tileReads <= 6, `${store.tileReads}`);
  });
});

describe('entry bundles', () => {
  it('are uint16-length-prefixed entries, decoded strictly', () => {
    const e = [Uint8Array.of(1, 2, 3), new Uint8Array(0), new Uint8Array(300).fill(7)];
    const b = encodeEntryBundle(e);
    assert.equal(hex(b.subarray(0, 5)), '0003010203');
    assert.equal(hex(b.subarray(5, 7)), '0000');
    assert.equal(hex(b.subarray(7, 9)), '012c');
    assert.deepEqual(decodeEntryBundle(b).map(hex), e.map(hex));
    assert.throws(() => decodeEntryBundle(b.subarray(0, b.length - 1)), /truncated/);
    assert.throws(() => decodeEntryBundle(Uint8Array.of(0)), /truncated/);
    assert.throws(() => encodeEntryBundle([new Uint8Array(65_536)]), /65535/);
    assert.throws(() => encodeEntryBundle(Array.from({ length: 257 }, () => Uint8Array.of(1))), /256/);
    assert.throws(() => decodeEntryBundle(encodeEntryBundle(Array.from({ length: 256 }, () => Uint8Array.of(1))).slice().fill(0).subarray(0, 514)), /256/);
  });

  it('built incrementally match their level-0 tiles', async () => {
    const rnd = prng(42);
    const store = new MemoryTileStore();
    const entries: Uint8Array[] = [];
    let size = 0;
    while (size < 3000) {
      const added = Array.from({ length: Math.floor(rnd() * 400) }, (_, i) => entry(size + i));
      const plan = await planAppend(store, size, added);
      store.apply(plan);
      entries.push(...added);
      size = plan.newSize;
      for (const b of plan.bundles) {
        const tile = plan.tiles.find((t) => t.level === 0 && t.index === b.index)!;
        assert.equal(tile.width, b.width);
        assert.ok(bundleMatchesTile(b.data, tile.data));
      }
    }
    for (let index = 0; index * TILE_WIDTH < size; index++) {
      const width = Math.min(TILE_WIDTH, size - index * TILE_WIDTH);
      const bundle = (await store.readBundle(index, width))!;
      assert.deepEqual(decodeEntryBundle(bundle).map(hex), entries.slice(index * TILE_WIDTH, index * TILE_WIDTH + width).map(hex));
      assert.ok(bundleMatchesTile(bundle, (await store.readTile(0, index, width))!));
      assert.equal(bundleMatchesTile(bundle, (await store.readTile(0, index === 0 ? 1 : 0, width))!), false);
    }
  });
});
