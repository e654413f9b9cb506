import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { entriesPath, formatTileIndex, parseTilePath, tilePath, tileWidthAt, tilesOfTree } from './tile-path.ts';

// Cases from https://c2sp.org/tlog-tiles and from transparency-dev/tessera api/layout/paths_test.go.
describe('tlog-tiles paths', () => {
  it('writes N in groups of three digits, x-prefixed but for the last', () => {
    assert.equal(formatTileIndex(1234067), 'x001/x234/067');
    assert.equal(formatTileIndex(0), '000');
    assert.equal(formatTileIndex(255), '255');
    assert.equal(formatTileIndex(1000), 'x001/000');
    assert.equal(formatTileIndex(455667), 'x455/667');
    assert.equal(formatTileIndex(123456789), 'x123/x456/789');
  });

  it('names tiles and entry bundles, with .p/<W> for partial ones', () => {
    assert.equal(tilePath(0, 0), 'tile/0/000');
    assert.equal(tilePath(0, 0, 255), 'tile/0/000.p/255');
    assert.equal(tilePath(1, 0), 'tile/1/000');
    assert.equal(tilePath(15, 455667), 'tile/15/x455/667');
    assert.equal(tilePath(15, 123456789, 41), 'tile/15/x123/x456/789.p/41');
    assert.equal(entriesPath(0), 'tile/entries/000');
    assert.equal(entriesPath(0, 8), 'tile/entries/000.p/8');
    assert.equal(entriesPath(255, 253), 'tile/entries/255.p/253');
    assert.equal(entriesPath(123456789), 'tile/entries/x123/x456/789');
    assert.throws(() => tilePath(64, 0));
    assert.throws(() => tilePath(0, 0, 0));
    assert.throws(() => tilePath(0, 0, 257));
    assert.throws(() => tilePath(0, -1));
  });

  it('parses canonical paths back', () => {
    assert.deepEqual(parseTilePath('tile/0/x001/x234/067'), { kind: 'tile', level: 0, index: 1234067, width: 256 });
    assert.deepEqual(parseTilePath('tile/0/x001/x234/067.p/89'), { kind: 'tile', level: 0, index: 1234067, width: 89 });
    assert.deepEqual(parseTilePath('tile/63/x999/x999/x999/x999/999.p/255'), { kind: 'tile', level: 63, index: 999999999999999, width: 255 });
    assert.deepEqual(parseTilePath('tile/0/001'), { kind: 'tile', level: 0, index: 1, width: 256 });
    assert.deepEqual(parseTilePath('tile/entries/x123/x456/789.p/1'), { kind: 'entries', index: 123456789, width: 1 });
    for (let i = 0; i < 3000; i += 7) {
      for (const w of [1, 17, 255, 256]) {
        assert.deepEqual(parseTilePath(tilePath(3, i * 997, w)), { kind: 'tile', level: 3, index: i * 997, width: w });
        assert.deepEqual(parseTilePath(entriesPath(i * 997, w)), { kind: 'entries', index: i * 997, width: w });
      }
    }
  });

  it('refuses every other spelling', () => {
    for (const p of [
      'tile/0/x001/x234/067.p/',
      'tile/0/x001/x234/067.p',
      'tile/0/x001/x234/',
      'tile/0/x001/x234',
      'tile/0/x001/',
      'tile/0/x001',
      'tile/1/x001/.p/abc',
      'tile/64/x001/002',
      'tile/-1/x001/002',
      'tile/abc/x001/002',
      'tile/8/001/002',
      'tile/01/000',
      'tile/0/0001',
      'tile/0/01',
      'tile/0/000.p/0',
      'tile/0/000.p/256',
      'tile/0/000.p/08',
      'tile/0/x000/005',
      'tile/0/x1/234',
      'tile/0/x001/x234/x067',
      'tile/entries/000.p/256',
      'tile/entries',
      'tile/0',
      'tiles/0/000',
      '/tile/0/000',
      'tile/0/000/',
      // Beyond 2^53: indices are safe integers.
      'tile/0/x999/x999/x999/x999/x999/999',
    ]) {
      assert.equal(parseTilePath(p), undefined, p);
    }
  });

  it('sizes tiles as the spec does: floor(s / 256^l) mod 256 for the partial one', () => {
    // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile of width 112,
    // one full level 1 tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1."
    const tiles = tilesOfTree(70_000);
    const at = (level: number) => tiles.filter((t) => t.level === level);
    assert.equal(at(0).filter((t) => t.width === 256).length, 273);
    assert.deepEqual(at(0).filter((t) => t.width < 256), [{ level: 0, index: 273, width: 112 }]);
    assert.deepEqual(at(1), [
      { level: 1, index: 0, width: 256 },
      { level: 1, index: 1, width: 17 },
    ]);
    assert.deepEqual(at(2), [{ level: 2, index: 0, width: 1 }]);
    assert.equal(tiles.length, 273 + 1 + 2 + 1);
    // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1."
    assert.deepEqual(tilesOfTree(256), [
      { level: 0, index: 0, width: 256 },
      { level: 1, index: 0, width: 1 },
    ]);
    assert.deepEqual(tilesOfTree(0), []);
    assert.equal(tileWidthAt(0, 274, 70_000), 0);
  });
});
