// What the pages of a PDF show, compared with the signed invoice its attached XML carries. The attachment is signed;
// the page is not, so without this a PDF whose printed total was edited (in the content stream, or re-rendered over
// the original XML) would verify. The pages are read with PDF.js (pdfjs-dist, Mozilla's PDF engine, the reader of
// Firefox), which follows incremental updates, object streams and each font's ToUnicode map as a viewer does: the
// text it extracts is the text a reader of the PDF sees. pdfkit draws text as glyph ids of embedded subsets, so
// reading the content stream by hand would mean reimplementing exactly that.
//
// Checked on every page: the invoice number, the issue date and, for a red invoice, the original number in the
// header, and the QR code (its modules, as filled rectangles, against the QR of the signed payload); on the last
// page: the total in figures and in capitals — each read as the text after its label, where the label is drawn where
// the layout of the signed invoice puts it (the same words in the remarks or a line's name are not the field). The
// page must draw no image or form XObject (our renderer draws
// none; one could cover a field). What this cannot see: text made invisible or covered by a shape drawn in the
// page colour elsewhere than the QR is caught only through the QR check, which fails on any filled shape other than
// the QR's modules.
import type { Invoice } from '../../../shared/invoice.ts';
import { layoutInvoice } from '../domain/layout.ts';
import { zhDate } from '../domain/text.ts';
import type { FileCheck } from './invoice-file.ts';

const PT_PER_MM = 72 / 25.4;
const WHAT = 'pdf';

interface PageText { str: string; x: number; y: number }
interface PageFace { texts: PageText[]; fills: string[]; xobjects: number; height: number }

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
let pdfjs: Promise<PdfJs> | undefined;

/** PDF.js, loaded on first use (1–2 s): only `fapiao verify` of a PDF needs it. */
function loadPdfJs(): Promise<PdfJs> {
  pdfjs ??= import('pdfjs-dist/legacy/build/pdf.mjs');
  return pdfjs;
}

type Matrix = [number, number, number, number, number, number];
const mul = (m: Matrix, n: Matrix): Matrix => [
  m[0] * n[0] + m[2] * n[1], m[1] * n[0] + m[3] * n[1],
  m[0] * n[2] + m[2] * n[3], m[1] * n[2] + m[3] * n[3],
  m[0] * n[4] + m[2] * n[5] + m[4], m[1] * n[4] + m[3] * n[5] + m[5],
];
const apply = (m: Matrix, x: number, y: number): [number, number] => [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]];
/** A rectangle in PDF points (origin bottom left), rounded to 1/20 pt, as a comparable key. */
const rectKey = (x0: number, y0: number, x1: number, y1: number): string =>
  [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)].map((v) => Math.round(v * 20)).join(',');

async function readFaces(pdf: Uint8Array): Promise<PageFace[]> {
  const lib = await loadPdfJs();
  const { OPS } = lib;
  const doc = await lib.getDocument({
    data: new Uint8Array(pdf), verbosity: 0, isEvalSupported: false, disableFontFace: true, useSystemFonts: false, stopAtErrors: true,
  }).promise;
  try {
    const faces: PageFace[] = [];
    for (let p = 1; p <= doc.numPages; p++) {
      const page = await doc.getPage(p);
      const height = page.view[3]! - page.view[1]!;
      const content = await page.getTextContent();
      const texts: PageText[] = [];
      for (const item of content.items) {
        if (!('str' in item) || item.str.trim() === '') continue;
        texts.push({ str: item.str, x: item.transform[4] as number, y: item.transform[5] as number });
      }
      // The filled shapes, in page coordinates: pdfkit draws each run of dark QR modules as a rectangle.
      const ops = await page.getOperatorList();
      const fills: string[] = [];
      let xobjects = 0;
      let ctm: Matrix = [1, 0, 0, 1, 0, 0];
      const stack: Matrix[] = [];
      for (let i = 0; i < ops.fnArray.length; i++) {
        const fn = ops.fnArray[i], args = ops.argsArray[i] as unknown[];
        if (fn === OPS.save) stack.push(ctm);
        else if (fn === OPS.restore) ctm = stack.pop() ?? [1, 0, 0, 1, 0, 0];
        else if (fn === OPS.transform) ctm = mul(ctm, args as Matrix);
        else if (fn === OPS.paintFormXObjectBegin || fn === OPS.paintImageXObject || fn === OPS.paintInlineImageXObject ||
          fn === OPS.paintImageMaskXObject || fn === OPS.paintImageXObjectRepeat || fn === OPS.paintSolidColorImageMask) xobjects++;
        else if (fn === OPS.constructPath) {
          const [paint, data] = args as [number, (ArrayLike<number> | null)[]];
          if (paint !== OPS.fill && paint !== OPS.eoFill && paint !== OPS.fillStroke && paint !== OPS.eoFillStroke) continue;
          for (const path of data) if (path) fills.push(...rectangles(path, ctm));
        }
      }
      faces.push({ texts, fills, xobjects, height });
      page.cleanup();
    }
    return faces;
  } finally {
    await doc.destroy();
  }
}

