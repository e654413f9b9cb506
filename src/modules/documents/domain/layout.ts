// The face of a 数电票 on A4, computed once and drawn by both the PDF and the OFD renderer (same text, same places).
// Layout in mm: header (QR, title, number, date), party blocks side by side, the line table, and on the last page the
// 合计 row, 价税合计 in capitals and figures, 备注 and 开票人. Long invoices continue on further pages with the header
// and the table head repeated; totals appear on the last page only.
import type { Invoice, InvoiceLine, Party } from '../../../shared/invoice.ts';
import { Canvas, FRAME, RED, wrap, type Item } from './draw.ts';
import { textWidth } from './font-metrics.ts';
import { invoiceTitle, rateLabel, taxLabel, zhDate } from './text.ts';

/**
 * The QR code, top left: 36 mm, so a version 9 symbol (53 modules, level M) gets 0.68 mm a module, 2.6 px at 96 dpi and
 * 1.9 px at 72 dpi, which zbar decodes from a render of the page at every resolution from 72 to 110 dpi
 * (test/formats/pdf.test.ts). The frame starts below it, with its quiet zone of four modules.
 */
const QR = { x: 12, y: 5, size: 36 };
const TOP = QR.y + QR.size + 3;
/** The title and the number block keep their place relative to the frame. */
const HEAD_SHIFT = TOP - 38;
const L = 12, R = 198, PARTY_H = 22, HEAD_H = 7, LIMIT = 280;
const ITEMS_TOP = TOP + PARTY_H + HEAD_H;
const LABEL_W = 7;
/** Left edge of the number/date block at the top right. */
const HX = 145;
const S = { title: 5.4, head: 3.2, label: 3.0, cell: 2.9, caps: 3.3 };
const LINE_H = 3.9, ROW_PAD = 1.1, TOTAL_H = 7, CAPS_H = 9, MIN_REMARKS_H = 16, MIN_ITEMS_H = 52;

interface Column { key: 'name' | 'spec' | 'unit' | 'quantity' | 'unitPrice' | 'amount' | 'rate' | 'tax'; head: string; x: number; w: number; align: 'left' | 'right' | 'center' }
const COLUMNS: Column[] = [
  { key: 'name', head: '项目名称', x: 12, w: 46, align: 'left' },
  { key: 'spec', head: '规格型号', x: 58, w: 22, align: 'left' },
  { key: 'unit', head: '单 位', x: 80, w: 10, align: 'center' },
  { key: 'quantity', head: '数 量', x: 90, w: 18, align: 'right' },
  { key: 'unitPrice', head: '单 价', x: 108, w: 22, align: 'right' },
  { key: 'amount', head: '金 额', x: 130, w: 25, align: 'right' },
  { key: 'rate', head: '税率/征收率', x: 155, w: 16, align: 'center' },
  { key: 'tax', head: '税 额', x: 171, w: 27, align: 'right' },
];
const PAD = 1.6;

interface Row { line: InvoiceLine; name: string[]; spec: string[]; h: number }

/**
 * What the face shows beyond the signed fields, as the platform does when the seller asks: the buyer's (and/or the
 * seller's) address, phone, bank and account printed in 备注 before the remarks. The party blocks of a 数电票 show name
 * and tax ID only, so a 专票 buyer that needs its details on the printed face gets them here. The signed invoice (its
 * XML, hash and signature) is the same either way; only the printed remarks differ.
 */
export interface FaceOptions {
  buyerDetails?: boolean;
  sellerDetails?: boolean;
}

/** The lines of 备注 as printed: the requested party details, then the invoice's remarks. */
export function faceRemarks(invoice: Invoice, face: FaceOptions = {}): string {
  const out: string[] = [];
  const details = (side: '购方' | '销方', p: Party): void => {
    const contact = [p.address !== undefined && `${side}地址：${p.address}`, p.phone !== undefined && `电话：${p.phone}`].filter((x): x is string => !!x);
    const bank = [p.bankName !== undefined && `${side}开户银行：${p.bankName}`, p.bankAccount !== undefined && `银行账号：${p.bankAccount}`].filter((x): x is string => !!x);
    if (contact.length > 0) out.push(`${contact.join('；')}；`);
    if (bank.length > 0) out.push(`${bank.join('；')}；`);
  };
  if (face.buyerDetails === true) details('购方', invoice.buyer);
  if (face.sellerDetails === true) details('销方', invoice.seller);
  if (invoice.remarks !== undefined && invoice.remarks !== '') out.push(invoice.remarks);
  return out.join('\n');
}

