// UBL 2.1 rendering for cross-border buyers, mapped per EN 16931 / Peppol BIS Billing 3.0 (docs/ubl-mapping.md lists
// the mapping BT by BT): a blue invoice becomes an `Invoice` (type 380), a red one a `CreditNote` (type 381) whose
// amounts are positive (the document type carries the sign) with a BillingReference to the original. Element order
// follows the OASIS XSD sequences. The tests run the official CEN and Peppol schematron rules on every invoice shape.
//
// Mapping decisions:
// - A 折扣行 (discount line) folds into the line it follows as a line-level AllowanceCharge (reason code 95), so
//   every line and price stays positive (BR-27) and Σ line net amounts = LineExtensionAmount (BR-CO-10). A discount
//   line with no item before it becomes a line with quantity -1.
// - Tax categories: S (standard rate), Z (rate 0, zero-rated), E (免税, with TaxExemptionReason), O (不征税, no
//   Percent). EN 16931 allows O only on an invoice with nothing else (BR-O-11) and without VAT identifiers (BR-O-02),
//   so 不征税 lines next to taxed ones go out as E with the reason "不征税". The tax per subtotal is the sum of the
//   lines' own rounded tax, as on the Chinese face (BR-CO-17 allows a difference of one unit).
// - VAT identifiers carry the country prefix (BR-CO-09): a USCC goes out as `CN` + USCC. An ID-card number (an
//   individual buyer) is no VAT identifier and stays out.
// - 专票/普票 cannot be told by the type code (Peppol allows 380 for both): the document-level note starts with the
//   Chinese title and a supporting-document reference (BT-122) carries the platform type code 81/82.
// - The signed invoice (platform XML with hash and signature: SM2, or the tenant's ECDSA-P256 / Ed25519) travels in a
//   UBL extension, base64, so the UBL is verifiable offline (`fapiao verify file.ubl.xml`); the extension's `alg`
//   names the signature's algorithm. CEN only warns about extensions (UBL-CR-001).
// - Unknown units map to C62 ("one"); quantity 1 and price = amount when a line has no quantity (services).
import { INVOICE_TYPE_CODE, type Invoice, type InvoiceLine, type Party } from '../../../shared/invoice.ts';
import { abs, fromCents, invoiceTitle, negate, ratePercent, toCents } from './text.ts';
import { invoiceToXml } from './to-xml.ts';
import type { LedgerProof } from './ledger-proof.ts';
import { el, opt, toXml, type XmlNode } from './xml-writer.ts';

export const UBL_CUSTOMIZATION_ID = 'urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0';
export const UBL_PROFILE_ID = 'urn:fdc:peppol.eu:2017:poacc:billing:01:1.0';
/** The extension that carries the signed invoice (platform XML, base64). */
export const UBL_SIGNED_INVOICE_URI = 'urn:fapiao:ubl:signed-invoice:1';
export const UBL_SIGNED_INVOICE_NS = 'urn:fapiao:ubl:extension:1';
/**
 * Electronic address scheme (Peppol EAS code) used with the party's USCC when nothing else is configured. The EAS list
 * has no code for the Chinese USCC: 0199 (legal entity identifier) is a documented placeholder that validates; a
 * seller on the Peppol network configures its own participant identifier.
 */
export const DEFAULT_ENDPOINT_SCHEME = '0199';
export const DEFAULT_PAYMENT_TERMS = 'Payable on receipt of the invoice (见票即付)';
const CAC = 'urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2';
const CBC = 'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2';
const EXT = 'urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2';
const CUR = { currencyID: 'CNY' };

/** An electronic address (BT-34 / BT-49): a Peppol EAS scheme and the identifier under it. */
export interface UblEndpoint { scheme: string; id: string }

/** What a tenant (or a request) can set about the UBL; every field has a documented default. */
export interface UblOptions {
  /** The ledger inclusion proof, carried by the signed-invoice XML of the extension. */
  ledgerProof?: LedgerProof;
  /** The scheme of the default electronic addresses (the parties' USCCs); default DEFAULT_ENDPOINT_SCHEME. */
  endpointScheme?: string;
  /** Seller's electronic address; default: the USCC under `endpointScheme`. */
  sellerEndpoint?: UblEndpoint;
  /** Buyer's electronic address; default: the buyer's USCC, else its e-mail, under `endpointScheme`. */
  buyerEndpoint?: UblEndpoint;
  /** BT-20 payment terms text; default DEFAULT_PAYMENT_TERMS (or none when `paid`). */
  paymentTerms?: string;
  /** BT-9 due date as days after the issue date. */
  dueDays?: number;
  /** The invoice is already paid: BT-113 paid amount = total, amount due 0. */
  paid?: boolean;
  /** BT-10, the buyer's own reference (e.g. its cost centre), when the buyer gave one. */
  buyerReference?: string;
}