/**
 * The subpaths of a PDF.js path (DrawOPS: 0 moveTo x y, 1 lineTo x y, 2 curveTo 6 numbers, 3 quadraticCurveTo 4
 * numbers, 4 closePath) as rectangle keys; a subpath that is not an axis-aligned rectangle gets a key that matches
 * no QR module.
 */
function rectangles(path: ArrayLike<number>, ctm: Matrix): string[] {
  const out: string[] = [];
  let pts: [number, number][] = [];
  let curved = false;
  const flush = (): void => {
    if (pts.length === 0) return;
    const xs = pts.map((q) => q[0]), ys = pts.map((q) => q[1]);
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const boxy = !curved && pts.length >= 4 && pts.length <= 5 && pts.every(([x, y]) => (Math.abs(x - x0) < 0.01 || Math.abs(x - x1) < 0.01) && (Math.abs(y - y0) < 0.01 || Math.abs(y - y1) < 0.01));
    out.push(boxy ? rectKey(x0, y0, x1, y1) : `shape ${rectKey(x0, y0, x1, y1)}`);
    pts = [];
    curved = false;
  };
  for (let i = 0; i < path.length;) {
    const op = path[i]!;
    if (op === 0) { flush(); pts.push(apply(ctm, path[i + 1]!, path[i + 2]!)); i += 3; }
    else if (op === 1) { pts.push(apply(ctm, path[i + 1]!, path[i + 2]!)); i += 3; }
    else if (op === 2) { curved = true; pts.push(apply(ctm, path[i + 5]!, path[i + 6]!)); i += 7; }
    else if (op === 3) { curved = true; pts.push(apply(ctm, path[i + 3]!, path[i + 4]!)); i += 5; }
    else if (op === 4) { i += 1; }
    else { curved = true; break; }
  }
  flush();
  return out;
}

/** Labels of the fields read from the page; a value is what follows its label on the same baseline. */
const LABELS = ['原发票号码：', '发票号码：', '开票日期：', '价税合计（大写）', '（小写）'] as const;
type Label = (typeof LABELS)[number];

/**
 * Where the layout draws each label, in PDF points (origin bottom left): x always, y for the header's (fixed) labels;
 * the totals row moves with the lines above it. A label's text elsewhere — in the remarks, a line's name — is not one.
 */
type Anchors = Map<Label, { x: number; y?: number }>;
const TOLERANCE = 0.3;

function anchorsOf(invoice: Invoice, height: number): Anchors {
  const out: Anchors = new Map();
  for (const page of layoutInvoice(invoice)) {
    for (const it of page) {
      if (it.kind !== 'text' || !(LABELS as readonly string[]).includes(it.text) || out.has(it.text as Label)) continue;
      const header = it.text !== '价税合计（大写）' && it.text !== '（小写）';
      out.set(it.text as Label, { x: it.x * PT_PER_MM, ...(header ? { y: height - it.y * PT_PER_MM } : {}) });
    }
  }
  return out;
}

/** Each label's values on a page (a label shown twice gives two values), spaces removed. */
function fields(texts: PageText[], anchors: Anchors): Map<Label, string[]> {
  const lines = new Map<number, PageText[]>();
  for (const t of texts) {
    const key = Math.round(t.y * 2);
    const line = lines.get(key) ?? lines.get(key - 1) ?? lines.get(key + 1);
    if (line) line.push(t);
    else lines.set(key, [t]);
  }
  const labelAt = (t: PageText, s: string): Label | undefined => {
    // 原发票号码： starts with neither of the others; the longest label that starts the item, at its anchor.
    const l = LABELS.find((l) => s.startsWith(l));
    const a = l && anchors.get(l);
    if (!l || !a || Math.abs(a.x - t.x) > TOLERANCE || (a.y !== undefined && Math.abs(a.y - t.y) > TOLERANCE)) return undefined;
    return l;
  };
  const out = new Map<Label, string[]>();
  for (const line of lines.values()) {
    line.sort((a, b) => a.x - b.x);
    let current: { label: Label; value: string } | undefined;
    const close = (): void => {
      if (current) out.set(current.label, [...(out.get(current.label) ?? []), current.value.replace(/\s+/g, '')]);
      current = undefined;
    };
    for (const t of line) {
      const s = t.str.trim();
      const label = labelAt(t, s);
      if (label) {
        close();
        current = { label, value: s.slice(label.length) };
      } else if (current) current.value += s;
    }
    close();
  }
  return out;
}