/** Pages of drawing items for an invoice. */
export function layoutInvoice(invoice: Invoice, face: FaceOptions = {}): Item[][] {
  const rows = invoice.lines.map(measureRow);
  const remarks = wrap(faceRemarks(invoice, face), R - L - LABEL_W - 2 * PAD, S.label);
  const remarksH = Math.max(MIN_REMARKS_H, remarks.length * LINE_H + 4);
  const pages = paginate(rows, LIMIT - ITEMS_TOP - TOTAL_H - CAPS_H - remarksH, LIMIT - ITEMS_TOP - TOTAL_H);
  return pages.map((pageRows, i) => {
    const c = new Canvas();
    const last = i === pages.length - 1;
    header(c, invoice);
    parties(c, invoice.buyer, invoice.seller);
    tableHead(c);
    let y = ITEMS_TOP;
    for (const row of pageRows) y = drawRow(c, row, y);
    let bottom: number;
    if (last) {
      const itemsBottom = Math.max(y + TOTAL_H, ITEMS_TOP + MIN_ITEMS_H);
      totals(c, invoice, itemsBottom);
      bottom = remarksBlock(c, remarks, itemsBottom + CAPS_H, remarksH);
    } else {
      bottom = LIMIT;
      c.text('（续下页）', L, bottom - 2.4, S.label, { align: 'center', width: R - L, color: FRAME });
    }
    c.rect(L, TOP, R - L, bottom - TOP);
    c.text('开票人：', L + 2, bottom + 6, S.head, { color: FRAME });
    c.text(invoice.issuer, L + 2 + textWidth('开票人：', S.head), bottom + 6, S.head);
    if (pages.length > 1) c.text(`第 ${i + 1} 页 共 ${pages.length} 页`, R - 40, bottom + 6, S.label, { align: 'right', width: 40, color: FRAME });
    return c.items;
  });
}

function measureRow(line: InvoiceLine): Row {
  const name = wrap(line.name, COLUMNS[0]!.w - 2 * PAD, S.cell);
  const spec = wrap(line.spec ?? '', COLUMNS[1]!.w - 2 * PAD, S.cell);
  return { line, name, spec, h: Math.max(name.length, spec.length) * LINE_H + ROW_PAD };
}

/** Greedy: a page that is not the last keeps at least one row for the last page, where the totals go. */
function paginate(rows: Row[], lastCapacity: number, fullCapacity: number): Row[][] {
  const pages: Row[][] = [];
  let rest = rows;
  for (;;) {
    if (height(rest) <= lastCapacity || rest.length <= 1) {
      pages.push(rest);
      return pages;
    }
    let n = 0, h = 0;
    while (n < rest.length - 1 && h + rest[n]!.h <= fullCapacity) h += rest[n++]!.h;
    n = Math.max(n, 1);
    pages.push(rest.slice(0, n));
    rest = rest.slice(n);
  }
}

function height(rows: Row[]): number {
  return rows.reduce((h, r) => h + r.h, 0);
}

function header(c: Canvas, inv: Invoice): void {
  c.qr(inv.qr, QR.x, QR.y, QR.size);
  const title = invoiceTitle(inv.type);
  const tw = textWidth(title, S.title, 'bold');
  const tx = 105 - tw / 2;
  const ty = 20 + HEAD_SHIFT;
  c.text(title, tx, ty, S.title, { weight: 'bold', color: FRAME });
  c.line(tx - 3, ty + 3.2, tx + tw + 3, ty + 3.2, 0.35);
  c.line(tx - 3, ty + 4.2, tx + tw + 3, ty + 4.2, 0.35);
  if (inv.kind === 'red') {
    c.rect(tx - 16, ty - 6.6, 12, 8, 0.5, RED);
    c.text('红字', tx - 16, ty - 0.9, S.head * 1.3, { weight: 'bold', color: RED, align: 'center', width: 12 });
  }
  const fields: [string, string][] = [['发票号码：', inv.number], ['开票日期：', zhDate(inv.issueDate)]];
  if (inv.originalNumber !== undefined) fields.push(['原发票号码：', inv.originalNumber]);
  fields.forEach(([label, value], i) => {
    const y = 16 + HEAD_SHIFT + i * 6;
    c.text(label, HX, y, S.head, { color: FRAME });
    c.text(value, HX + textWidth(label, S.head), y, S.head, { width: R - HX - textWidth(label, S.head) });
  });
}

