// OFD (GB/T 33190-2016) rendering of an invoice: our own writer, a ZIP of XML parts:
//   OFD.xml                         DocBody: DocInfo (CustomDatas = the invoice fields) + DocRoot
//   Doc_0/Document.xml              CommonData (A4 PageArea, PublicRes, DocumentRes) + Pages
//   Doc_0/PublicRes.xml             Fonts: Noto Sans SC regular and bold, and the fallbacks a character needs
//                                   (font-metrics.ts), each embedded as a TrueType subset in Doc_0/Res/font_<ID>.ttf
//   Doc_0/DocumentRes.xml           ColorSpaces
//   Doc_0/Pages/Page_N/Content.xml  one Body layer: TextObjects and PathObjects from the shared layout (mm)
//   Doc_0/Attachs/Attachments.xml   one attachment, the signed platform XML (OFD_INVOICE_XML): what
//                                   `fapiao verify file.ofd` checks, as real invoice OFDs attach the platform XML
//   Doc_0/Tags/CustomTags.xml       one custom tag file, Doc_0/Tags/CustomTag.xml: the invoice fields (number, date,
//                                   buyer/seller name and tax ID, amount, tax, total), each an ObjectRef to the
//                                   TextObject(s) on the page that show it, as the platform's 数电票 OFDs do
//   Doc_0/Signs/Signatures.xml      with a signer only (signedInvoiceToOfd): one Signature of Type="Sign",
//   Doc_0/Signs/Sign_0/Signature.xml  SignedInfo (Provider, SignatureMethod SM2 1.2.156.10197.1.501,
//                                   SignatureDateTime = the invoice's issuedAt, References CheckMethod SM3
//                                   1.2.156.10197.1.401 with the base64 SM3 of every other part of the package, i.e.
//                                   all but Doc_0/Signs/*) and SignedValue → Doc_0/Signs/Sign_0/SignedValue.dat
//   Doc_0/Signs/Sign_0/SignedValue.dat  the DER SM2 signature (user ID 1234567812345678, SM3) over the exact bytes of
//                                   Signature.xml (GB/T 38540 "Sign" type, no seal), by the key that signed the
//                                   invoice, or, for an invoice whose key has been rotated out since, by the active
//                                   key, named in DocInfo as CustomData 签章密钥 (OFD_PACKAGE_KEY; OFD.xml is digested)
// Text positions are exact: each TextCode carries DeltaX from the advance widths of its font (a text item becomes one
// TextObject per font run), so every glyph sits where the PDF has it. Deterministic: fixed IDs, fixed ZIP mtime;
// SignedValue.dat too when the signer derives its nonce (the server's OfdSigner: RFC 6979, platform/crypto/sm2-signer.ts).
import { zipSync } from 'fflate';
import type { Invoice } from '../../../shared/invoice.ts';
import { PAGE_H, PAGE_W, round, type Item, type Rgb } from './draw.ts';
import { advances, fallbackFont, font, FONT_FAMILY, fontRuns, textWidth, type FontWeight } from './font-metrics.ts';
import { subsetFont } from './font-subset.ts';
import { layoutInvoice, type FaceOptions } from './layout.ts';
import { invoiceTitle } from './text.ts';
import { invoiceToXml } from './to-xml.ts';
import { createHash } from 'node:crypto';
import type { LedgerProof } from './ledger-proof.ts';
import { el, toXml, type XmlNode } from './xml-writer.ts';
import { OFD_INVOICE_XML, OFD_PACKAGE_KEY, OFD_SIGNATURE, OFD_SIGNATURES, OFD_SIGNED_VALUE, OID_SM2_SM3, OID_SM3 } from './ofd-names.ts';

export { OFD_INVOICE_XML, OFD_PACKAGE_KEY, OFD_SIGNATURE, OFD_SIGNATURES, OFD_SIGNED_VALUE, OID_SM2_SM3, OID_SM3 };

export const OFD_NS = 'http://www.ofdspec.org/2016';
const NS = { 'xmlns:ofd': OFD_NS };
const FONT_ID: Record<FontWeight, string> = { regular: '2', bold: '3' };
/** Font IDs of the fallback fonts: 4, 5, … (below the first object ID, 10). */
const fallbackId = (i: number): string => String(4 + i);
const runFontId = (run: { font: number }, weight: FontWeight): string => (run.font < 0 ? FONT_ID[weight] : fallbackId(run.font));
const COLOR_SPACE_ID = '1';

/** The invoice as an OFD without a package signature (the signed platform XML is attached all the same). */
/** What an OFD carries besides the invoice. */
export interface OfdOptions {
  /** The ledger inclusion proof, in the attached XML. */
  ledgerProof?: LedgerProof;
  /** Party details printed in 备注 (layout.ts). */
  face?: FaceOptions;
  /** The key that signs the package when it is not the invoice's own (named in DocInfo, OFD_PACKAGE_KEY). */
  packageKeyId?: string;
}