const UNIT_CODES: Record<string, string> = {
  个: 'H87', 件: 'H87', 台: 'H87', 只: 'H87', 套: 'SET', 部: 'H87', 张: 'H87', 本: 'H87', 支: 'H87', 把: 'H87',
  箱: 'XBX', 盒: 'XBX', 包: 'XPK', 瓶: 'XBO', 袋: 'XBG', 次: 'E48', 项: 'C62', 小时: 'HUR', 天: 'DAY', 日: 'DAY',
  月: 'MON', 年: 'ANN', 千克: 'KGM', 公斤: 'KGM', 克: 'GRM', 吨: 'TNE', 米: 'MTR', 平方米: 'MTK', 立方米: 'MTQ', 升: 'LTR',
};

export function unitCode(unit: string | undefined): string {
  return (unit && UNIT_CODES[unit.trim()]) || 'C62';
}

const USCC = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;
const ID_CARD = /^\d{17}[\dX]$/;
/** A tax ID that is a company's USCC (not an ID-card number, which is a person's and no VAT identifier). */
export function isCompanyTaxId(taxId: string | undefined): taxId is string {
  return taxId !== undefined && USCC.test(taxId) && !ID_CARD.test(taxId);
}

interface Category { id: 'S' | 'Z' | 'E' | 'O'; percent?: string; reason?: string; reasonCode?: string }

/** JSON Pointer of a line's field in the invoice, for error messages (which never quote values). */
const at = (l: InvoiceLine, field: string): string => `/lines/${l.lineNo - 1}/${field}`;

function categoryOf(l: InvoiceLine, allOutOfScope: boolean): Category {
  if (l.taxExemption === 'exempt') return { id: 'E', percent: '0', reason: '免税 (exempt from VAT)' };
  if (l.taxExemption === 'non-taxable') {
    return allOutOfScope
      ? { id: 'O', reason: '不征税 (not subject to VAT)', reasonCode: 'VATEX-EU-O' }
      : { id: 'E', percent: '0', reason: '不征税 (not subject to VAT)' };
  }
  const p = ratePercent(l.taxRate, at(l, 'taxRate'));
  return p === '0' ? { id: 'Z', percent: '0' } : { id: 'S', percent: p };
}

interface UblLine { src: InvoiceLine; amount: bigint; allowance: bigint; quantity: string; price: string; cat: Category }

