// PDF rendering of an invoice: pdfkit with Noto Sans SC (subset embedded), drawing the shared layout (layout.ts).
//
// Deterministic: pdfkit derives the trailer /ID from an MD5 of the Info dictionary (PDFSecurity.generateFileID), so
// fixing Info — CreationDate and ModDate from issuedAt — fixes the ID; the font subset tag comes from the font's
// registration order, not from randomness. Same invoice → same bytes.
import PDFDocument from 'pdfkit';
import type { Invoice } from '../../../shared/invoice.ts';
import type { Item, Rgb } from './draw.ts';
import { fallbackFont, font, fontRuns, textWidth } from './font-metrics.ts';
import { layoutInvoice, type FaceOptions } from './layout.ts';
import { InvoiceFieldError, invoiceTitle } from './text.ts';
import { printable } from './printable.ts';
import { openFont } from './font-subset.ts';
import { invoiceToXml } from './to-xml.ts';
import type { LedgerProof } from './ledger-proof.ts';

export interface PdfOptions {
  /** Embed the invoice XML (to-xml.ts, which carries the signature) as `<number>.xml`, like a PDF/A-3 e-invoice. */
  attachXml?: boolean;
  /** The ledger inclusion proof, carried by the attached XML (<LedgerProof>) so the file can be checked offline. */
  ledgerProof?: LedgerProof;
  /** Party details printed in 备注 (layout.ts). */
  face?: FaceOptions;
}

const PT_PER_MM = 72 / 25.4;

/** pdfkit's registerFont accepts a fontkit font (PDFFontFactory.open), which its types do not say. */
const parsed = (data: Buffer): PDFKit.Mixins.PDFFontSource => openFont(data) as unknown as PDFKit.Mixins.PDFFontSource;

export function invoiceToPdf(invoice: Invoice, opts: PdfOptions = {}): Promise<Buffer> {
  const issued = new Date(invoice.issuedAt);
  if (Number.isNaN(issued.getTime())) throw new InvoiceFieldError('/issuedAt', 'is not a date-time');
  const doc = new PDFDocument({
    size: 'A4',
    margin: 0,
    autoFirstPage: false,
    compress: true,
    // PDF/A-3b (ISO 19005-3, level B): XMP metadata naming the part and conformance, the sRGB output intent, every
    // font embedded, and the XML an associated file (/AF) of the document.
    pdfVersion: '1.7',
    subset: 'PDF/A-3b',
    displayTitle: true,
    lang: 'zh-CN',
    info: {
      Title: invoice.number,
      Author: printable(invoice.seller.name),
      Subject: `${invoiceTitle(invoice.type)}${invoice.kind === 'red' ? '（红字）' : ''} ${invoice.number}`,
      Creator: 'Fapiao',
      Producer: 'Fapiao',
      CreationDate: issued,
      ModDate: issued,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  // Parsed once per process (font-subset.ts openFont): parsing the 10 MB CJK font per document was most of the time
  // of a PDF. pdfkit takes a fontkit font as it is and makes its own subset per document.
  doc.registerFont('regular', parsed(font('regular').data));
  doc.registerFont('bold', parsed(font('bold').data));
  // Fallback fonts are registered (and so embedded) only when a character needs them.
  const registered = new Set<number>();
  const fallback = (i: number): string => {
    if (!registered.has(i)) {
      doc.registerFont(`fallback-${i}`, parsed(fallbackFont(i).data));
      registered.add(i);
    }
    return `fallback-${i}`;
  };
  for (const items of layoutInvoice(invoice, opts.face)) {
    doc.addPage({ size: 'A4', margin: 0 });
    for (const item of items) draw(doc, item, fallback);
  }
  if (opts.attachXml) {
    // `relationship` (the /AFRelationship of PDF/A-3) is pdfkit's, missing from @types/pdfkit.
    const attachment: PDFKit.Mixins.PDFAttachmentOptions & { relationship: string } = {
      name: `${invoice.number}.xml`,
      type: 'application/xml',
      description: opts.ledgerProof ? 'Invoice data with signature and ledger inclusion proof' : 'Invoice data with signature',
      relationship: 'Alternative',
      creationDate: issued,
      modifiedDate: issued,
    };
    doc.file(Buffer.from(invoiceToXml(invoice, opts.ledgerProof), 'utf8'), attachment);
  }
  doc.end();
  return done;
}

function draw(doc: PDFKit.PDFDocument, item: Item, fallback: (i: number) => string): void {
  const k = PT_PER_MM;
  switch (item.kind) {
    case 'text': {
      // Each run in the font that has its glyphs, placed with the widths the layout measured.
      let x = item.x;
      for (const run of fontRuns(item.text, item.weight)) {
        doc.font(run.font < 0 ? item.weight : fallback(run.font)).fontSize(item.size * k).fillColor(color(item.color))
          .text(run.text, x * k, item.y * k, { lineBreak: false, baseline: 'alphabetic' });
        x += textWidth(run.text, item.size, item.weight);
      }
      break;
    }
    case 'line':
      doc.moveTo(item.x1 * k, item.y1 * k).lineTo(item.x2 * k, item.y2 * k)
        .lineWidth(item.width * k).strokeColor(color(item.color)).stroke();
      break;
    case 'rect':
      doc.rect(item.x * k, item.y * k, item.w * k, item.h * k).lineWidth(item.width * k).strokeColor(color(item.color)).stroke();
      break;
    case 'qr':
      for (const r of item.runs) doc.rect(r.x * k, r.y * k, r.w * k, r.h * k);
      doc.fillColor('black').fill();
      break;
  }
}

function color(c: Rgb): [number, number, number] {
  return [c[0], c[1], c[2]];
}