export function invoiceToOfd(invoice: Invoice, opts: OfdOptions = {}): Uint8Array {
  return buildOfd(invoice, { ...opts, packageKeyId: undefined }, false).finish();
}

/** The unsigned package: the bytes to sign (Signature.xml, exactly as archived) and how to finish the archive. */
export interface OfdToSign {
  toBeSigned: Uint8Array;
  finish(signedValue: Uint8Array): Uint8Array;
}

/** Builds the package up to its signature: sign `toBeSigned` (SM2, user ID 1234567812345678) and pass the DER to finish. */
export function prepareSignedOfd(invoice: Invoice, opts: OfdOptions = {}): OfdToSign {
  const built = buildOfd(invoice, opts, true);
  return { toBeSigned: built.signatureXml!, finish: (sig) => built.finish(sig) };
}

/**
 * The invoice as a signed OFD; `sign` returns the DER SM2 signature of a message by the invoice's signing key, or by
 * the key `opts.packageKeyId`.
 */
export async function signedInvoiceToOfd(invoice: Invoice, sign: (message: Uint8Array) => Promise<Uint8Array>, opts: OfdOptions = {}): Promise<Uint8Array> {
  const draft = prepareSignedOfd(invoice, opts);
  return draft.finish(await sign(draft.toBeSigned));
}

function buildOfd(invoice: Invoice, opts: OfdOptions, signed: boolean): { signatureXml?: Uint8Array; finish(signedValue?: Uint8Array): Uint8Array } {
  const { ledgerProof } = opts;
  const packageKey = signed && opts.packageKeyId !== undefined && opts.packageKeyId !== invoice.signature.keyId ? opts.packageKeyId : undefined;
  const pages = layoutInvoice(invoice, opts.face);
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
        el('ofd:CustomDatas', [...customData(invoice), ...(packageKey ? [[OFD_PACKAGE_KEY, packageKey] as const] : [])]
          .map(([name, value]) => el('ofd:CustomData', value, { Name: name }))),
      ]),
      el('ofd:DocRoot', 'Doc_0/Document.xml'),
      ...(signed ? [el('ofd:Signatures', OFD_SIGNATURES)] : []),
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
    const data = fid === FONT_ID.regular ? font('regular') : fid === FONT_ID.bold ? font('bold') : fallbackFont(idx);
    const file = `font_${fid}.ttf`;
    files[`Doc_0/Res/${file}`] = subsetFont(data.data, chars);
    const name = fid === FONT_ID.bold ? `${FONT_FAMILY} Bold` : fid === FONT_ID.regular ? FONT_FAMILY : data.postscriptName;
    const family = idx >= 0 ? data.postscriptName : FONT_FAMILY;
    fontNodes.push(el('ofd:Font', [el('ofd:FontFile', file)], {
      ID: fid, FontName: name, FamilyName: family, ...(fid === FONT_ID.bold ? { Bold: 'true' } : {}),
    }));
  }

  const pageRefs: XmlNode[] = [];
  const drawn: DrawnPage[] = [];
  pages.forEach((items, i) => {
    const pageId = id();
    pageRefs.push(el('ofd:Page', undefined, { ID: pageId, BaseLoc: `Pages/Page_${i}/Content.xml` }));
    const texts: DrawnPage['texts'] = [];
    const objs = items.flatMap((it) => {
      const nodes = objects(it, id);
      if (it.kind === 'text') texts.push({ text: it.text, ids: nodes.map((n) => n.attrs!.ID!) });
      return nodes;
    });
    drawn.push({ pageId, texts });
    put(`Doc_0/Pages/Page_${i}/Content.xml`, el('ofd:Page', [
      el('ofd:Content', [el('ofd:Layer', objs, { ID: id(), Type: 'Body' })]),
    ], NS));
  });
  put('Doc_0/Tags/CustomTags.xml', el('ofd:CustomTags', [
    el('ofd:CustomTag', [el('ofd:FileLoc', 'CustomTag.xml')], { NameSpace: CUSTOM_TAG_NS }),
  ], NS));
  files['Doc_0/Tags/CustomTag.xml'] = new TextEncoder().encode(toXml(customTag(invoice, drawn)));

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
    // Schema order: CustomTags before Attachments.
    el('ofd:CustomTags', 'Tags/CustomTags.xml'),
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
  ordered[OFD_INVOICE_XML] = signedXml;
  let signatureXml: Uint8Array | undefined;
  if (signed) {
    ordered[OFD_SIGNATURES] = new TextEncoder().encode(toXml(el('ofd:Signatures', [
      el('ofd:Signature', undefined, { ID: 'Sign_0', Type: 'Sign', BaseLoc: `/${OFD_SIGNATURE}` }),
    ], NS)));
    signatureXml = new TextEncoder().encode(toXml(el('ofd:Signature', [
      el('ofd:SignedInfo', [
        el('ofd:Provider', undefined, { ProviderName: 'Fapiao', Version: '1.0', Company: invoice.seller.name }),
        el('ofd:SignatureMethod', OID_SM2_SM3),
        el('ofd:SignatureDateTime', invoice.issuedAt),
        el('ofd:References', Object.entries(ordered).filter(([k]) => !isSignaturePart(k)).map(([k, v]) =>
          el('ofd:Reference', [el('ofd:CheckValue', createHash('sm3').update(v).digest('base64'))], { FileRef: `/${k}` })), { CheckMethod: OID_SM3 }),
      ]),
      el('ofd:SignedValue', `/${OFD_SIGNED_VALUE}`),
    ], NS)));
    ordered[OFD_SIGNATURE] = signatureXml;
  }
  const finish = (signedValue?: Uint8Array): Uint8Array => {
    if (signed !== (signedValue !== undefined)) throw new Error(signed ? 'the OFD signature is missing' : 'unsigned OFD');
    // The signed XML is stored, not deflated: any tool that lists the archive can read it as is.
    const archive: Parameters<typeof zipSync>[0] = { ...ordered, [OFD_INVOICE_XML]: [signedXml, { level: 0 }] };
    if (signedValue) archive[OFD_SIGNED_VALUE] = [signedValue, { level: 0 }];
    return zipSync(archive, { level: 6, mtime: zipTime(invoice.issueDate) });
  };
  return signatureXml ? { signatureXml, finish } : { finish };
}

