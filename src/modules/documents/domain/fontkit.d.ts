// The part of fontkit (no published types) that font-subset.ts uses.
declare module 'fontkit' {
  export interface Glyph { id: number }
  export interface Subset { includeGlyph(glyphId: number): number; encode(): Uint8Array }
  export interface Font { glyphForCodePoint(codePoint: number): Glyph; createSubset(): Subset }
  export function create(data: Buffer): Font;
}
