// Which representation of an invoice a client gets: `?format=` wins, then the Accept header (RFC 9110 §12.5.1,
// q-values, the most specific matching range decides a format's q), `*/*` or no Accept → JSON. Nothing acceptable
// → undefined, and the caller answers 406.
//
// Media types: JSON `application/json`; platform XML `application/xml` (also matched by `text/xml`); PDF
// `application/pdf`; OFD `application/ofd` (the type Chinese platforms serve; not IANA-registered); UBL
// `application/vnd.oasis.ubl+xml` (not registered either; Peppol transports UBL as application/xml, which here means
// the platform XML, so a UBL client asks with this type or with ?format=ubl).
import type { Invoice } from '../../../shared/invoice.ts';
import type { RenderOptions } from './ledger-proof.ts';
import { invoiceToUbl } from './to-ubl.ts';
import { invoiceToXml } from './to-xml.ts';

export type FormatName = 'json' | 'xml' | 'pdf' | 'ofd' | 'ubl';

export interface FormatInfo {
  /** The media type of the format (without parameters). */
  contentType: string;
  /** Media types in Accept that select this format (the first is contentType). */
  accepts: readonly string[];
  extension: string;
  /** Text formats are UTF-8 and get `; charset=utf-8`. */
  text: boolean;
}

/** In order of preference when a wildcard leaves the choice to us. */
export const FORMATS: Readonly<Record<FormatName, FormatInfo>> = {
  json: { contentType: 'application/json', accepts: ['application/json'], extension: 'json', text: true },
  xml: { contentType: 'application/xml', accepts: ['application/xml', 'text/xml'], extension: 'xml', text: true },
  pdf: { contentType: 'application/pdf', accepts: ['application/pdf'], extension: 'pdf', text: false },
  ofd: { contentType: 'application/ofd', accepts: ['application/ofd'], extension: 'ofd', text: false },
  ubl: { contentType: 'application/vnd.oasis.ubl+xml', accepts: ['application/vnd.oasis.ubl+xml'], extension: 'ubl.xml', text: true },
};

const NAMES = Object.keys(FORMATS) as FormatName[];

export function isFormatName(v: string): v is FormatName {
  return (NAMES as string[]).includes(v);
}

interface Range { type: string; subtype: string; q: number; index: number }

function parseAccept(accept: string): Range[] {
  const ranges: Range[] = [];
  accept.split(',').forEach((part, index) => {
    const [mediaRange, ...params] = part.split(';').map((s) => s.trim());
    const [type, subtype] = (mediaRange ?? '').toLowerCase().split('/');
    if (!type || !subtype) return;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=').map((s) => s.trim());
      if (k?.toLowerCase() === 'q' && v !== undefined && /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v)) q = Number(v);
    }
    ranges.push({ type, subtype, q, index });
  });
  return ranges;
}

/** Specificity of a range for a media type: 2 exact, 1 `type/*`, 0 `*\/*`, -1 no match. */
function match(r: Range, mediaType: string): number {
  const [type, subtype] = mediaType.split('/');
  if (r.type === type && r.subtype === subtype) return 2;
  if (r.type === type && r.subtype === '*') return 1;
  if (r.type === '*' && r.subtype === '*') return 0;
  return -1;
}

/** Picks the format: explicit `?format=` wins (unknown → undefined); then Accept; none/`*\/*` → json. */
export function pickFormat(formatParam?: string, accept?: string): FormatName | undefined {
  if (formatParam !== undefined && formatParam.trim() !== '') {
    const f = formatParam.trim().toLowerCase();
    return isFormatName(f) ? f : undefined;
  }
  if (accept === undefined || accept.trim() === '') return 'json';
  const ranges = parseAccept(accept);
  let best: { name: FormatName; q: number; spec: number; index: number; order: number } | undefined;
  NAMES.forEach((name, order) => {
    // A format's q is that of the most specific range matching any of its media types.
    let chosen: Range | undefined;
    let spec = -1;
    for (const mt of FORMATS[name].accepts) {
      for (const r of ranges) {
        const s = match(r, mt);
        if (s > spec || (s === spec && chosen && s >= 0 && r.q > chosen.q)) { spec = s; chosen = r; }
      }
    }
    if (!chosen || chosen.q <= 0) return;
    const cand = { name, q: chosen.q, spec, index: chosen.index, order };
    if (!best || cand.q > best.q || (cand.q === best.q && (cand.spec > best.spec ||
      (cand.spec === best.spec && (cand.index < best.index || (cand.index === best.index && cand.order < best.order)))))) best = cand;
  });
  return best?.name;
}

export interface RenderedInvoice {
  /** With `; charset=utf-8` for text formats. */
  contentType: string;
  body: Buffer | string;
  filename: string;
}

/**
 * The invoice as `format`. With `opts.ledgerProof` every document but JSON carries the inclusion proof in its XML
 * (the PDF's and OFD's attachment, the UBL's signed-invoice extension), so the bytes depend on the checkpoint too.
 */
export async function renderInvoice(invoice: Invoice, format: FormatName, opts: RenderOptions = {}): Promise<RenderedInvoice> {
  const proof = opts.ledgerProof;
  const info = FORMATS[format];
  const contentType = info.text ? `${info.contentType}; charset=utf-8` : info.contentType;
  const filename = `${invoice.number}.${info.extension}`;
  let body: Buffer | string;
  switch (format) {
    case 'json': body = JSON.stringify(invoice); break;
    case 'xml': body = invoiceToXml(invoice, proof); break;
    // The PDF carries its XML (with hash and signature) as an attachment, so `fapiao verify file.pdf` works offline.
    // The PDF and OFD writers (fonts, PDFKit, fontkit, QR codes) are loaded with the first such document.
    case 'pdf': body = await (await import('./to-pdf.ts')).invoiceToPdf(invoice, { attachXml: true, ...(proof ? { ledgerProof: proof } : {}), ...(opts.face ? { face: opts.face } : {}) }); break;
    case 'ofd': {
      // Signed by the active key; when that is no longer the invoice's own key, the package names it (to-ofd.ts).
      const signer = opts.ofdSigner;
      const { invoiceToOfd, signedInvoiceToOfd } = await import('./to-ofd.ts');
      const o = { ...(proof ? { ledgerProof: proof } : {}), ...(opts.face ? { face: opts.face } : {}), ...(signer ? { packageKeyId: signer.keyId } : {}) };
      body = Buffer.from(signer ? await signedInvoiceToOfd(invoice, (m) => signer.sign(m), o) : invoiceToOfd(invoice, o));
      break;
    }
    case 'ubl': body = invoiceToUbl(invoice, { ...opts.ubl, ...(proof ? { ledgerProof: proof } : {}) }); break;
  }
  return { contentType, body, filename };
}
