// Reads the XML written by to-xml.ts back into the exact Invoice it came from (deep-equal, optional fields absent
// where they were absent), so a verifier can rebuild the signed body from the file alone and check the signature.
// fast-xml-parser with parseTagValue:false and trimValues:false keeps every value a string, byte for byte.
// Errors name the element at fault, never its content: a file holds the buyer's personal data.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import {
  INVOICE_TYPE_CODE, type Invoice, type InvoiceLine, type InvoiceStatus, type InvoiceType, type Party, type TaxExemption,
} from '../../../shared/invoice.ts';
import { keyAlgorithmOf, type SignatureAlg } from '../../../shared/signing.ts';
import { EXEMPTION_LABEL } from './text.ts';
import type { LedgerProof } from './ledger-proof.ts';

type Obj = Record<string, unknown>;

export class InvoiceXmlError extends Error {
  override readonly name = 'InvoiceXmlError';
}

const parser = new XMLParser({
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreAttributes: true,
  // Numeric character references (&#13;) are decoded only with htmlEntities; the writer emits no named ones.
  htmlEntities: true,
  isArray: (name, jpath) => jpath === 'EInvoice.EInvoiceData.IssuItemInformation' || jpath === 'EInvoice.FapiaoExtension.Lines.Line'
    || jpath === 'EInvoice.FapiaoExtension.LedgerProof.InclusionProof.ProofHash',
});

const STATUSES: readonly InvoiceStatus[] = ['normal', 'red-flushed-partial', 'red-flushed'];

/** Parses invoice XML into an Invoice; throws InvoiceXmlError on malformed or incomplete input. */
/**
 * XML 1.0 well-formedness: the validator's checks, and only characters of the `Char` production (§2.2). The parser
 * would read a NUL or another control character between elements as nothing at all, so a byte changed there would go
 * unnoticed; the renderers never write one (printable.ts).
 */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function checkWellFormed(xml: string): void {
  const at = NOT_XML_CHAR.exec(xml)?.index;
  if (at !== undefined) throw new InvoiceXmlError(`malformed XML: a character XML does not allow (line ${xml.slice(0, at).split('\n').length})`);
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new InvoiceXmlError(`malformed XML: ${valid.err.msg} (line ${valid.err.line})`);
}

export function parseInvoiceXml(xml: string): Invoice {
  checkWellFormed(xml);
  const root = obj(obj(parser.parse(xml) as unknown, 'document').EInvoice, 'EInvoice');
  const header = obj(root.Header, 'Header');
  const labels = obj(header.InherentLabel, 'InherentLabel');
  const data = obj(root.EInvoiceData, 'EInvoiceData');
  const basic = obj(data.BasicInformation, 'BasicInformation');
  const ext = obj(root.FapiaoExtension, 'FapiaoExtension');
  if (str(ext, 'Version') !== '1') throw new InvoiceXmlError('unsupported FapiaoExtension version');

  const typeCode = str(obj(labels.EInvoiceType, 'EInvoiceType'), 'LabelCode');
  const type = (Object.keys(INVOICE_TYPE_CODE) as InvoiceType[]).find((t) => INVOICE_TYPE_CODE[t] === typeCode);
  if (!type) throw new InvoiceXmlError(`EInvoiceType LabelCode must be ${Object.values(INVOICE_TYPE_CODE).join(' or ')}`);
  const issue = str(obj(labels.InIssuType, 'InIssuType'), 'LabelCode');
  if (issue !== '0' && issue !== '1') throw new InvoiceXmlError('InIssuType LabelCode must be 0 or 1');
  const status = str(ext, 'Status') as InvoiceStatus;
  if (!STATUSES.includes(status)) throw new InvoiceXmlError(`Status must be one of ${STATUSES.join(', ')}`);
  const pit = str(ext, 'PriceIncludesTax');
  if (pit !== 'true' && pit !== 'false') throw new InvoiceXmlError('PriceIncludesTax must be true or false');
  const sig = obj(ext.Signature, 'Signature');
  const sigAlg = str(sig, 'Alg');
  if (!keyAlgorithmOf(sigAlg)) throw new InvoiceXmlError('unsupported signature algorithm');
  const ledgerIndex = str(ext, 'LedgerIndex');
  if (!/^\d+$/.test(ledgerIndex)) throw new InvoiceXmlError('LedgerIndex must be a non-negative integer');

  const items = arr(data.IssuItemInformation);
  const extLines = arr(obj(ext.Lines, 'Lines').Line);
  if (items.length !== extLines.length) throw new InvoiceXmlError('IssuItemInformation and FapiaoExtension lines differ in count');
  const red = data.SpecificInformation === undefined ? undefined : obj(obj(data.SpecificInformation, 'SpecificInformation').RedEInvoice, 'RedEInvoice');
  const additional = data.AdditionalInformation === undefined ? {} : obj(data.AdditionalInformation, 'AdditionalInformation');

  const invoice: Invoice = {
    number: str(header, 'EIid'),
    type,
    kind: issue === '1' ? 'red' : 'blue',
    issuedAt: str(basic, 'RequestTime'),
    issueDate: str(ext, 'IssueDate'),
    seller: party(obj(data.SellerInformation, 'SellerInformation'), 'Seller', optStr(ext, 'SellerEmail')),
    buyer: party(obj(data.BuyerInformation, 'BuyerInformation'), 'Buyer', optStr(ext, 'BuyerEmail')),
    lines: items.map((it, i) => line(obj(it, 'IssuItemInformation'), obj(extLines[i], 'Line'))),
    priceIncludesTax: pit === 'true',
    totals: {
      amount: str(basic, 'TotalAmWithoutTax'),
      tax: str(basic, 'TotalTaxAm'),
      total: str(basic, 'TotalTax-includedAmount'),
      totalInCapitals: str(basic, 'TotalTax-includedAmountInChinese'),
    },
    issuer: str(basic, 'Drawer'),
    status,
    hash: str(obj(ext.Hash, 'Hash'), 'Value'),
    signature: { alg: sigAlg as SignatureAlg, keyId: str(sig, 'KeyId'), value: str(sig, 'Value') },
    qr: str(ext, 'QR'),
    ledger: { index: Number.parseInt(ledgerIndex, 10) },
  };
  setOpt(invoice, 'remarks', optStr(additional, 'Remark'));
  setOpt(invoice, 'externalId', optStr(ext, 'ExternalId'));
  if (red) {
    setOpt(invoice, 'originalNumber', optStr(red, 'OriginalEInvoiceNumber'));
    setOpt(invoice, 'redLetterFormId', optStr(red, 'RedConfirmationFormNumber'));
  }
  return invoice;
}

