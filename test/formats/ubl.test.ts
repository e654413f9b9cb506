import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { validateXML } from 'xmllint-wasm';
import type { Invoice } from '../../src/shared/invoice.ts';
import { toCents } from '../../src/modules/documents/domain/text.ts';
import { invoiceToUbl, UBL_CUSTOMIZATION_ID, unitCode } from '../../src/modules/documents/domain/to-ubl.ts';
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
    assert.equal(d.AccountingSupplierParty.Party.PartyTaxScheme.CompanyID, inv.seller.taxId);
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
    assert.deepEqual([...ids].sort(), ['O', 'S', 'Z']);
    const o = (d.TaxTotal.TaxSubtotal as Node[]).find((s): boolean => s.TaxCategory.ID === 'O')!;
    assert.equal(o.TaxCategory.Percent, undefined, 'not subject to VAT has no rate');
    assert.equal(d.InvoiceLine[2].InvoicedQuantity['@unitCode'], 'XBX');
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
