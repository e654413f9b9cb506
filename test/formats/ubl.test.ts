import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { validateXML } from 'xmllint-wasm';
import type { Invoice } from '../../src/shared/invoice.ts';
import { toCents } from '../../src/modules/documents/domain/text.ts';
import { DEFAULT_ENDPOINT_SCHEME, DEFAULT_PAYMENT_TERMS, invoiceToUbl, UBL_CUSTOMIZATION_ID, unitCode } from '../../src/modules/documents/domain/to-ubl.ts';
import { blueSpecial, longNormal, redSpecial } from '../fixtures/sample-invoice.ts';

const XSD = join(import.meta.dirname, '../fixtures/ubl-2.1-xsd');
const preload = readdirSync(join(XSD, 'common')).map((f) => ({ fileName: `common/${f}`, contents: readFileSync(join(XSD, 'common', f), 'utf8') }));

async function schemaErrors(xml: string, doc: 'Invoice' | 'CreditNote'): Promise<string[]> {
  const file = `maindoc/UBL-${doc}-2.1.xsd`;
  const r = await validateXML({
    xml: [{ fileName: 'doc.xml', contents: xml }],
    schema: [{ fileName: file, contents: readFileSync(join(XSD, file), 'utf8') }],
    preload,
    initialMemoryPages: 512,
  });
  return r.errors.map((e) => e.rawMessage);
}

const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, removeNSPrefix: true, attributeNamePrefix: '@',
  isArray: (n) => ['InvoiceLine', 'CreditNoteLine', 'TaxSubtotal', 'AllowanceCharge'].includes(n) });
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed XML is untyped
type Node = Record<string, any>;
const amt = (v: unknown): bigint => toCents(typeof v === 'object' && v !== null ? String((v as Node)['#text']) : String(v));

/** BR-CO-10, BR-CO-13, BR-CO-14, BR-CO-15 and BR-27 on the parsed document; returns the document. */
function checkArithmetic(xml: string, doc: 'Invoice' | 'CreditNote', inv: Invoice): Node {
  const d = parser.parse(xml)[doc] as Node;
  const lines = (d[`${doc}Line`] as Node[]);
  const total = d.LegalMonetaryTotal as Node;
  const lineSum = lines.reduce((a, l) => a + amt(l.LineExtensionAmount), 0n);
  assert.equal(amt(total.LineExtensionAmount), lineSum, 'BR-CO-10');
  assert.equal(amt(total.TaxExclusiveAmount), amt(total.LineExtensionAmount), 'BR-CO-13 (no document allowances)');
  const subSum = (d.TaxTotal.TaxSubtotal as Node[]).reduce((a, s) => a + amt(s.TaxAmount), 0n);
  assert.equal(amt(d.TaxTotal.TaxAmount), subSum, 'BR-CO-14');
  assert.equal(amt(total.TaxInclusiveAmount), amt(total.TaxExclusiveAmount) + amt(d.TaxTotal.TaxAmount), 'BR-CO-15');
  assert.equal(amt(total.PayableAmount), amt(total.TaxInclusiveAmount));
  const taxable = (d.TaxTotal.TaxSubtotal as Node[]).reduce((a, s) => a + amt(s.TaxableAmount), 0n);
  assert.equal(taxable, lineSum, 'Σ taxable = Σ lines');
  for (const l of lines) assert.ok(amt(l.Price.PriceAmount) >= 0n, 'BR-27 price not negative');
  // Same totals as the Chinese face (signs flipped on a CreditNote).
  const sign = doc === 'CreditNote' ? -1n : 1n;
  assert.equal(amt(total.TaxExclusiveAmount), sign * toCents(inv.totals.amount));
  assert.equal(amt(d.TaxTotal.TaxAmount), sign * toCents(inv.totals.tax));
  assert.equal(amt(total.PayableAmount), sign * toCents(inv.totals.total));
  return d;
}