/**
 * The ledger inclusion proof the XML carries (to-xml.ts <LedgerProof>), undefined when it carries none (an invoice
 * rendered before it was integrated). Only the syntax is checked here; the proof itself is verified by the caller.
 */
export function ledgerProofFromXml(xml: string): LedgerProof | undefined {
  checkWellFormed(xml);
  const root = obj(obj(parser.parse(xml) as unknown, 'document').EInvoice, 'EInvoice');
  const ext = obj(root.FapiaoExtension, 'FapiaoExtension');
  if (ext.LedgerProof === undefined) return undefined;
  const p = obj(ext.LedgerProof, 'LedgerProof');
  const int = (key: string): number => {
    const v = str(p, key);
    if (!/^(0|[1-9]\d{0,15})$/.test(v) || !Number.isSafeInteger(Number(v))) throw new InvoiceXmlError(`${key} must be a non-negative integer`);
    return Number(v);
  };
  const b64 = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(v)) throw new InvoiceXmlError(`${what} must be a base64 SHA-256 hash`);
    return v;
  };
  const path = p.InclusionProof === undefined ? [] : arr(obj(p.InclusionProof, 'InclusionProof').ProofHash);
  return {
    leafIndex: int('LeafIndex'),
    treeSize: int('TreeSize'),
    leafHash: b64(p.LeafHash, 'LeafHash'),
    inclusionProof: path.map((h) => b64(h, 'ProofHash')),
    checkpoint: str(p, 'Checkpoint'),
  };
}

/** Alias kept for callers that think of it as "the fields of the invoice in this XML". */
export const xmlToInvoiceFields = parseInvoiceXml;

function party(o: Obj, role: 'Seller' | 'Buyer', email: string | undefined): Party {
  const p: Party = { name: str(o, `${role}Name`) };
  setOpt(p, 'taxId', optStr(o, `${role}IdNum`));
  setOpt(p, 'address', optStr(o, `${role}Addr`));
  setOpt(p, 'phone', optStr(o, `${role}TelNum`));
  setOpt(p, 'bankName', optStr(o, `${role}BankName`));
  setOpt(p, 'bankAccount', optStr(o, `${role}BankAccNum`));
  setOpt(p, 'email', email);
  return p;
}

function line(o: Obj, x: Obj): InvoiceLine {
  const kind = str(x, 'Kind');
  if (kind !== 'item' && kind !== 'discount') throw new InvoiceXmlError('Line Kind must be item or discount');
  const lineNo = str(x, 'LineNo');
  if (!/^\d+$/.test(lineNo)) throw new InvoiceXmlError('LineNo must be an integer');
  const rateText = str(o, 'TaxRate');
  const exemption = (Object.keys(EXEMPTION_LABEL) as TaxExemption[]).find((e) => EXEMPTION_LABEL[e] === rateText);
  const l: InvoiceLine = {
    lineNo: Number.parseInt(lineNo, 10),
    kind,
    name: str(o, 'ItemName'),
    taxCode: str(o, 'TaxClassificationCode'),
    amount: str(o, 'Amount'),
    taxRate: exemption ? (optStr(x, 'TaxRate') ?? '0') : rateText,
    tax: str(o, 'ComTaxAm'),
    total: str(o, 'TotaltaxIncludedAmount'),
  };
  setOpt(l, 'spec', optStr(o, 'SpecMod'));
  setOpt(l, 'unit', optStr(o, 'MeaUnits'));
  setOpt(l, 'quantity', optStr(o, 'Quantity'));
  setOpt(l, 'unitPrice', optStr(o, 'UnPrice'));
  setOpt(l, 'taxExemption', exemption);
  return l;
}

function setOpt<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

function obj(v: unknown, what: string): Obj {
  if (v === '' ) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvoiceXmlError(`missing or invalid element ${what}`);
  return v as Obj;
}

function arr(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function optStr(o: Obj, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new InvoiceXmlError(`element ${key} must hold text`);
  return v;
}

function str(o: Obj, key: string): string {
  const v = optStr(o, key);
  if (v === undefined) throw new InvoiceXmlError(`missing element ${key}`);
  return v;
}