function parties(c: Canvas, buyer: Party, seller: Party): void {
  const mid = (L + R) / 2;
  c.line(L, TOP + PARTY_H, R, TOP + PARTY_H);
  c.line(mid, TOP, mid, TOP + PARTY_H);
  partyBlock(c, '购买方信息', buyer, L, mid);
  partyBlock(c, '销售方信息', seller, mid, R);
}

function partyBlock(c: Canvas, label: string, p: Party, x0: number, x1: number): void {
  c.line(x0 + LABEL_W, TOP, x0 + LABEL_W, TOP + PARTY_H);
  c.vertical(label, x0, LABEL_W, TOP, PARTY_H, S.label);
  const x = x0 + LABEL_W + 2, w = x1 - x - 2;
  const nameLabel = '名称：';
  const nw = textWidth(nameLabel, S.label);
  c.text(nameLabel, x, TOP + 7, S.label, { color: FRAME });
  // A long name gets a second line before it is shrunk.
  const lines = wrap(p.name, w - nw, S.label);
  if (lines.length <= 2) lines.forEach((l, i) => c.text(l, x + nw, TOP + 7 + i * 4, S.label));
  else c.text(p.name, x + nw, TOP + 7, S.label * 0.6, { width: w - nw });
  const idLabel = '统一社会信用代码/纳税人识别号：';
  const iw = textWidth(idLabel, S.label * 0.9);
  c.text(idLabel, x, TOP + 17, S.label * 0.9, { color: FRAME });
  if (p.taxId !== undefined) c.text(p.taxId, x + iw, TOP + 17, S.label, { width: w - iw });
}

function tableHead(c: Canvas): void {
  for (const col of COLUMNS) c.text(col.head, col.x, TOP + PARTY_H + 4.8, S.label, { align: 'center', width: col.w, color: FRAME });
}

function drawRow(c: Canvas, row: Row, top: number): number {
  const l = row.line;
  const base = top + LINE_H - 0.6;
  const single: Partial<Record<Column['key'], string | undefined>> = {
    unit: l.unit, quantity: l.quantity, unitPrice: l.unitPrice, amount: l.amount, rate: rateLabel(l), tax: taxLabel(l),
  };
  for (const col of COLUMNS) {
    const x = col.x + PAD, w = col.w - 2 * PAD;
    if (col.key === 'name' || col.key === 'spec') {
      (col.key === 'name' ? row.name : row.spec).forEach((t, i) => c.text(t, x, base + i * LINE_H, S.cell));
    } else {
      const v = single[col.key];
      if (v !== undefined) c.text(v, x, base, S.cell, { align: col.align, width: w });
    }
  }
  return top + row.h;
}

function totals(c: Canvas, inv: Invoice, itemsBottom: number): void {
  const amount = COLUMNS[5]!, tax = COLUMNS[7]!;
  const y = itemsBottom - 2.3;
  c.text('合　　计', COLUMNS[0]!.x, y, S.label, { align: 'center', width: COLUMNS[0]!.w, color: FRAME });
  c.text(`¥${inv.totals.amount}`, amount.x + PAD, y, S.cell, { align: 'right', width: amount.w - 2 * PAD });
  c.text(`¥${inv.totals.tax}`, tax.x + PAD, y, S.cell, { align: 'right', width: tax.w - 2 * PAD });
  c.line(L, itemsBottom, R, itemsBottom);
  const by = itemsBottom + CAPS_H / 2 + 1.2;
  c.text('价税合计（大写）', L + 2, by, S.label, { color: FRAME });
  const capsX = L + 2 + textWidth('价税合计（大写）', S.label) + 4;
  c.text(`⊗ ${inv.totals.totalInCapitals}`, capsX, by, S.caps, { width: 140 - capsX - 2 });
  c.text('（小写）', 142, by, S.label, { color: FRAME });
  c.text(`¥${inv.totals.total}`, 142 + textWidth('（小写）', S.label), by, S.caps, { width: R - 142 - textWidth('（小写）', S.label) - 2 });
  c.line(L, itemsBottom + CAPS_H, R, itemsBottom + CAPS_H);
}

function remarksBlock(c: Canvas, remarks: string[], top: number, h: number): number {
  c.line(L + LABEL_W, top, L + LABEL_W, top + h);
  c.vertical('备注', L, LABEL_W, top, h, S.label);
  remarks.forEach((t, i) => c.text(t, L + LABEL_W + PAD, top + 4.5 + i * LINE_H, S.label));
  return top + h;
}
