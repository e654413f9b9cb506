// The Noto Sans SC fonts the PDF embeds, and their advance widths read straight from the TrueType tables (cmap,
// hmtx). The shared page layout (layout.ts) measures text with these numbers, so the PDF and the OFD place every
// glyph at the same position without either renderer depending on the other.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type FontWeight = 'regular' | 'bold';

const FILES: Record<FontWeight, string> = {
  regular: '400Regular/NotoSansSC_400Regular.ttf',
  bold: '700Bold/NotoSansSC_700Bold.ttf',
};

/** The family name the OFD references (the PDF embeds a subset instead). */
export const FONT_FAMILY = 'Noto Sans SC';

export interface FontMetrics {
  readonly data: Buffer;
  readonly postscriptName: string;
  /** Ascender and descender as a fraction of the em (descender negative). */
  readonly ascent: number;
  readonly descent: number;
  /** Advance width of one code point, as a fraction of the em. */
  advance(codePoint: number): number;
  /** True when the font has a glyph for the code point. */
  has(codePoint: number): boolean;
}

/**
 * Fonts for what Noto Sans SC lacks (CJK Extension B and beyond, rarer scripts, emoji), looked up in this order among
 * the Debian font packages installed: fonts-hanazono's HanaMinB (CJK Extensions B–F), fonts-dejavu-core (Latin,
 * Greek, Cyrillic, combining marks, symbols), HanaMinA (the BMP and Extension A), fonts-symbola (emoji and pictographs
 * up to Unicode 10, e.g. U+1F469 👩, and other symbols), fonts-babelstone-han (CJK Extensions G and H, U+30000–U+323AF,
 * and the rest of what HanaMin lacks). A character none of the installed fonts has prints as Noto's missing-glyph box
 * and the rest of the text is unaffected. They are subset and embedded like the main font; each file is read only
 * when a character reaches it in this order (BabelStone Han is 51 MB).
 */
export const FALLBACK_FONT_FILES = [
  '/usr/share/fonts/truetype/hanazono/HanaMinB.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/hanazono/HanaMinA.ttf',
  '/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf',
  '/usr/share/fonts/truetype/babelstone/BabelStoneHan.ttf',
];

let fallbackPaths: string[] | undefined;
const loaded = new Map<number, FontMetrics>();

const presentFallbacks = (): string[] => (fallbackPaths ??= FALLBACK_FONT_FILES.filter((p) => existsSync(p)));

/** Fallback font `i` among those present on this machine, read on first use. */
export function fallbackFont(i: number): FontMetrics {
  let f = loaded.get(i);
  if (!f) {
    const path = presentFallbacks()[i];
    if (path === undefined) throw new RangeError(`no fallback font ${i}`);
    f = parseFont(readFileSync(path));
    loaded.set(i, f);
  }
  return f;
}

/** Every fallback font present on this machine, in order (reads them all). */
export function fallbackFonts(): FontMetrics[] {
  return presentFallbacks().map((_, i) => fallbackFont(i));
}

/** The index of the first fallback font that `covers` accepts, reading fonts only as far as needed; -1 for none. */
function firstFallback(covers: (f: FontMetrics) => boolean): number {
  const n = presentFallbacks().length;
  for (let i = 0; i < n; i++) if (covers(fallbackFont(i))) return i;
  return -1;
}

const cache = new Map<FontWeight, FontMetrics>();

export function fontPath(weight: FontWeight): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@expo-google-fonts/noto-sans-sc/package.json')), FILES[weight]);
}

export function font(weight: FontWeight): FontMetrics {
  let f = cache.get(weight);
  if (!f) {
    f = parseFont(readFileSync(fontPath(weight)));
    cache.set(weight, f);
  }
  return f;
}

// Code points a font need not have for a cluster to be drawn with it (joiners and variation selectors).
const ignorable = (cp: number): boolean => cp < 0x20 || cp === 0x200c || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f) ||
  (cp >= 0xe0100 && cp <= 0xe01ef);
const segmenter = new Intl.Segmenter('zh', { granularity: 'grapheme' });
/**
 * Text in which every code point is a grapheme cluster of its own (UAX #29): printable ASCII, Latin-1 and the Latin
 * extensions, general punctuation without format characters, CJK punctuation, kana, bopomofo, the unified CJK
 * ideographs of the BMP and Extension A, compatibility ideographs and the fullwidth forms, leaving out every
 * combining mark, joiner and variation selector of those blocks (U+302A–302F, U+3099–309A, U+FF9E–FF9F).
 */
const ONE_CLUSTER_PER_CHAR = /^[\u0020-\u007E\u00A0-\u02FF\u2010-\u2027\u2030-\u205E\u3000-\u3029\u3030-\u303F\u3040-\u3098\u309B-\u30FF\u3100-\u312F\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF\uFF00-\uFF9D\uFFA0-\uFFEF]*$/;

/**
 * The text as grapheme clusters, each with the font that draws it: the weight's Noto Sans SC, else the first fallback
 * that has every code point of the cluster (so a base letter and its combining marks stay in one font), else Noto.
 */
function clusters(text: string, weight: FontWeight): { font: FontMetrics; index: number; text: string }[] {
  const main = font(weight);
  const covers = (f: FontMetrics, cluster: string): boolean => {
    for (const ch of cluster) if (!ignorable(ch.codePointAt(0)!) && !f.has(ch.codePointAt(0)!)) return false;
    return true;
  };
  const pick = (cluster: string): { font: FontMetrics; index: number; text: string } => {
    if (covers(main, cluster)) return { font: main, index: -1, text: cluster };
    const i = firstFallback((f) => covers(f, cluster));
    return i < 0 ? { font: main, index: -1, text: cluster } : { font: fallbackFont(i), index: i, text: cluster };
  };
  // Almost every invoice text: each code point is a cluster of its own, which the segmenter would find at ten times
  // the cost (layout measures every prefix of a wrapped line).
  if (ONE_CLUSTER_PER_CHAR.test(text)) return Array.from(text, pick);
  return Array.from(segmenter.segment(text), ({ segment }) => pick(segment));
}

