// Reads an invoice from a file as the server hands it out (JSON, platform XML, or PDF with its XML attached), for
// offline verification. Pure: bytes in, invoice out.
import { inflateSync } from 'node:zlib';
import type { Invoice } from '../../../shared/invoice.ts';
import { parseInvoiceXml } from '../domain/xml-parse.ts';

export type InvoiceFileKind = 'json' | 'xml' | 'pdf';

export class InvoiceFileError extends Error {
  override name = 'InvoiceFileError';
}

export function detectKind(bytes: Uint8Array): InvoiceFileKind | undefined {
  const head = Buffer.from(bytes.subarray(0, 64)).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  if (head.startsWith('%PDF-')) return 'pdf';
  if (head.startsWith('<')) return 'xml';
  if (head.startsWith('{')) return 'json';
  return undefined;
}

/** The XML attached to a PDF made by the server (an embedded-file stream holding an `<EInvoice>` document). */
export function xmlFromPdf(pdf: Uint8Array): string {
  const text = Buffer.from(pdf).toString('latin1');
  const re = /stream\r?\n/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const start = m.index + m[0].length;
    const end = text.indexOf('endstream', start);
    if (end < 0) break;
    const raw = Buffer.from(text.slice(start, end).replace(/\r?\n$/, ''), 'latin1');
    for (const candidate of [raw, tryInflate(raw)]) {
      if (!candidate) continue;
      const s = candidate.toString('utf8');
      if (s.includes('<EInvoice')) return s;
    }
  }
  throw new InvoiceFileError('the PDF has no attached invoice XML');
}

function tryInflate(b: Buffer): Buffer | undefined {
  try {
    return inflateSync(b);
  } catch {
    return undefined;
  }
}

export function readInvoiceFile(bytes: Uint8Array): { kind: InvoiceFileKind; invoice: Invoice } {
  const kind = detectKind(bytes);
  if (!kind) throw new InvoiceFileError('not a JSON, XML or PDF invoice');
  try {
    if (kind === 'json') return { kind, invoice: JSON.parse(Buffer.from(bytes).toString('utf8')) as Invoice };
    if (kind === 'xml') return { kind, invoice: parseInvoiceXml(Buffer.from(bytes).toString('utf8')) };
    return { kind, invoice: parseInvoiceXml(xmlFromPdf(bytes)) };
  } catch (err) {
    if (err instanceof InvoiceFileError) throw err;
    throw new InvoiceFileError(`cannot read the ${kind} invoice: ${err instanceof Error ? err.message : String(err)}`);
  }
}