describe('invoiceToUbl', () => {
  it('blue → schema-valid UBL Invoice 380 with Peppol ids, discount folded into a line allowance, E category', async () => {
    const inv = blueSpecial();
    const xml = invoiceToUbl(inv);
    assert.equal(invoiceToUbl(blueSpecial()), xml, 'deterministic');
    assert.deepEqual(await schemaErrors(xml, 'Invoice'), []);
    const d = checkArithmetic(xml, 'Invoice', inv);
    assert.equal(d.CustomizationID, UBL_CUSTOMIZATION_ID);
    assert.equal(d.InvoiceTypeCode, '380');
    assert.equal(d.DocumentCurrencyCode, 'CNY');
    const seller = d.AccountingSupplierParty.Party as Node;
    const buyer = d.AccountingCustomerParty.Party as Node;
    assert.equal(seller.PartyTaxScheme.CompanyID, `CN${inv.seller.taxId}`, 'BR-CO-09: VAT id with country prefix');
    assert.equal(seller.PartyLegalEntity.CompanyID, inv.seller.taxId, 'BT-30: the USCC as legal registration');
    assert.deepEqual(seller.EndpointID, { '#text': inv.seller.taxId, '@schemeID': DEFAULT_ENDPOINT_SCHEME });
    assert.deepEqual(buyer.EndpointID, { '#text': inv.buyer.taxId, '@schemeID': DEFAULT_ENDPOINT_SCHEME });
    assert.equal(seller.PostalAddress.StreetName, inv.seller.address);
    assert.equal(seller.Contact.Telephone, inv.seller.phone);
    assert.equal(buyer.Contact.Telephone, inv.buyer.phone);
    assert.equal(buyer.Contact.ElectronicMail, inv.buyer.email);
    assert.equal(d.PaymentMeans.PaymentMeansCode['#text'], '30');
    assert.equal(d.PaymentMeans.PayeeFinancialAccount.ID, inv.seller.bankAccount);
    assert.equal(d.PaymentMeans.PayeeFinancialAccount.FinancialInstitutionBranch.Name, inv.seller.bankName);
    assert.equal(d.PaymentTerms.Note, DEFAULT_PAYMENT_TERMS, 'BT-20 when an amount is due (BR-CO-25)');
    assert.equal(d.BuyerReference, undefined, 'BT-10 is the buyer\'s, and it gave none');
    assert.equal(d.OrderReference.SalesOrderID, inv.externalId, 'the seller\'s reference is BT-14');
    assert.ok(String(d.Note).startsWith('电子发票（增值税专用发票）\n合同号'), '专票 named in the note, remarks after it');
    assert.equal(d.AdditionalDocumentReference.ID, 'fapiao-type-81');
    assert.equal(d.AccountingCustomerParty.Party.PartyLegalEntity.RegistrationName, inv.buyer.name);
    assert.equal(d.InvoiceLine.length, 2);
    assert.equal(d.InvoiceLine[0].AllowanceCharge[0].Amount['#text'], '500.00');
    assert.equal(d.InvoiceLine[0].LineExtensionAmount['#text'], '6000.00');
    const cats = (d.TaxTotal.TaxSubtotal as Node[]).map((s) => `${s.TaxCategory.ID}:${s.TaxCategory.Percent ?? ''}`);
    assert.deepEqual(cats, ['S:13', 'E:0']);
    assert.ok(d.TaxTotal.TaxSubtotal[1].TaxCategory.TaxExemptionReason);
  });

  it('red → schema-valid CreditNote 381 with positive amounts and a BillingReference', async () => {
    const inv = redSpecial();
    const xml = invoiceToUbl(inv);
    assert.deepEqual(await schemaErrors(xml, 'CreditNote'), []);
    const d = checkArithmetic(xml, 'CreditNote', inv);
    assert.equal(d.CreditNoteTypeCode, '381');
    assert.equal(d.BillingReference.InvoiceDocumentReference.ID, inv.originalNumber);
    assert.equal(d.CreditNoteLine[0].CreditedQuantity['#text'], '2');
    assert.equal(d.LegalMonetaryTotal.PayableAmount['#text'], '1469.00');
    assert.ok(!xml.includes('>-'), 'no negative amount in a CreditNote');
  });

  it('40 lines with S, Z and O categories → schema-valid, arithmetic holds', async () => {
    const inv = longNormal();
    const xml = invoiceToUbl(inv);
    assert.deepEqual(await schemaErrors(xml, 'Invoice'), []);
    const d = checkArithmetic(xml, 'Invoice', inv);
    assert.equal(d.InvoiceLine.length, 40);
    const ids = new Set((d.TaxTotal.TaxSubtotal as Node[]).map((s): string => String(s.TaxCategory.ID)));
    // BR-O-11: O cannot sit next to other categories, so 不征税 goes out as E with its reason.
    assert.deepEqual([...ids].sort(), ['E', 'S', 'Z']);
    const e = (d.TaxTotal.TaxSubtotal as Node[]).find((s): boolean => s.TaxCategory.ID === 'E')!;
    assert.match(String(e.TaxCategory.TaxExemptionReason), /^不征税/);
    assert.ok(String(d.Note).startsWith('电子发票（普通发票）'));
    assert.equal(d.AdditionalDocumentReference.ID, 'fapiao-type-82');
    assert.equal(d.InvoiceLine[2].InvoicedQuantity['@unitCode'], 'XBX');
  });

  it('options: due date, own terms, buyer reference, paid, configured endpoints; an all-不征税 invoice is O without VAT ids', () => {
    const due = parser.parse(invoiceToUbl(blueSpecial(), { dueDays: 30, paymentTerms: '30 days net', buyerReference: 'PO-4711' })).Invoice as Node;
    assert.equal(due.DueDate, '2026-12-24');
    assert.equal(due.PaymentTerms.Note, '30 days net');
    assert.equal(due.BuyerReference, 'PO-4711');
    const paid = parser.parse(invoiceToUbl(blueSpecial(), { paid: true, sellerEndpoint: { scheme: '0088', id: '5790000435975' } })).Invoice as Node;
    assert.equal(paid.LegalMonetaryTotal.PrepaidAmount['#text'], '7680.00');
    assert.equal(paid.LegalMonetaryTotal.PayableAmount['#text'], '0.00');
    assert.equal(paid.PaymentTerms, undefined);
    assert.deepEqual(paid.AccountingSupplierParty.Party.EndpointID, { '#text': '5790000435975', '@schemeID': '0088' });
    assert.deepEqual(paid.AccountingCustomerParty.Party.EndpointID['@schemeID'], '0199', 'the buyer\'s USCC stays under the USCC scheme, not the seller\'s GLN scheme');
    const inv = longNormal();
    inv.lines = inv.lines.filter((l) => l.taxExemption === 'non-taxable');
    const o = parser.parse(invoiceToUbl(inv)).Invoice as Node;
    assert.equal(o.TaxTotal.TaxSubtotal[0].TaxCategory.ID, 'O');
    assert.equal(o.TaxTotal.TaxSubtotal[0].TaxCategory.Percent, undefined, 'not subject to VAT has no rate');
    assert.equal(o.AccountingSupplierParty.Party.PartyTaxScheme, undefined, 'BR-O-02');
  });

  it('an ID-card number is no VAT identifier and no endpoint', () => {
    const inv = longNormal();
    inv.buyer = { name: '张三', taxId: '110101199003074514' };
    const d = parser.parse(invoiceToUbl(inv)).Invoice as Node;
    const buyer = d.AccountingCustomerParty.Party as Node;
    assert.equal(buyer.PartyTaxScheme, undefined);
    assert.equal(buyer.PartyLegalEntity.CompanyID, undefined);
    assert.equal(buyer.EndpointID['#text'], `FAPIAO-${inv.number}`);
  });

  it('maps units to UN/ECE rec 20 codes, unknown → C62', () => {
    assert.equal(unitCode('个'), 'H87');
    assert.equal(unitCode('千克'), 'KGM');
    assert.equal(unitCode('批'), 'C62');
    assert.equal(unitCode(undefined), 'C62');
  });

  it('the schema check does catch an invalid document', async () => {
    const broken = invoiceToUbl(blueSpecial()).replace('<cbc:IssueDate>', '<cbc:Bogus/><cbc:IssueDate>');
    assert.notDeepEqual(await schemaErrors(broken, 'Invoice'), []);
  });
});