/** Splits text into runs drawn by one font each (index for fallbackFont(), or -1 for the main font). */
export function fontRuns(text: string, weight: FontWeight): { font: number; text: string }[] {
  const runs: { font: number; text: string }[] = [];
  for (const c of clusters(text, weight)) {
    const idx = c.index;
    const last = runs[runs.length - 1];
    if (last && last.font === idx) last.text += c.text;
    else runs.push({ font: idx, text: c.text });
  }
  return runs;
}

/** Width of a string in the same unit as `size`. */
export function textWidth(text: string, size: number, weight: FontWeight = 'regular'): number {
  let w = 0;
  for (const c of clusters(text, weight)) for (const ch of c.text) w += c.font.advance(ch.codePointAt(0)!);
  return w * size;
}

/** Per-character advances (unit of `size`), for renderers that position each glyph (OFD DeltaX). */
export function advances(text: string, size: number, weight: FontWeight = 'regular'): number[] {
  return clusters(text, weight).flatMap((c) => Array.from(c.text, (ch) => c.font.advance(ch.codePointAt(0)!) * size));
}

function parseFont(data: Buffer): FontMetrics {
  const tables = new Map<string, number>();
  const count = data.readUInt16BE(4);
  for (let i = 0; i < count; i++) tables.set(data.toString('latin1', 12 + 16 * i, 16 + 16 * i), data.readUInt32BE(20 + 16 * i));
  const at = (tag: string): number => {
    const o = tables.get(tag);
    if (o === undefined) throw new Error(`font has no ${tag} table`);
    return o;
  };
  const head = at('head'), hhea = at('hhea'), hmtx = at('hmtx');
  const unitsPerEm = data.readUInt16BE(head + 18);
  const numberOfHMetrics = data.readUInt16BE(hhea + 34);
  const glyphOf = cmapLookup(data, at('cmap'));
  const widths = new Map<number, number>();
  return {
    data,
    postscriptName: postscriptName(data, at('name')),
    ascent: data.readInt16BE(hhea + 4) / unitsPerEm,
    descent: data.readInt16BE(hhea + 6) / unitsPerEm,
    advance(cp: number): number {
      let w = widths.get(cp);
      if (w === undefined) {
        const gid = Math.min(glyphOf(cp), numberOfHMetrics - 1);
        w = data.readUInt16BE(hmtx + 4 * gid) / unitsPerEm;
        widths.set(cp, w);
      }
      return w;
    },
    has(cp: number): boolean {
      return glyphOf(cp) !== 0;
    },
  };
}

/** Code point → glyph id from the Windows Unicode cmap (format 12 preferred, else format 4). */
function cmapLookup(data: Buffer, cmap: number): (cp: number) => number {
  const n = data.readUInt16BE(cmap + 2);
  let f4 = -1, f12 = -1;
  for (let i = 0; i < n; i++) {
    const platform = data.readUInt16BE(cmap + 4 + 8 * i), enc = data.readUInt16BE(cmap + 6 + 8 * i);
    const sub = cmap + data.readUInt32BE(cmap + 8 + 8 * i);
    const format = data.readUInt16BE(sub);
    if (format === 12 && (platform === 3 || platform === 0)) f12 = sub;
    if (format === 4 && (platform === 3 || platform === 0) && enc !== 0) f4 = sub;
  }
  if (f12 >= 0) {
    const groups = data.readUInt32BE(f12 + 12);
    return (cp) => {
      let lo = 0, hi = groups - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1, g = f12 + 16 + 12 * mid;
        const start = data.readUInt32BE(g), end = data.readUInt32BE(g + 4);
        if (cp < start) hi = mid - 1;
        else if (cp > end) lo = mid + 1;
        else return data.readUInt32BE(g + 8) + cp - start;
      }
      return 0;
    };
  }
  if (f4 < 0) throw new Error('font has no Unicode cmap');
  const segX2 = data.readUInt16BE(f4 + 6);
  const ends = f4 + 14, starts = ends + segX2 + 2, deltas = starts + segX2, offsets = deltas + segX2;
  return (cp) => {
    if (cp > 0xffff) return 0;
    for (let i = 0; i < segX2; i += 2) {
      if (cp > data.readUInt16BE(ends + i)) continue;
      const start = data.readUInt16BE(starts + i);
      if (cp < start) return 0;
      const delta = data.readInt16BE(deltas + i), ro = data.readUInt16BE(offsets + i);
      if (ro === 0) return (cp + delta) & 0xffff;
      const g = data.readUInt16BE(offsets + i + ro + 2 * (cp - start));
      return g === 0 ? 0 : (g + delta) & 0xffff;
    }
    return 0;
  };
}

function postscriptName(data: Buffer, name: number): string {
  const count = data.readUInt16BE(name + 2), strings = name + data.readUInt16BE(name + 4);
  for (let i = 0; i < count; i++) {
    const r = name + 6 + 12 * i;
    if (data.readUInt16BE(r + 6) !== 6) continue;
    const len = data.readUInt16BE(r + 8), off = strings + data.readUInt16BE(r + 10);
    const raw = data.subarray(off, off + len);
    // Unicode (0) and Windows (3) platform names are UTF-16BE; Macintosh (1) ones a single-byte encoding.
    return data.readUInt16BE(r) !== 1 ? Buffer.from(raw).swap16().toString('utf16le') : raw.toString('latin1');
  }
  return 'NotoSansSC';
}
