// OFD (GB/T 33190-2016) rendering of an invoice: our own writer, a ZIP of XML parts:
//   OFD.xml                         DocBody: DocInfo (CustomDatas = the invoice fields) + DocRoot
//   Doc_0/Document.xml              CommonData (A4 PageArea, PublicRes, DocumentRes) + Pages
//   Doc_0/PublicRes.xml             Fonts: Noto Sans SC regular and bold, and the fallbacks a character needs
//                                   (font-metrics.ts), each embedded as a TrueType subset in Doc_0/Res/font_<ID>.ttf
//   Doc_0/DocumentRes.xml           ColorSpaces
//   Doc_0/Pages/Page_N/Content.xml  one Body layer: TextObjects and PathObjects from the shared layout (mm)
//   Doc_0/Attachs/Attachments.xml   one attachment, the signed platform XML (OFD_INVOICE_XML): what
//                                   `fapiao verify file.ofd` checks, as real invoice OFDs attach the platform XML
// Text positions are exact: each TextCode carries DeltaX from the advance widths of its font (a text item becomes one
// TextObject per font run), so every glyph sits where the PDF has it. Deterministic: fixed IDs, fixed ZIP mtime.
import { zipSync } from 'fflate';
import type { Invoice } from '../../../shared/invoice.ts';
import { PAGE_H, PAGE_W, round, type Item, type Rgb } from './draw.ts';
import { advances, fallbackFonts, font, FONT_FAMILY, fontRuns, textWidth, type FontWeight } from './font-metrics.ts';
import { subsetFont } from './font-subset.ts';
import { layoutInvoice } from './layout.ts';
import { invoiceTitle } from './text.ts';
import { invoiceToXml } from './to-xml.ts';
import type { LedgerProof } from './ledger-proof.ts';
import { el, toXml, type XmlNode } from './xml-writer.ts';

export const OFD_NS = 'http://www.ofdspec.org/2016';
const NS = { 'xmlns:ofd': OFD_NS };
const FONT_ID: Record<FontWeight, string> = { regular: '2', bold: '3' };
/** Font IDs of the fallback fonts: 4, 5, … (below the first object ID, 10). */
const fallbackId = (i: number): string => String(4 + i);
const runFontId = (run: { font: number }, weight: FontWeight): string => (run.font < 0 ? FONT_ID[weight] : fallbackId(run.font));
const COLOR_SPACE_ID = '1';
/** Where the signed invoice XML sits in the archive. */
export const OFD_INVOICE_XML = 'Doc_0/Attachs/invoice.xml';

