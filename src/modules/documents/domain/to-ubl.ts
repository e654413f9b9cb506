// UBL 2.1 rendering for cross-border buyers, mapped per EN 16931 / Peppol BIS Billing 3.0: a blue invoice becomes an
// `Invoice` (type 380), a red one a `CreditNote` (type 381) whose amounts are positive (the document type carries the
// sign) with a BillingReference to the original. Element order follows the OASIS XSD sequences.
//
// Mapping decisions:
// - A 折扣行 (discount line) folds into the line it follows as a line-level AllowanceCharge (reason code 95), so
//   every line and price stays positive (BR-27) and Σ line net amounts = LineExtensionAmount (BR-CO-10). A discount
//   line with no item before it becomes a line with quantity -1.
// - Tax categories: S (standard rate), Z (rate 0, zero-rated), E (免税, with TaxExemptionReason), O (不征税, no
//   Percent). The tax per subtotal is the sum of the lines' own rounded tax, as on the Chinese face.
// - Only name, tax id and country (CN) of the parties: addresses, phones and bank accounts stay out.
// - Unknown units map to C62 ("one"); quantity 1 and price = amount when a line has no quantity (services).
import type { Invoice, InvoiceLine, Party } from '../../../shared/invoice.ts';
import { abs, fromCents, negate, ratePercent, toCents } from './text.ts';
import { el, opt, toXml, type XmlNode } from './xml-writer.ts';

export const UBL_CUSTOMIZATION_ID = 'urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0';
export const UBL_PROFILE_ID = 'urn:fdc:peppol.eu:2017:poacc:billing:01:1.0';
const CAC = 'urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2';
const CBC = 'urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2';
const CUR = { currencyID: 'CNY' };

const UNIT_CODES: Record<string, string> = {
  个: 'H87', 件: 'H87', 台: 'H87', 只: 'H87', 套: 'SET', 部: 'H87', 张: 'H87', 本: 'H87', 支: 'H87', 把: 'H87',
  箱: 'XBX', 盒: 'XBX', 包: 'XPK', 瓶: 'XBO', 袋: 'XBG', 次: 'E48', 项: 'C62', 小时: 'HUR', 天: 'DAY', 日: 'DAY',
  月: 'MON', 年: 'ANN', 千克: 'KGM', 公斤: 'KGM', 克: 'GRM', 吨: 'TNE', 米: 'MTR', 平方米: 'MTK', 立方米: 'MTQ', 升: 'LTR',
};

export function unitCode(unit: string | undefined): string {
  return (unit && UNIT_CODES[unit.trim()]) || 'C62';
}

interface Category { id: 'S' | 'Z' | 'E' | 'O'; percent?: string; reason?: string }

/** JSON Pointer of a line's field in the invoice, for error messages (which never quote values). */
const at = (l: InvoiceLine, field: string): string => `/lines/${l.lineNo - 1}/${field}`;

function category(l: InvoiceLine): Category {
  if (l.taxExemption === 'exempt') return { id: 'E', percent: '0', reason: '免税 (exempt from VAT)' };
  if (l.taxExemption === 'non-taxable') return { id: 'O', reason: '不征税 (not subject to VAT)' };
  const p = ratePercent(l.taxRate, at(l, 'taxRate'));
  return p === '0' ? { id: 'Z', percent: '0' } : { id: 'S', percent: p };
}

interface UblLine { src: InvoiceLine; amount: bigint; allowance: bigint; quantity: string; price: string; cat: Category }

export function invoiceToUbl(invoice: Invoice): string {
  const credit = invoice.kind === 'red';
  // Positive amounts for a CreditNote: flip every sign of a red invoice.
  const s = (v: string): string => (credit ? negate(v) : v);
  const lines: UblLine[] = [];
  for (const l of invoice.lines) {
    const amount = toCents(s(l.amount), at(l, 'amount'));
    const prev = lines[lines.length - 1];
    if (l.kind === 'discount' && prev && prev.src.kind === 'item' && prev.cat.id === category(l).id) {
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
    const key = `${cat.id}:${cat.percent ?? ''}`;
    const g = groups.get(key) ?? { cat, taxable: 0n, tax: 0n };
    g.taxable += toCents(s(l.amount), at(l, 'amount'));
    g.tax += toCents(s(l.tax), at(l, 'tax'));
    groups.set(key, g);
  }
  const lineTotal = lines.reduce((a, l) => a + l.amount, 0n);
  const taxTotal = [...groups.values()].reduce((a, g) => a + g.tax, 0n);
  const doc = credit ? 'CreditNote' : 'Invoice';
  const note = invoice.remarks !== undefined && invoice.remarks !== '' ? invoice.remarks : undefined;

  return toXml(el(doc, [
    el('cbc:CustomizationID', UBL_CUSTOMIZATION_ID),
    el('cbc:ProfileID', UBL_PROFILE_ID),
    el('cbc:ID', invoice.number),
    el('cbc:IssueDate', invoice.issueDate),
    el(credit ? 'cbc:CreditNoteTypeCode' : 'cbc:InvoiceTypeCode', credit ? '381' : '380'),
    opt('cbc:Note', note),
    el('cbc:DocumentCurrencyCode', 'CNY'),
    el('cbc:BuyerReference', invoice.externalId ?? invoice.number),
    invoice.originalNumber !== undefined &&
      el('cac:BillingReference', [el('cac:InvoiceDocumentReference', [el('cbc:ID', invoice.originalNumber)])]),
    el('cac:AccountingSupplierParty', [party(invoice.seller)]),
    el('cac:AccountingCustomerParty', [party(invoice.buyer)]),
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
      money('cbc:TaxInclusiveAmount', lineTotal + taxTotal),
      money('cbc:PayableAmount', lineTotal + taxTotal),
    ]),
    ...lines.map((l, i) => line(l, i + 1, credit)),
  ], { xmlns: `urn:oasis:names:specification:ubl:schema:xsd:${doc}-2`, 'xmlns:cac': CAC, 'xmlns:cbc': CBC }));
}

function money(name: string, cents: bigint): XmlNode {
  return el(name, fromCents(cents), CUR);
}

function party(p: Party): XmlNode {
  return el('cac:Party', [
    el('cac:PartyName', [el('cbc:Name', p.name)]),
    el('cac:PostalAddress', [el('cac:Country', [el('cbc:IdentificationCode', 'CN')])]),
    p.taxId !== undefined && el('cac:PartyTaxScheme', [el('cbc:CompanyID', p.taxId), el('cac:TaxScheme', [el('cbc:ID', 'VAT')])]),
    el('cac:PartyLegalEntity', [el('cbc:RegistrationName', p.name), opt('cbc:CompanyID', p.taxId)]),
  ]);
}

function taxCategory(name: string, c: Category, withReason: boolean): XmlNode {
  return el(name, [
    el('cbc:ID', c.id),
    opt('cbc:Percent', c.percent),
    withReason && c.id === 'O' && el('cbc:TaxExemptionReasonCode', 'VATEX-EU-O'),
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