/** The checks of every page's face against the signed invoice; one per field, failing with the page and values. */
export async function pdfFaceChecks(pdf: Uint8Array, invoice: Invoice): Promise<FileCheck[]> {
  let faces: PageFace[];
  try {
    faces = await readFaces(pdf);
  } catch (err) {
    return [{ ok: false, what: WHAT, text: `the pages cannot be read: ${err instanceof Error ? err.message : String(err)}` }];
  }
  if (faces.length === 0) return [{ ok: false, what: WHAT, text: 'the PDF has no page' }];
  const nospace = (s: string): string => s.replace(/\s+/g, '');
  const expected: { label: Label; name: string; value: string; pages: 'every' | 'last' }[] = [
    { label: '发票号码：', name: 'invoice number', value: invoice.number, pages: 'every' },
    { label: '开票日期：', name: 'issue date', value: zhDate(invoice.issueDate), pages: 'every' },
    ...(invoice.originalNumber !== undefined ? [{ label: '原发票号码：' as const, name: 'original invoice number', value: invoice.originalNumber, pages: 'every' as const }] : []),
    { label: '（小写）', name: 'total in figures', value: `¥${invoice.totals.total}`, pages: 'last' },
    { label: '价税合计（大写）', name: 'total in capitals', value: `⊗${nospace(invoice.totals.totalInCapitals)}`, pages: 'last' },
  ];
  const anchors = anchorsOf(invoice, faces[0]!.height);
  const perPage = faces.map((f) => fields(f.texts, anchors));
  const checks: FileCheck[] = [];
  const where = (i: number): string => (faces.length > 1 ? `page ${i + 1} ` : 'the page ');
  for (const e of expected) {
    const problems: string[] = [];
    perPage.forEach((found, i) => {
      const values = found.get(e.label) ?? [];
      const wanted = e.pages === 'every' || i === faces.length - 1;
      if (!wanted) {
        if (values.length > 0) problems.push(`${where(i)}shows a ${e.name} (${values.join(', ')}) where none belongs`);
      } else if (values.length === 0) problems.push(`${where(i)}shows no ${e.name}`);
      else if (values.length > 1) problems.push(`${where(i)}shows the ${e.name} ${values.length} times (${values.join(', ')})`);
      else if (values[0] !== nospace(e.value)) problems.push(`${where(i)}shows ${e.name} ${values[0]} where the signed invoice has ${e.value}`);
    });
    checks.push(problems.length === 0
      ? { ok: true, what: WHAT, text: `${e.name} shown as signed${e.pages === 'every' && faces.length > 1 ? ` on all ${faces.length} pages` : ''}` }
      : { ok: false, what: WHAT, text: `${e.name}: ${problems.join('; ')}` });
  }
  // The QR: the filled rectangles of each page against the modules of the signed invoice's QR payload, placed as the
  // layout places them. Any other filled shape, or a missing module, fails.
  const layout = layoutInvoice(invoice);
  const qrProblems: string[] = [];
  faces.forEach((face, i) => {
    const qr = (layout[Math.min(i, layout.length - 1)] ?? []).find((it) => it.kind === 'qr');
    const want = new Set((qr && qr.kind === 'qr' ? qr.runs : []).map((r) =>
      rectKey(r.x * PT_PER_MM, face.height - r.y * PT_PER_MM, (r.x + r.w) * PT_PER_MM, face.height - (r.y + r.h) * PT_PER_MM)));
    const got = new Set(face.fills);
    const missing = [...want].filter((k) => !got.has(k)).length;
    const extra = [...got].filter((k) => !want.has(k)).length;
    if (missing > 0 || extra > 0) qrProblems.push(`${where(i)}draws a QR that is not the signed invoice's (${missing} of ${want.size} module runs missing, ${extra} other filled shapes)`);
    if (face.xobjects > 0) qrProblems.push(`${where(i)}draws ${face.xobjects} image or form XObject(s), which the renderer never does`);
  });
  checks.push(qrProblems.length === 0
    ? { ok: true, what: WHAT, text: `QR code shown encodes the signed QR payload${faces.length > 1 ? ` on all ${faces.length} pages` : ''}` }
    : { ok: false, what: WHAT, text: `QR code: ${qrProblems.join('; ')}` });
  return checks;
}