export function invoiceToOfd(invoice: Invoice, ledgerProof?: LedgerProof): Uint8Array {
  const pages = layoutInvoice(invoice);
  let nextId = 10;
  const id = (): string => String(nextId++);
  const files: Record<string, Uint8Array> = {};
  const put = (path: string, node: XmlNode): void => {
    files[path] = new TextEncoder().encode(toXml(node));
  };

  put('OFD.xml', el('ofd:OFD', [
    el('ofd:DocBody', [
      el('ofd:DocInfo', [
        el('ofd:DocID', invoice.hash.slice(0, 32).padEnd(32, '0')),
        el('ofd:Title', invoice.number),
        el('ofd:Author', invoice.seller.name),
        el('ofd:Subject', invoiceTitle(invoice.type)),
        el('ofd:CreationDate', invoice.issueDate),
        el('ofd:ModDate', invoice.issueDate),
        el('ofd:Creator', 'Fapiao'),
        el('ofd:CustomDatas', customData(invoice).map(([name, value]) => el('ofd:CustomData', value, { Name: name }))),
      ]),
      el('ofd:DocRoot', 'Doc_0/Document.xml'),
    ]),
  ], { ...NS, Version: '1.0', DocType: 'OFD' }));

  // The characters drawn with each font, for its subset.
  const used = new Map<string, Set<string>>();
  for (const items of pages) for (const it of items) {
    if (it.kind !== 'text') continue;
    for (const run of fontRuns(it.text, it.weight)) {
      const fid = runFontId(run, it.weight);
      const set = used.get(fid) ?? new Set<string>();
      for (const ch of run.text) set.add(ch);
      used.set(fid, set);
    }
  }
  const fontNodes: XmlNode[] = [];
  for (const [fid, chars] of [...used].sort(([a], [b]) => Number(a) - Number(b))) {
    const idx = Number(fid) - 4;
    const data = fid === FONT_ID.regular ? font('regular') : fid === FONT_ID.bold ? font('bold') : fallbackFonts()[idx]!;
    const file = `font_${fid}.ttf`;
    files[`Doc_0/Res/${file}`] = subsetFont(data.data, chars);
    const name = fid === FONT_ID.bold ? `${FONT_FAMILY} Bold` : fid === FONT_ID.regular ? FONT_FAMILY : data.postscriptName;
    const family = idx >= 0 ? data.postscriptName : FONT_FAMILY;
    fontNodes.push(el('ofd:Font', [el('ofd:FontFile', file)], {
      ID: fid, FontName: name, FamilyName: family, ...(fid === FONT_ID.bold ? { Bold: 'true' } : {}),
    }));
  }

  const pageRefs: XmlNode[] = [];
  pages.forEach((items, i) => {
    const pageId = id();
    pageRefs.push(el('ofd:Page', undefined, { ID: pageId, BaseLoc: `Pages/Page_${i}/Content.xml` }));
    put(`Doc_0/Pages/Page_${i}/Content.xml`, el('ofd:Page', [
      el('ofd:Content', [el('ofd:Layer', items.flatMap((it) => objects(it, id)), { ID: id(), Type: 'Body' })]),
    ], NS));
  });

  put('Doc_0/PublicRes.xml', el('ofd:Res', [
    el('ofd:Fonts', fontNodes),
  ], { ...NS, BaseLoc: 'Res' }));
  put('Doc_0/DocumentRes.xml', el('ofd:Res', [
    el('ofd:ColorSpaces', [el('ofd:ColorSpace', undefined, { ID: COLOR_SPACE_ID, Type: 'RGB', BitsPerComponent: '8' })]),
  ], { ...NS, BaseLoc: 'Res' }));
  const document = el('ofd:Document', [
    el('ofd:CommonData', [
      el('ofd:MaxUnitID', String(nextId - 1)),
      el('ofd:PageArea', [el('ofd:PhysicalBox', `0 0 ${PAGE_W} ${PAGE_H}`)]),
      el('ofd:PublicRes', 'PublicRes.xml'),
      el('ofd:DocumentRes', 'DocumentRes.xml'),
      el('ofd:DefaultCS', COLOR_SPACE_ID),
    ]),
    el('ofd:Pages', pageRefs),
    el('ofd:Attachments', 'Attachs/Attachments.xml'),
  ], NS);
  const signedXml = new TextEncoder().encode(invoiceToXml(invoice, ledgerProof));
  put('Doc_0/Attachs/Attachments.xml', el('ofd:Attachments', [
    // Size in KB (GB/T 33190 §17).
    el('ofd:Attachment', [el('ofd:FileLoc', 'invoice.xml')], {
      ID: 'invoice_xml', Name: `${invoice.number}.xml`, Format: 'xml', CreationDate: `${invoice.issueDate}T00:00:00`,
      Size: String(Math.ceil(signedXml.length / 1024)), Visible: 'false', Usage: 'invoice',
    }),
  ], NS));
  files[OFD_INVOICE_XML] = signedXml;
  // Document.xml last in creation (MaxUnitID needs every ID) but second in the archive, after OFD.xml.
  const ordered: Record<string, Uint8Array> = { 'OFD.xml': files['OFD.xml']! };
  ordered['Doc_0/Document.xml'] = new TextEncoder().encode(toXml(document));
  for (const [k, v] of Object.entries(files)) if (!(k in ordered) && k !== OFD_INVOICE_XML) ordered[k] = v;
  // The signed XML is stored, not deflated: any tool that lists the archive can read it as is.
  const archive: Parameters<typeof zipSync>[0] = { ...ordered, [OFD_INVOICE_XML]: [signedXml, { level: 0 }] };
  return zipSync(archive, { level: 6, mtime: zipTime(invoice.issueDate) });
}

