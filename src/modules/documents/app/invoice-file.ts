// Reads an invoice from a file as the server hands it out, for offline verification: JSON, platform XML, PDF with its
// XML attached, OFD with its XML attached, UBL Invoice/CreditNote with the signed XML in an extension. Pure: bytes
// in, invoice out, plus the checks that the visible document agrees with the signed invoice it carries (for a PDF,
// what its pages show: pdf-face.ts).
import { inflateSync } from 'node:zlib';
import { unzipSync } from 'fflate';
import type { Invoice } from '../../../shared/invoice.ts';
import { sm2Verify } from '../../../platform/crypto/sm2.ts';
import { sm3 } from '../../../platform/crypto/sm3.ts';
import { OFD_INVOICE_XML, OFD_PACKAGE_KEY, OID_SM2_SM3, OID_SM3 } from '../domain/ofd-names.ts';
import { UBL_SIGNED_INVOICE_NS } from '../domain/to-ubl.ts';
import { negate } from '../domain/text.ts';
import { ledgerProofFromXml, parseInvoiceXml } from '../domain/xml-parse.ts';
import type { LedgerProof } from '../domain/ledger-proof.ts';

export type InvoiceFileKind = 'json' | 'xml' | 'pdf' | 'ofd' | 'ubl';

/** One check of a document against the signed invoice it carries. */
export interface FileCheck { ok: boolean; what: string; text: string }

export class InvoiceFileError extends Error {
  override name = 'InvoiceFileError';
}

const UBL_NS = /xmlns="urn:oasis:names:specification:ubl:schema:xsd:(Invoice|CreditNote)-2"/;

export function detectKind(bytes: Uint8Array): InvoiceFileKind | undefined {
  const head = Buffer.from(bytes.subarray(0, 64)).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  if (head.startsWith('%PDF-')) return 'pdf';
  if (head.startsWith('PK\x03\x04')) return 'ofd';
  if (head.startsWith('<')) return UBL_NS.test(Buffer.from(bytes.subarray(0, 4096)).toString('utf8')) ? 'ubl' : 'xml';
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
    // The end-of-line before `endstream` is not data, but the data may itself end in CR or LF (one compressed stream
    // in 128 does): inflate what lies between the keywords, since zlib stops at its own end and ignores what follows.
    const raw = Buffer.from(text.slice(start, end), 'latin1');
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

const unescape = (s: string): string =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d))).replace(/&amp;/g, '&');

/** The signed invoice attached to an OFD made by the server, and the fields its DocInfo shows. */
export function fromOfd(ofd: Uint8Array): { xml: string; shown: Record<string, string>; signature: OfdSignatureCheck } {
  const files = unzipSync(ofd);
  const attached = files[OFD_INVOICE_XML];
  if (!attached) throw new InvoiceFileError('the OFD has no attached invoice XML');
  const shown: Record<string, string> = {};
  const root = files['OFD.xml'] ? new TextDecoder().decode(files['OFD.xml']) : '';
  for (const m of root.matchAll(/<ofd:CustomData Name="([^"]*)">([^<]*)<\/ofd:CustomData>/g)) shown[unescape(m[1]!)] = unescape(m[2]!);
  return { xml: new TextDecoder('utf-8', { fatal: true }).decode(attached), shown, signature: ofdSignature(files, root) };
}

/** The OFD package signature: the digest checks (no key needed) and the SM2 check under a public key. */
export interface OfdSignatureCheck {
  digests: FileCheck;
  signature(publicKeyHex: string, keyId: string): FileCheck;
}

const OFD_SIG = 'ofd-signature';
const loc = (path: string, base: string): string => (path.startsWith('/') ? path.slice(1) : `${base}${path}`);

/**
 * Checks the package signature as to-ofd.ts writes it (GB/T 33190 §18, GB/T 38540 type Sign): OFD.xml's Signatures →
 * Signatures.xml → one Signature.xml whose References digest (SM3) every part outside the signatures' own
 * directories, and whose SignedValue is the DER SM2 signature (user ID 1234567812345678) of Signature.xml's bytes.
 * A part that is changed, missing or not referenced fails.
 */
