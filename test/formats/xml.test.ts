import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { XMLValidator } from 'fast-xml-parser';
import type { Invoice } from '../../src/shared/invoice.ts';
import { invoiceToXml, parseInvoiceXml, xmlToInvoiceFields } from '../../src/modules/documents/domain/to-xml.ts';
import { blueSpecial, longNormal, redSpecial } from '../fixtures/sample-invoice.ts';
import { hasTool, run, withTmp } from './tools.ts';

const ALL: [string, () => Invoice][] = [['blue special', blueSpecial], ['red', redSpecial], ['long normal', longNormal]];

describe('invoiceToXml', () => {
  for (const [name, make] of ALL) {
    it(`${name}: well-formed, deterministic and round-trips exactly`, () => {
      const inv = make();
      const xml = invoiceToXml(inv);
      assert.equal(XMLValidator.validate(xml), true);
      assert.equal(invoiceToXml(make()), xml, 'same invoice → same bytes');
      assert.deepStrictEqual(parseInvoiceXml(xml), inv);
    });
  }

  it('uses the platform element names and carries signature, hash and QR in the extension', () => {
    const inv = blueSpecial();
    const xml = invoiceToXml(inv);
    for (const tag of ['EInvoice', 'Header', 'EIid', 'InherentLabel', 'EInvoiceData', 'SellerInformation', 'SellerIdNum',
      'BuyerInformation', 'BuyerName', 'BasicInformation', 'TotalAmWithoutTax', 'TotalTax-includedAmountInChinese', 'Drawer',
      'IssuItemInformation', 'ItemName', 'TaxClassificationCode', 'AdditionalInformation', 'Remark', 'TaxSupervisionInfo',
      'FapiaoExtension', 'Signature', 'KeyId', 'QR']) assert.match(xml, new RegExp(`<${tag}[ >/]`), tag);
    assert.equal(xml.match(/<IssuItemInformation>/g)?.length, 3);
    assert.match(xml, /<TaxRate>免税<\/TaxRate>/);
    assert.ok(xml.includes(`<Value>${inv.signature.value}</Value>`));
    assert.ok(!xml.includes('<SpecificInformation>'), 'no red block on a blue invoice');
  });

  it('red invoices name the original number in SpecificInformation/RedEInvoice', () => {
    const xml = invoiceToXml(redSpecial());
    assert.match(xml, /<RedEInvoice>\s*<OriginalEInvoiceNumber>26442000000000001234<\/OriginalEInvoiceNumber>/);
    assert.match(xml, /<InIssuType>\s*<LabelCode>1<\/LabelCode>/);
  });

  it('keeps awkward text and absent/empty optional fields exactly', () => {
    const inv = blueSpecial();
    inv.remarks = '  line 1\r\nline 2\t<b>&amp; "quoted" \'x\' &nbsp; 😀\r';
    inv.buyer = { name: 'A&B <公司>', address: '' };
    inv.lines[0]!.spec = ' ';
    delete inv.externalId;
    inv.lines[2]!.taxRate = '0.00';
    const back = xmlToInvoiceFields(invoiceToXml(inv));
    assert.deepStrictEqual(back, inv);
    assert.ok(!('externalId' in back));
    assert.ok(!('taxId' in back.buyer));
  });

  it('writes U+FFFD for characters XML cannot carry, and rejects broken input', () => {
    // Only an invoice stored before the text rules (shared/text-rules.ts) can hold them; it must still render.
    const inv = blueSpecial();
    inv.remarks = 'bell\u0007 nul\u0000 lone\ud800 ffff\uffff fffe\ufffe c1\u0085 astral😀';
    inv.buyer = { ...inv.buyer, name: 'A\u0001B' };
    const back = xmlToInvoiceFields(invoiceToXml(inv));
    assert.equal(back.remarks, 'bell\ufffd nul\ufffd lone\ufffd ffff\ufffd fffe\ufffd c1\u0085 astral😀');
    assert.equal(back.buyer.name, 'A\ufffdB');
    assert.throws(() => parseInvoiceXml('<EInvoice><Header>'), /malformed XML/);
    assert.throws(() => parseInvoiceXml('<EInvoice><Header/></EInvoice>'), /missing/);
  });

  it('is well-formed for xmllint too', { skip: !hasTool('xmllint') && !process.env.CI && 'xmllint missing (apt-get install libxml2-utils)' }, async () => {
    await withTmp((_dir, write) => {
      run('xmllint', ['--noout', write('inv.xml', invoiceToXml(redSpecial()))]);
    });
  });
});