/** Invoice fields as OFD CustomData, the names used by the platform's own OFD files where known. */
export function customData(inv: Invoice): [string, string][] {
  const rows: [string, string | undefined][] = [
    ['发票号码', inv.number],
    ['发票类型', invoiceTitle(inv.type)],
    ['蓝红字标识', inv.kind === 'red' ? '红字' : '蓝字'],
    ['开票日期', inv.issueDate],
    ['合计金额', inv.totals.amount],
    ['合计税额', inv.totals.tax],
    ['价税合计', inv.totals.total],
    ['价税合计（大写）', inv.totals.totalInCapitals],
    ['购买方名称', inv.buyer.name],
    ['购买方纳税人识别号', inv.buyer.taxId],
    ['销售方名称', inv.seller.name],
    ['销售方纳税人识别号', inv.seller.taxId],
    ['开票人', inv.issuer],
    ['原发票号码', inv.originalNumber],
    ['红字发票信息确认单编号', inv.redLetterFormId],
    ['数据摘要SM3', inv.hash],
    ['签名密钥', inv.signature.keyId],
    ['签名值', inv.signature.value],
    ['二维码', inv.qr],
  ];
  return rows.filter((r): r is [string, string] => r[1] !== undefined);
}

function objects(item: Item, nextId: () => string): XmlNode[] {
  if (item.kind !== 'text') return [object(item, nextId())];
  const out: XmlNode[] = [];
  let x = item.x;
  for (const run of fontRuns(item.text, item.weight)) {
    const w = textWidth(run.text, item.size, item.weight);
    const top = item.y - item.size;
    const dx = advances(run.text, item.size, item.weight).slice(0, -1);
    out.push(el('ofd:TextObject', [
      el('ofd:FillColor', undefined, { Value: rgb(item.color) }),
      el('ofd:TextCode', run.text, { X: '0', Y: num(item.size), ...(dx.length ? { DeltaX: deltaX(dx) } : {}) }),
    ], { ID: nextId(), Boundary: box(x, top, w, item.size * 1.3), Font: runFontId(run, item.weight), Size: num(item.size) }));
    x += w;
  }
  return out;
}

function object(item: Exclude<Item, { kind: 'text' }>, id: string): XmlNode {
  switch (item.kind) {
    case 'line': {
      const p = item.width;
      const x = Math.min(item.x1, item.x2) - p, y = Math.min(item.y1, item.y2) - p;
      const d = `M ${num(item.x1 - x)} ${num(item.y1 - y)} L ${num(item.x2 - x)} ${num(item.y2 - y)}`;
      return path(id, box(x, y, Math.abs(item.x2 - item.x1) + 2 * p, Math.abs(item.y2 - item.y1) + 2 * p), item, d);
    }
    case 'rect': {
      const p = item.width;
      const d = rectPath(p, p, item.w, item.h);
      return path(id, box(item.x - p, item.y - p, item.w + 2 * p, item.h + 2 * p), item, d);
    }
    case 'qr':
      return el('ofd:PathObject', [
        el('ofd:FillColor', undefined, { Value: '0 0 0' }),
        el('ofd:AbbreviatedData', item.runs.map((r) => rectPath(r.x - item.x, r.y - item.y, r.w, r.h)).join(' ')),
      ], { ID: id, Boundary: box(item.x, item.y, item.size, item.size), Stroke: 'false', Fill: 'true' });
  }
}

function path(id: string, boundary: string, item: { width: number; color: Rgb }, d: string): XmlNode {
  return el('ofd:PathObject', [
    el('ofd:StrokeColor', undefined, { Value: rgb(item.color) }),
    el('ofd:AbbreviatedData', d),
  ], { ID: id, Boundary: boundary, LineWidth: num(item.width) });
}

function rectPath(x: number, y: number, w: number, h: number): string {
  return `M ${num(x)} ${num(y)} L ${num(x + w)} ${num(y)} L ${num(x + w)} ${num(y + h)} L ${num(x)} ${num(y + h)} C`;
}

/** DeltaX with runs of equal advances compressed as `g <count> <value>` (GB/T 33190 ST_Array). */
function deltaX(values: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    const v = num(values[i]!);
    while (j < values.length && num(values[j]!) === v) j++;
    out.push(j - i > 1 ? `g ${j - i} ${v}` : v);
    i = j;
  }
  return out.join(' ');
}

function box(x: number, y: number, w: number, h: number): string {
  return `${num(x)} ${num(y)} ${num(w)} ${num(h)}`;
}

function rgb(c: Rgb): string {
  return `${c[0]} ${c[1]} ${c[2]}`;
}

function num(v: number): string {
  return String(round(v));
}

/** ZIP entry times are local DOS times: build local noon of the issue date so every time zone writes the same bytes. */
function zipTime(issueDate: string): Date {
  const [y, m, d] = issueDate.split('-').map((s) => Number.parseInt(s, 10));
  return new Date(y!, m! - 1, d, 12, 0, 0);
}
