// Drawing primitives of the shared page layout, in millimetres from the top-left corner of an A4 page (the OFD
// coordinate system; the PDF renderer scales to points). Text is placed by its baseline; font sizes are in mm.
import QRCode from 'qrcode';
import { textWidth, type FontWeight } from './font-metrics.ts';
import { printable } from './printable.ts';

export type Rgb = readonly [number, number, number];
export const BLACK: Rgb = [0, 0, 0];
/** The brown-red of the official form's frame and labels. */
export const FRAME: Rgb = [154, 68, 40];
export const RED: Rgb = [200, 30, 30];

export interface TextItem { kind: 'text'; x: number; y: number; size: number; text: string; weight: FontWeight; color: Rgb }
export interface LineItem { kind: 'line'; x1: number; y1: number; x2: number; y2: number; width: number; color: Rgb }
export interface RectItem { kind: 'rect'; x: number; y: number; w: number; h: number; width: number; color: Rgb }
/** Dark QR modules merged into horizontal runs; filled black. */
export interface QrItem { kind: 'qr'; x: number; y: number; size: number; runs: { x: number; y: number; w: number; h: number }[] }
export type Item = TextItem | LineItem | RectItem | QrItem;

export const PAGE_W = 210;
export const PAGE_H = 297;

/** Collects the items of one page with small helpers for aligned and fitted text. */
export class Canvas {
  readonly items: Item[] = [];

  text(raw: string, x: number, y: number, size: number, o: { weight?: FontWeight; color?: Rgb; align?: 'left' | 'right' | 'center'; width?: number } = {}): void {
    if (raw === '') return;
    // Both renderers draw these items: what cannot be printed becomes U+FFFD here, once (printable.ts).
    const text = printable(raw);
    const weight = o.weight ?? 'regular';
    let sz = size;
    const w = o.width;
    // Shrink to fit the box (a long unit price or quantity), down to 60% of the nominal size.
    if (w !== undefined) while (textWidth(text, sz, weight) > w && sz > size * 0.6) sz *= 0.95;
    const tw = textWidth(text, sz, weight);
    const box = w ?? 0;
    const left = o.align === 'right' ? x + box - tw : o.align === 'center' ? x + (box - tw) / 2 : x;
    this.items.push({ kind: 'text', x: round(left), y: round(y), size: round(sz), text, weight, color: o.color ?? BLACK });
  }

  /** Characters stacked vertically, centred in a column (the 购买方信息 / 备注 labels). */
  vertical(text: string, x: number, w: number, top: number, h: number, size: number, color: Rgb = FRAME): void {
    const chars = Array.from(text);
    const step = size * 1.15;
    const first = top + (h - step * chars.length) / 2 + size * 0.88;
    chars.forEach((ch, i) => this.text(ch, x, first + i * step, size, { align: 'center', width: w, color }));
  }

  line(x1: number, y1: number, x2: number, y2: number, width = 0.3, color: Rgb = FRAME): void {
    this.items.push({ kind: 'line', x1: round(x1), y1: round(y1), x2: round(x2), y2: round(y2), width, color });
  }

  rect(x: number, y: number, w: number, h: number, width = 0.4, color: Rgb = FRAME): void {
    this.items.push({ kind: 'rect', x: round(x), y: round(y), w: round(w), h: round(h), width, color });
  }

  qr(text: string, x: number, y: number, size: number): void {
    const m = QRCode.create(text, { errorCorrectionLevel: 'M' }).modules;
    const cell = size / m.size;
    const runs: QrItem['runs'] = [];
    for (let r = 0; r < m.size; r++) {
      let c = 0;
      while (c < m.size) {
        if (!m.data[r * m.size + c]) { c++; continue; }
        const start = c;
        while (c < m.size && m.data[r * m.size + c]) c++;
        runs.push({ x: round(x + start * cell), y: round(y + r * cell), w: round((c - start) * cell), h: round(cell) });
      }
    }
    this.items.push({ kind: 'qr', x, y, size, runs });
  }
}

/** Breaks text into lines no wider than `width` (by character: CJK has no word spaces); honours newlines. */
export function wrap(text: string, width: number, size: number, weight: FontWeight = 'regular'): string[] {
  const out: string[] = [];
  for (const para of text.split(/\r\n|\r|\n/)) {
    let line = '';
    for (const ch of para) {
      if (line !== '' && textWidth(line + ch, size, weight) > width) {
        out.push(line);
        line = '';
      }
      line += ch;
    }
    out.push(line);
  }
  return out;
}

/** Rounds to 1/1000 mm so that output bytes never depend on float noise in the last digits. */
export function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