function addDays(isoDate: string, days: number): string {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export function invoiceToUbl(invoice: Invoice, options: UblOptions = {}): string {
  const credit = invoice.kind === 'red';
  // Positive amounts for a CreditNote: flip every sign of a red invoice.
  const s = (v: string): string => (credit ? negate(v) : v);
  const outOfScope = invoice.lines.every((l) => l.taxExemption === 'non-taxable');
  const category = (l: InvoiceLine): Category => categoryOf(l, outOfScope);
  const lines: UblLine[] = [];
  for (const l of invoice.lines) {
    const amount = toCents(s(l.amount), at(l, 'amount'));
    const prev = lines[lines.length - 1];
    if (l.kind === 'discount' && prev && prev.src.kind === 'item' && prev.cat.id === category(l).id &&
      prev.cat.percent === category(l).percent) {
      prev.allowance += -amount;
      prev.amount += amount;
      continue;
    }
    const negative = amount < 0n;
    lines.push({
      src: l, amount, allowance: 0n, cat: category(l),
      quantity: l.quantity !== undefined ? s(l.quantity) : negative ? '-1' : '1',
      price: abs(l.unitPrice ?? s(l.amount)),
    });
  }
  // Tax breakdown per (category, rate), from the lines' own tax.
  const groups = new Map<string, { cat: Category; taxable: bigint; tax: bigint }>();
  for (const l of invoice.lines) {
    const cat = category(l);
    const key = `${cat.id}:${cat.percent ?? ''}:${cat.reason ?? ''}`;
    const g = groups.get(key) ?? { cat, taxable: 0n, tax: 0n };
    g.taxable += toCents(s(l.amount), at(l, 'amount'));
    g.tax += toCents(s(l.tax), at(l, 'tax'));
    groups.set(key, g);
  }
  const lineTotal = lines.reduce((a, l) => a + l.amount, 0n);
  const taxTotal = [...groups.values()].reduce((a, g) => a + g.tax, 0n);
  const grandTotal = lineTotal + taxTotal;
  const paid = options.paid === true ? grandTotal : 0n;
  const doc = credit ? 'CreditNote' : 'Invoice';
  const title = invoiceTitle(invoice.type);
  const remarks = invoice.remarks !== undefined && invoice.remarks !== '' ? invoice.remarks : undefined;
  // Peppol allows one document-level note (PEPPOL-EN16931-R002): the title first, then the remarks.
  const note = remarks ? `${title}\n${remarks}` : title;
  // BR-O-02: an invoice out of scope of VAT carries no VAT identifier.
  const withVat = !outOfScope;
  const sellerEndpoint = options.sellerEndpoint ?? endpointOf(invoice.seller, options.endpointScheme ?? DEFAULT_ENDPOINT_SCHEME, invoice.number);
  // The buyer's default address is its USCC under the USCC scheme, never under a scheme the seller chose for its own
  // identifier (a GLN scheme, say, whose check digit a USCC would fail).
  const buyerEndpoint = options.buyerEndpoint ?? endpointOf(invoice.buyer, options.endpointScheme ?? DEFAULT_ENDPOINT_SCHEME, invoice.number);
  const terms = options.paymentTerms ?? (options.paid === true ? undefined : DEFAULT_PAYMENT_TERMS);
  const dueDate = options.dueDays !== undefined && options.paid !== true ? addDays(invoice.issueDate, options.dueDays) : undefined;
  const signed = Buffer.from(invoiceToXml(invoice, options.ledgerProof), 'utf8').toString('base64');

  return toXml(el(doc, [
    el('ext:UBLExtensions', [el('ext:UBLExtension', [
      el('ext:ExtensionURI', UBL_SIGNED_INVOICE_URI),
      el('ext:ExtensionContent', [el('fp:SignedInvoice', signed, {
        'xmlns:fp': UBL_SIGNED_INVOICE_NS, mimeCode: 'application/xml', hash: invoice.hash, alg: invoice.signature.alg, keyId: invoice.signature.keyId,
      })]),
    ])]),
    el('cbc:CustomizationID', UBL_CUSTOMIZATION_ID),
    el('cbc:ProfileID', UBL_PROFILE_ID),
    el('cbc:ID', invoice.number),
    el('cbc:IssueDate', invoice.issueDate),
    !credit && opt('cbc:DueDate', dueDate),
    el(credit ? 'cbc:CreditNoteTypeCode' : 'cbc:InvoiceTypeCode', credit ? '381' : '380'),
    el('cbc:Note', note),
    el('cbc:DocumentCurrencyCode', 'CNY'),
    opt('cbc:BuyerReference', options.buyerReference),
    // BT-13 is the buyer's purchase order, unknown here; Peppol wants 'NA' with a seller's order reference (BT-14),
    // and BT-10 or BT-13 on every invoice (PEPPOL-EN16931-R003).
    el('cac:OrderReference', [el('cbc:ID', 'NA'), opt('cbc:SalesOrderID', invoice.externalId)]),
    invoice.originalNumber !== undefined &&
      el('cac:BillingReference', [el('cac:InvoiceDocumentReference', [el('cbc:ID', invoice.originalNumber)])]),
    el('cac:AdditionalDocumentReference', [
      el('cbc:ID', `fapiao-type-${INVOICE_TYPE_CODE[invoice.type]}`),
      el('cbc:DocumentDescription', `${title} (${invoice.type === 'special' ? 'special VAT invoice' : 'ordinary invoice'}), type ${INVOICE_TYPE_CODE[invoice.type]}`),
    ]),
    el('cac:AccountingSupplierParty', [party(invoice.seller, sellerEndpoint, withVat)]),
    el('cac:AccountingCustomerParty', [party(invoice.buyer, buyerEndpoint, withVat)]),
    paymentMeans(invoice.seller, invoice.number),
    terms !== undefined && el('cac:PaymentTerms', [el('cbc:Note', terms)]),
    el('cac:TaxTotal', [
      money('cbc:TaxAmount', taxTotal),
      ...[...groups.values()].map((g) => el('cac:TaxSubtotal', [
        money('cbc:TaxableAmount', g.taxable),
        money('cbc:TaxAmount', g.tax),
        taxCategory('cac:TaxCategory', g.cat, true),
      ])),
    ]),
    el('cac:LegalMonetaryTotal', [
      money('cbc:LineExtensionAmount', lineTotal),
      money('cbc:TaxExclusiveAmount', lineTotal),
      money('cbc:TaxInclusiveAmount', grandTotal),
      paid !== 0n && money('cbc:PrepaidAmount', paid),
      money('cbc:PayableAmount', grandTotal - paid),
    ]),
    ...lines.map((l, i) => line(l, i + 1, credit)),
  ], {
    xmlns: `urn:oasis:names:specification:ubl:schema:xsd:${doc}-2`, 'xmlns:cac': CAC, 'xmlns:cbc': CBC, 'xmlns:ext': EXT,
  }));
}

function endpointOf(p: Party, scheme: string, fallback: string): UblEndpoint {
  if (isCompanyTaxId(p.taxId)) return { scheme, id: p.taxId };
  // An individual: the e-mail the invoice was sent to, else the invoice number (Peppol requires an address).
  return { scheme, id: p.email ?? `FAPIAO-${fallback}` };
}

function money(name: string, cents: bigint): XmlNode {
  return el(name, fromCents(cents), CUR);
}

const nonEmpty = (v: string | undefined): string | undefined => (v !== undefined && v.trim() !== '' ? v : undefined);

function party(p: Party, endpoint: UblEndpoint, withVat: boolean): XmlNode {
  const taxId = isCompanyTaxId(p.taxId) ? p.taxId : undefined;
  const company = taxId !== undefined;
  const phone = nonEmpty(p.phone);
  const email = nonEmpty(p.email);
  const address = nonEmpty(p.address);
  return el('cac:Party', [
    el('cbc:EndpointID', endpoint.id, { schemeID: endpoint.scheme }),
    el('cac:PartyName', [el('cbc:Name', p.name)]),
    el('cac:PostalAddress', [
      opt('cbc:StreetName', address),
      el('cac:Country', [el('cbc:IdentificationCode', 'CN')]),
    ]),
    withVat && company && el('cac:PartyTaxScheme', [el('cbc:CompanyID', `CN${taxId}`), el('cac:TaxScheme', [el('cbc:ID', 'VAT')])]),
    el('cac:PartyLegalEntity', [el('cbc:RegistrationName', p.name), opt('cbc:CompanyID', taxId)]),
    (phone !== undefined || email !== undefined) && el('cac:Contact', [opt('cbc:Telephone', phone), opt('cbc:ElectronicMail', email)]),
  ]);
}

/** The seller's bank account (BG-16/BG-17): a credit transfer (UNCL 4461 code 30) to it, the invoice number as reference. */
function paymentMeans(seller: Party, number: string): XmlNode | undefined {
  const account = nonEmpty(seller.bankAccount);
  if (!account) return undefined;
  const bank = nonEmpty(seller.bankName);
  return el('cac:PaymentMeans', [
    el('cbc:PaymentMeansCode', '30', { name: 'Credit transfer' }),
    el('cbc:PaymentID', number),
    el('cac:PayeeFinancialAccount', [
      el('cbc:ID', account),
      el('cbc:Name', seller.name),
      bank !== undefined && el('cac:FinancialInstitutionBranch', [el('cbc:Name', bank)]),
    ]),
  ]);
}

function taxCategory(name: string, c: Category, withReason: boolean): XmlNode {
  return el(name, [
    el('cbc:ID', c.id),
    opt('cbc:Percent', c.percent),
    withReason && opt('cbc:TaxExemptionReasonCode', c.reasonCode),
    withReason && opt('cbc:TaxExemptionReason', c.reason),
    el('cac:TaxScheme', [el('cbc:ID', 'VAT')]),
  ]);
}

function line(l: UblLine, id: number, credit: boolean): XmlNode {
  const src = l.src;
  const allowance = l.allowance !== 0n && el('cac:AllowanceCharge', [
    el('cbc:ChargeIndicator', 'false'),
    el('cbc:AllowanceChargeReasonCode', '95'),
    el('cbc:AllowanceChargeReason', '折扣 (discount)'),
    money('cbc:Amount', l.allowance),
  ]);
  return el(credit ? 'cac:CreditNoteLine' : 'cac:InvoiceLine', [
    el('cbc:ID', String(id)),
    el(credit ? 'cbc:CreditedQuantity' : 'cbc:InvoicedQuantity', l.quantity, { unitCode: unitCode(src.unit) }),
    money('cbc:LineExtensionAmount', l.amount),
    allowance,
    el('cac:Item', [
      el('cbc:Name', src.name),
      el('cac:CommodityClassification', [el('cbc:ItemClassificationCode', src.taxCode, { listID: 'ZZZ' })]),
      taxCategory('cac:ClassifiedTaxCategory', l.cat, false),
      src.spec !== undefined && src.spec !== '' &&
        el('cac:AdditionalItemProperty', [el('cbc:Name', '规格型号'), el('cbc:Value', src.spec)]),
    ]),
    el('cac:Price', [el('cbc:PriceAmount', l.price, CUR)]),
  ]);
}