/** The parts a package signature does not digest: its own (everything under Doc_0/Signs/). */
export function isSignaturePart(path: string): boolean {
  return path.replace(/^\//, '').startsWith('Doc_0/Signs/');
}

/** The NameSpace of our custom tag file (GB/T 33190 §16 leaves it to the producer). */
export const CUSTOM_TAG_NS = 'urn:fapiao:ofd:invoice-tags:1';

interface DrawnPage { pageId: string; texts: { text: string; ids: string[] }[] }

/**
 * The invoice fields as a custom tag file, each element holding the field's value's ObjectRefs: the TextObjects (one
 * per font run) of the first text item equal to the shown value after its label, on the first page (header) or the
 * last (totals). A field the page does not show (an individual buyer's absent tax ID) is left out.
 */
function customTag(inv: Invoice, pages: DrawnPage[]): XmlNode {
  const [y, m, d] = inv.issueDate.split('-');
  const fields: [tag: string, page: DrawnPage, label: string, labelIndex: number, value: string | undefined][] = [
    ['InvoiceNo', pages[0]!, '发票号码：', 0, inv.number],
    ['IssueDate', pages[0]!, '开票日期：', 0, `${y}年${m}月${d}日`],
    ['BuyerName', pages[0]!, '名称：', 0, inv.buyer.name],
    ['BuyerTaxID', pages[0]!, '统一社会信用代码/纳税人识别号：', 0, inv.buyer.taxId],
    ['SellerName', pages[0]!, '名称：', 1, inv.seller.name],
    ['SellerTaxID', pages[0]!, '统一社会信用代码/纳税人识别号：', 1, inv.seller.taxId],
    ['TaxExclusiveTotalAmount', pages.at(-1)!, '合　　计', 0, `¥${inv.totals.amount}`],
    ['TaxTotalAmount', pages.at(-1)!, '合　　计', 0, `¥${inv.totals.tax}`],
    ['TaxInclusiveTotalAmount', pages.at(-1)!, '（小写）', 0, `¥${inv.totals.total}`],
  ];
  const children: XmlNode[] = [];
  let after = -1;
  for (const [tag, page, label, k, value] of fields) {
    if (value === undefined) continue;
    const labels = page.texts.flatMap((t, i) => (t.text === label ? [i] : []));
    const from = labels[k];
    if (from === undefined) continue;
    // The tax follows the amount in the same row: search after the amount, so equal values get different objects.
    const start = tag === 'TaxTotalAmount' ? Math.max(from, after) + 1 : from + 1;
    const i = page.texts.findIndex((t, j) => j >= start && t.text === value);
    if (i < 0) continue;
    if (tag === 'TaxExclusiveTotalAmount') after = i;
    children.push(el(tag, page.texts[i]!.ids.map((oid) => el('ofd:ObjectRef', oid, { PageRef: page.pageId }))));
  }
  return el('eInvoice', children, { ...NS, xmlns: CUSTOM_TAG_NS });
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
