// The invoice as XML in the structure of the tax platform's 数电票 XML (docs/invoice-rules.md, "XML file"), plus one
// extension element, <FapiaoExtension>, carrying what the platform structure has no place for: the signature
// (alg, keyId, value), the SM3 hash, the QR text, the ledger index, status and the few body fields needed to rebuild
// the signed body exactly (issue date, price basis, external id, e-mails, line numbers and kinds). parseInvoiceXml
// (xml-parse.ts) reads it back into the identical Invoice, so `fapiao verify file.xml` can check the signature offline.
//
// Codes that are ours, not the platform's (no official XSD was found): InIssuType 0 蓝字 / 1 红字,
// GeneralOrSpecialVAT 01 专票 / 02 普票, TaxRate carries 免税 / 不征税 for exempt and not-taxable lines.
import { INVOICE_TYPE_CODE, type Invoice, type InvoiceLine, type Party } from '../../../shared/invoice.ts';
import { el, opt, toXml, type XmlNode } from './xml-writer.ts';
import { EXEMPTION_LABEL, invoiceTitle } from './text.ts';
import type { LedgerProof } from './ledger-proof.ts';

export { ledgerProofFromXml, parseInvoiceXml, xmlToInvoiceFields } from './xml-parse.ts';

export const XML_EXTENSION_VERSION = '1';

const PROVINCES: Record<string, string> = {
  '11': '北京市', '12': '天津市', '13': '河北省', '14': '山西省', '15': '内蒙古自治区', '21': '辽宁省', '22': '吉林省',
  '23': '黑龙江省', '31': '上海市', '32': '江苏省', '33': '浙江省', '34': '安徽省', '35': '福建省', '36': '江西省',
  '37': '山东省', '41': '河南省', '42': '湖北省', '43': '湖南省', '44': '广东省', '45': '广西壮族自治区', '46': '海南省',
  '50': '重庆市', '51': '四川省', '52': '贵州省', '53': '云南省', '54': '西藏自治区', '61': '陕西省', '62': '甘肃省',
  '63': '青海省', '64': '宁夏回族自治区', '65': '新疆维吾尔自治区',
};

/** The platform XML; with `proof`, the extension also carries the invoice's ledger inclusion proof (<LedgerProof>). */
export function invoiceToXml(invoice: Invoice, proof?: LedgerProof): string {
  const region = invoice.number.slice(2, 4);
  const red = invoice.kind === 'red';
  const special = invoice.type === 'special';
  return toXml(el('EInvoice', [
    el('Header', [
      el('EIid', invoice.number),
      el('EInvoiceTag', `SWEI${region}00`),
      el('Version', '0.1'),
      el('InherentLabel', [
        label('InIssuType', red ? '1' : '0', red ? '红字发票' : '蓝字发票'),
        label('EInvoiceType', INVOICE_TYPE_CODE[invoice.type], invoiceTitle(invoice.type)),
        label('GeneralOrSpecialVAT', special ? '01' : '02', special ? '增值税专用发票' : '普通发票'),
      ]),
    ]),
    el('EInvoiceData', [
      party('Seller', invoice.seller),
      party('Buyer', invoice.buyer),
      el('BasicInformation', [
        el('TotalAmWithoutTax', invoice.totals.amount),
        el('TotalTaxAm', invoice.totals.tax),
        el('TotalTax-includedAmount', invoice.totals.total),
        el('TotalTax-includedAmountInChinese', invoice.totals.totalInCapitals),
        el('Drawer', invoice.issuer),
        el('RequestTime', invoice.issuedAt),
      ]),
      ...invoice.lines.map(item),
      (invoice.originalNumber !== undefined || invoice.redLetterFormId !== undefined) && el('SpecificInformation', [
        el('RedEInvoice', [
          opt('OriginalEInvoiceNumber', invoice.originalNumber),
          opt('RedConfirmationFormNumber', invoice.redLetterFormId),
        ]),
      ]),
      el('AdditionalInformation', [opt('Remark', invoice.remarks)]),
    ]),
    el('TaxSupervisionInfo', [
      el('InvoiceNumber', invoice.number),
      el('IssueTime', invoice.issuedAt),
      el('TaxBureauCode', `1${region}00000000`),
      el('TaxBureauName', `国家税务总局${PROVINCES[region] ?? ''}税务局`),
    ]),
    extension(invoice, proof),
  ]));
}

function label(name: string, code: string, text: string): XmlNode {
  return el(name, [el('LabelCode', code), el('LabelName', text)]);
}

function party(role: 'Seller' | 'Buyer', p: Party): XmlNode {
  return el(`${role}Information`, [
    opt(`${role}IdNum`, p.taxId),
    el(`${role}Name`, p.name),
    opt(`${role}Addr`, p.address),
    opt(`${role}TelNum`, p.phone),
    opt(`${role}BankName`, p.bankName),
    opt(`${role}BankAccNum`, p.bankAccount),
  ]);
}

function item(line: InvoiceLine): XmlNode {
  return el('IssuItemInformation', [
    el('ItemName', line.name),
    opt('SpecMod', line.spec),
    opt('MeaUnits', line.unit),
    opt('Quantity', line.quantity),
    opt('UnPrice', line.unitPrice),
    el('Amount', line.amount),
    el('TaxRate', line.taxExemption ? EXEMPTION_LABEL[line.taxExemption] : line.taxRate),
    el('ComTaxAm', line.tax),
    el('TotaltaxIncludedAmount', line.total),
    el('TaxClassificationCode', line.taxCode),
  ]);
}

function extension(inv: Invoice, proof: LedgerProof | undefined): XmlNode {
  return el('FapiaoExtension', [
    el('Version', XML_EXTENSION_VERSION),
    el('Status', inv.status),
    el('IssueDate', inv.issueDate),
    el('PriceIncludesTax', String(inv.priceIncludesTax)),
    opt('ExternalId', inv.externalId),
    opt('SellerEmail', inv.seller.email),
    opt('BuyerEmail', inv.buyer.email),
    el('Lines', inv.lines.map((l) => el('Line', [
      el('LineNo', String(l.lineNo)),
      el('Kind', l.kind),
      // The platform column shows only the label for exempt lines; keep an unusual stored rate exactly.
      l.taxExemption !== undefined && l.taxRate !== '0' && el('TaxRate', l.taxRate),
    ]))),
    el('Hash', [el('Alg', 'SM3'), el('Value', inv.hash)]),
    el('Signature', [el('Alg', inv.signature.alg), el('KeyId', inv.signature.keyId), el('Value', inv.signature.value)]),
    el('QR', inv.qr),
    el('LedgerIndex', String(inv.ledger.index)),
    proof && el('LedgerProof', [
      el('LeafIndex', String(proof.leafIndex)),
      el('TreeSize', String(proof.treeSize)),
      el('LeafHash', proof.leafHash),
      el('InclusionProof', proof.inclusionProof.map((h) => el('ProofHash', h))),
      el('Checkpoint', proof.checkpoint),
    ]),
  ]);
}