function ofdSignature(files: Record<string, Uint8Array>, root: string): OfdSignatureCheck {
  const fail = (text: string): OfdSignatureCheck => ({ digests: { ok: false, what: OFD_SIG, text }, signature: () => ({ ok: false, what: OFD_SIG, text: 'no signature to check' }) });
  const text = (path: string): string | undefined => (files[path] ? new TextDecoder().decode(files[path]) : undefined);
  const listLoc = /<ofd:Signatures>([^<]+)<\/ofd:Signatures>/.exec(root)?.[1];
  if (!listLoc) return fail('the OFD carries no package signature (no Signatures in OFD.xml)');
  const listPath = loc(unescape(listLoc.trim()), '');
  const list = text(listPath);
  if (!list) return fail(`${listPath} is missing`);
  const listDir = listPath.replace(/[^/]*$/, '');
  const entries = [...list.matchAll(/<ofd:Signature ([^>]*)\/?>/g)].map((m) => /BaseLoc="([^"]*)"/.exec(m[1]!)?.[1]).filter((b): b is string => !!b);
  if (entries.length !== 1) return fail(`${listPath} lists ${entries.length} signatures (expected one)`);
  const sigPath = loc(unescape(entries[0]!), listDir);
  const sigBytes = files[sigPath];
  const sigXml = text(sigPath);
  if (!sigBytes || !sigXml) return fail(`${sigPath} is missing`);
  if (/<ofd:SignatureMethod>([^<]*)</.exec(sigXml)?.[1]?.trim() !== OID_SM2_SM3) return fail(`${sigPath}: SignatureMethod is not SM2 (${OID_SM2_SM3})`);
  if (/<ofd:References CheckMethod="([^"]*)"/.exec(sigXml)?.[1] !== OID_SM3) return fail(`${sigPath}: CheckMethod is not SM3 (${OID_SM3})`);
  const refs = [...sigXml.matchAll(/<ofd:Reference FileRef="([^"]*)">\s*<ofd:CheckValue>([^<]*)<\/ofd:CheckValue>/g)].map((m) => [loc(unescape(m[1]!), ''), m[2]!.trim()] as const);
  const valuePath = loc(unescape(/<ofd:SignedValue>([^<]*)</.exec(sigXml)?.[1]?.trim() ?? ''), sigPath.replace(/[^/]*$/, ''));
  const signedValue = files[valuePath];
  if (!signedValue) return fail(`the signed value ${valuePath} is missing`);
  // Outside the signature's own parts, every part must be digested: an added part would otherwise go unnoticed.
  const own = new Set([listPath, sigPath, valuePath]);
  const referenced = new Set(refs.map(([p]) => p));
  const problems: string[] = [];
  for (const [path, value] of refs) {
    const data = files[path];
    if (!data) problems.push(`${path} missing`);
    else if (Buffer.from(sm3(data)).toString('base64') !== value) problems.push(`${path} changed`);
  }
  for (const path of Object.keys(files)) if (!own.has(path) && !referenced.has(path) && !path.endsWith('/')) problems.push(`${path} not signed`);
  const digests: FileCheck = problems.length === 0
    ? { ok: true, what: OFD_SIG, text: `SM3 digests of the ${refs.length} signed parts match` }
    : { ok: false, what: OFD_SIG, text: `parts differ from the signed package: ${problems.slice(0, 5).join(', ')}${problems.length > 5 ? ', …' : ''}` };
  return {
    digests,
    signature: (publicKeyHex, keyId) => sm2Verify(publicKeyHex, sigBytes, signedValue)
      ? { ok: true, what: OFD_SIG, text: `SM2 signature of ${sigPath} verifies under key ${keyId}` }
      : { ok: false, what: OFD_SIG, text: `the SM2 signature of ${sigPath} does not verify under key ${keyId}` },
  };
}

/** The signed invoice in a UBL document made by the server, and the UBL's own number, date and total. */
export function fromUbl(ubl: string): { xml: string; shown: { id?: string; issueDate?: string; total?: string; credit: boolean; alg?: string } } {
  const ext = new RegExp(`<(\\w+):SignedInvoice xmlns:\\1="${UBL_SIGNED_INVOICE_NS.replace(/[.:]/g, '\\$&')}"([^>]*)>([A-Za-z0-9+/=\\s]*)</\\1:SignedInvoice>`).exec(ubl);
  if (!ext) throw new InvoiceFileError('the UBL carries no signed invoice');
  const alg = /\salg="([^"]*)"/.exec(ext[2]!);
  const body = ubl.replace(/<ext:UBLExtensions>[\s\S]*?<\/ext:UBLExtensions>/, '');
  const first = (re: RegExp): string | undefined => { const m = re.exec(body); return m ? unescape(m[1]!) : undefined; };
  return {
    xml: Buffer.from(ext[3]!.replace(/\s+/g, ''), 'base64').toString('utf8'),
    shown: {
      ...(alg ? { alg: unescape(alg[1]!) } : {}),
      id: first(/<cbc:ID>([^<]*)<\/cbc:ID>/),
      issueDate: first(/<cbc:IssueDate>([^<]*)<\/cbc:IssueDate>/),
      total: first(/<cbc:TaxInclusiveAmount[^>]*>([^<]*)<\/cbc:TaxInclusiveAmount>/),
      credit: /^\s*(<\?xml[^>]*>\s*)?<CreditNote\b/.test(ubl),
    },
  };
}

