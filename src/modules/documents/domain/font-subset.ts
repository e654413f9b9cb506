// A standalone TrueType subset of a font for the characters a document uses, for embedding in an OFD (which, unlike
// PDF, maps text to glyphs through the font's own cmap). fontkit writes the glyph subset (glyf, loca, hmtx, …) as
// PDF needs it, without cmap, name, OS/2 or post; this adds a format 12 cmap for the new glyph ids and copies name
// and OS/2 from the original, with a version 3 post table. Deterministic: same characters → same bytes.
import { create, type Font } from 'fontkit';

const opened = new WeakMap<Buffer, Font>();

/** The font parsed once per process (fontkit), shared by every OFD subset and every PDF (pdfkit takes it as is). */
export function openFont(data: Buffer): Font {
  return open(data);
}

function open(data: Buffer): Font {
  let f = opened.get(data);
  if (!f) {
    f = create(data);
    opened.set(data, f);
  }
  return f;
}

function tables(data: Uint8Array): Map<string, Uint8Array> {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = new Map<string, Uint8Array>();
  const n = view.readUInt16BE(4);
  for (let i = 0; i < n; i++) {
    const r = 12 + 16 * i;
    const off = view.readUInt32BE(r + 8), len = view.readUInt32BE(r + 12);
    out.set(view.toString('latin1', r, r + 4), view.subarray(off, off + len));
  }
  return out;
}

function checksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 4) sum = (sum + b.readUInt32BE(i)) >>> 0;
  return sum;
}

function sfnt(parts: Map<string, Uint8Array>): Buffer {
  const tags = [...parts.keys()].sort();
  const n = tags.length;
  let entrySelector = 0;
  while (2 ** (entrySelector + 1) <= n) entrySelector++;
  const header = Buffer.alloc(12 + 16 * n);
  header.writeUInt32BE(0x00010000, 0);
  header.writeUInt16BE(n, 4);
  header.writeUInt16BE(16 * 2 ** entrySelector, 6);
  header.writeUInt16BE(entrySelector, 8);
  header.writeUInt16BE(16 * n - 16 * 2 ** entrySelector, 10);
  const bodies: Buffer[] = [];
  let offset = header.length;
  tags.forEach((tag, i) => {
    const raw = Buffer.from(parts.get(tag)!);
    const padded = Buffer.concat([raw, Buffer.alloc((4 - (raw.length % 4)) % 4)]);
    if (tag === 'head') padded.writeUInt32BE(0, 8); // checkSumAdjustment, set below
    const r = 12 + 16 * i;
    header.write(tag, r, 'latin1');
    header.writeUInt32BE(checksum(padded), r + 4);
    header.writeUInt32BE(offset, r + 8);
    header.writeUInt32BE(raw.length, r + 12);
    bodies.push(padded);
    offset += padded.length;
  });
  const font = Buffer.concat([header, ...bodies]);
  const headAt = header.readUInt32BE(12 + 16 * tags.indexOf('head') + 8);
  font.writeUInt32BE((0xb1b0afba - checksum(font)) >>> 0, headAt + 8);
  return font;
}

/** cmap with one Windows UCS-4 (3, 10) format 12 subtable. */
function cmap(map: [number, number][]): Buffer {
  const groups: [number, number, number][] = [];
  for (const [cp, gid] of map) {
    const last = groups[groups.length - 1];
    if (last && cp === last[1] + 1 && gid === last[2] + (cp - last[0])) last[1] = cp;
    else groups.push([cp, cp, gid]);
  }
  const sub = Buffer.alloc(16 + 12 * groups.length);
  sub.writeUInt16BE(12, 0);
  sub.writeUInt32BE(sub.length, 4);
  sub.writeUInt32BE(groups.length, 12);
  groups.forEach(([s, e, g], i) => {
    sub.writeUInt32BE(s, 16 + 12 * i);
    sub.writeUInt32BE(e, 20 + 12 * i);
    sub.writeUInt32BE(g, 24 + 12 * i);
  });
  const head = Buffer.alloc(12);
  head.writeUInt16BE(1, 2);
  head.writeUInt16BE(3, 4);
  head.writeUInt16BE(10, 6);
  head.writeUInt32BE(12, 8);
  return Buffer.concat([head, sub]);
}

/** A TrueType font holding exactly the glyphs of `text`'s code points, with a cmap for them. */
export function subsetFont(data: Buffer, text: Iterable<string>): Buffer {
  const font = open(data);
  const subset = font.createSubset();
  const cps = [...new Set([...text].flatMap((s) => Array.from(s, (c) => c.codePointAt(0)!)))].sort((a, b) => a - b);
  const map: [number, number][] = [];
  for (const cp of cps) {
    const gid = font.glyphForCodePoint(cp).id;
    if (gid !== 0) map.push([cp, subset.includeGlyph(gid)]);
  }
  const parts = tables(subset.encode());
  const original = tables(data);
  parts.set('cmap', cmap(map));
  for (const tag of ['name', 'OS/2']) if (original.has(tag)) parts.set(tag, original.get(tag)!);
  const post = Buffer.alloc(32);
  post.writeUInt32BE(0x00030000, 0);
  parts.set('post', post);
  return sfnt(parts);
}