const check = (what: string, shown: string | undefined, signed: string, label: string): FileCheck => shown === signed
  ? { ok: true, what, text: `${label} as signed` }
  : { ok: false, what, text: `${label} shown differs from the signed invoice` };

export interface InvoiceFile {
  kind: InvoiceFileKind;
  invoice: Invoice;
  checks: FileCheck[];
  /** The ledger inclusion proof the file's XML carries (not checked here: see the ledger module). */
  proof?: LedgerProof;
  /**
   * Checks that need a published public key (the OFD package signature: by the invoice's key, or by the key the
   * package names when the invoice's key was rotated out before the file was made). `keyOf` answers a key id's
   * public key (hex), or undefined when it is not published.
   */
  keyChecks?: (keyOf: (keyId: string) => string | undefined) => FileCheck[];
}

/**
 * The invoice a file carries and the checks of what the file shows against it. Asynchronous because a PDF's pages are
 * read with PDF.js (pdf-face.ts).
 */
export async function readInvoiceFile(bytes: Uint8Array): Promise<InvoiceFile> {
  const withProof = (file: InvoiceFile, xml: string): InvoiceFile => {
    const proof = ledgerProofFromXml(xml);
    return proof ? { ...file, proof } : file;
  };
  const kind = detectKind(bytes);
  if (!kind) throw new InvoiceFileError('not a JSON, XML, PDF, OFD or UBL invoice');
  try {
    if (kind === 'json') return { kind, invoice: JSON.parse(Buffer.from(bytes).toString('utf8')) as Invoice, checks: [] };
    if (kind === 'xml') {
      const xml = Buffer.from(bytes).toString('utf8');
      return withProof({ kind, invoice: parseInvoiceXml(xml), checks: [] }, xml);
    }
    if (kind === 'pdf') {
      const xml = xmlFromPdf(bytes);
      const invoice = parseInvoiceXml(xml);
      // The face checks read the page with PDF.js and lay the invoice out again: loaded only for a PDF.
      const { pdfFaceChecks } = await import('./pdf-face.ts');
      return withProof({ kind, invoice, checks: await pdfFaceChecks(bytes, invoice) }, xml);
    }
    if (kind === 'ofd') {
      const { xml, shown, signature } = fromOfd(bytes);
      const invoice = parseInvoiceXml(xml);
      return withProof({ kind, invoice, checks: [
        check('ofd', shown['发票号码'], invoice.number, 'number'),
        check('ofd', shown['价税合计'], invoice.totals.total, 'total'),
        signature.digests,
      ], keyChecks: (keyOf) => {
        const keyId = shown[OFD_PACKAGE_KEY] ?? invoice.signature.keyId;
        const pub = keyOf(keyId);
        return [pub ? signature.signature(pub, keyId) : { ok: false, what: 'ofd-signature', text: `the package is signed by key ${keyId}, which is not among the published keys` }];
      } }, xml);
    }
    const { xml, shown } = fromUbl(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    const invoice = parseInvoiceXml(xml);
    const signedTotal = invoice.kind === 'red' ? negate(invoice.totals.total) : invoice.totals.total;
    return withProof({ kind, invoice, checks: [
      check('ubl', shown.id, invoice.number, 'number'),
      check('ubl', shown.issueDate, invoice.issueDate, 'issue date'),
      check('ubl', shown.total, signedTotal, 'total'),
      check('ubl', shown.credit ? 'red' : 'blue', invoice.kind, 'document type'),
      // Documents rendered before the extension named the algorithm have no `alg`.
      ...(shown.alg === undefined ? [] : [check('ubl', shown.alg, invoice.signature.alg, `signature algorithm ${invoice.signature.alg}`)]),
    ] }, xml);
  } catch (err) {
    if (err instanceof InvoiceFileError) throw err;
    throw new InvoiceFileError(`cannot read the ${kind} invoice: ${err instanceof Error ? err.message : String(err)}`);
  }
}
