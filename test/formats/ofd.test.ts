import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { strFromU8, unzipSync } from 'fflate';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { customData, invoiceToOfd, OFD_NS } from '../../src/modules/documents/domain/to-ofd.ts';
import { invoiceToXml } from '../../src/modules/documents/domain/to-xml.ts';
import { blueSpecial, LONG_CAPITALS, longNormal, redSpecial } from '../fixtures/sample-invoice.ts';

const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, attributeNamePrefix: '@', htmlEntities: true });

function parts(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(Object.entries(unzipSync(bytes)).map(([k, v]) => [k, strFromU8(v)]));
}

/** All TextCode strings of a Content.xml, in document order. */
function texts(xml: string): string[] {
  return [...xml.matchAll(/<ofd:TextCode[^>]*>([^<]*)<\/ofd:TextCode>/g)].map((m) => m[1]!.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>'));
}

describe('invoiceToOfd', () => {
  it('is a ZIP of well-formed parts in the OFD namespace, OFD.xml first', () => {
    const files = parts(invoiceToOfd(blueSpecial()));
    assert.deepEqual(Object.keys(files), ['OFD.xml', 'Doc_0/Document.xml', 'Doc_0/Pages/Page_0/Content.xml', 'Doc_0/PublicRes.xml',
      'Doc_0/DocumentRes.xml', 'Doc_0/Attachs/Attachments.xml', 'Doc_0/Attachs/invoice.xml']);
    assert.equal(files['Doc_0/Attachs/invoice.xml'], invoiceToXml(blueSpecial()), 'the signed platform XML, attached');
    assert.match(files['Doc_0/Attachs/Attachments.xml']!, /<ofd:FileLoc>invoice.xml<\/ofd:FileLoc>/);
    for (const [name, xml] of Object.entries(files)) {
      if (name === 'Doc_0/Attachs/invoice.xml') continue;
      assert.equal(XMLValidator.validate(xml), true, name);
      assert.ok(xml.includes(`xmlns:ofd="${OFD_NS}"`), name);
    }
    const doc = parser.parse(files['Doc_0/Document.xml']!)['ofd:Document'];
    assert.equal(doc['ofd:CommonData']['ofd:PageArea']['ofd:PhysicalBox'], '0 0 210 297');
    assert.equal(doc['ofd:CommonData']['ofd:PublicRes'], 'PublicRes.xml');
    assert.equal(doc['ofd:Pages']['ofd:Page']['@BaseLoc'], 'Pages/Page_0/Content.xml');
    assert.match(files['Doc_0/PublicRes.xml']!, /FontName="Noto Sans SC"/);
  });

  it('OFD.xml carries the invoice fields as CustomData and points at the document root', () => {
    const inv = redSpecial();
    const ofd = parser.parse(parts(invoiceToOfd(inv))['OFD.xml']!)['ofd:OFD'];
    assert.equal(ofd['ofd:DocBody']['ofd:DocRoot'], 'Doc_0/Document.xml');
    const info = ofd['ofd:DocBody']['ofd:DocInfo'];
    assert.equal(info['ofd:Title'], inv.number);
    const fields = Object.fromEntries((info['ofd:CustomDatas']['ofd:CustomData'] as { '@Name': string; '#text': string }[]).map((c) => [c['@Name'], c['#text']]));
    assert.deepEqual(fields, Object.fromEntries(customData(inv)));
    assert.equal(fields['发票号码'], inv.number);
    assert.equal(fields['开票日期'], inv.issueDate);
    assert.equal(fields['合计金额'], '-1300.00');
    assert.equal(fields['合计税额'], '-169.00');
    assert.equal(fields['价税合计'], '-1469.00');
    assert.equal(fields['购买方名称'], inv.buyer.name);
    assert.equal(fields['购买方纳税人识别号'], inv.buyer.taxId);
    assert.equal(fields['销售方名称'], inv.seller.name);
    assert.equal(fields['销售方纳税人识别号'], inv.seller.taxId);
    assert.equal(fields['原发票号码'], inv.originalNumber);
  });

  it('page content holds the same face text as the PDF, positioned in mm', () => {
    const inv = blueSpecial();
    const page = parts(invoiceToOfd(inv))['Doc_0/Pages/Page_0/Content.xml']!;
    const all = texts(page);
    for (const want of ['电子发票（增值税专用发票）', inv.number, '2026年11月24日', inv.buyer.name, inv.seller.taxId!, '*计算机配套产品*固态硬盘',
      '免税', '***', '¥6900.00', `⊗ ${inv.totals.totalInCapitals}`, '¥7680.00', '收款人：王芳  复核：李强', '张伟']) {
      assert.ok(all.includes(want), `missing ${want}`);
    }
    assert.match(page, /<ofd:TextObject ID="\d+" Boundary="[\d. ]+" Font="\d" Size="[\d.]+">/);
    assert.match(page, /<ofd:PathObject ID="\d+" Boundary="14 9 27 27" Stroke="false" Fill="true">/, 'QR drawn as a path');
  });

  it('a long invoice has two pages, totals on the last', () => {
    const files = parts(invoiceToOfd(longNormal()));
    const p0 = texts(files['Doc_0/Pages/Page_0/Content.xml']!), p1 = texts(files['Doc_0/Pages/Page_1/Content.xml']!);
    assert.ok(p0.includes('（续下页）') && !p0.some((t) => t.includes(LONG_CAPITALS)));
    assert.ok(p1.some((t) => t.includes(LONG_CAPITALS)));
    const ids = [...Object.values(files).join('').matchAll(/ ID="(\d+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, 'IDs are unique');
    const max = Number(/<ofd:MaxUnitID>(\d+)</.exec(files['Doc_0/Document.xml']!)?.[1]);
    assert.equal(max, Math.max(...ids.map(Number)));
  });

  it('is byte-identical across runs and time zones', () => {
    const a = invoiceToOfd(longNormal());
    assert.deepEqual(invoiceToOfd(longNormal()), a);
    const tz = process.env.TZ;
    try {
      process.env.TZ = 'America/Los_Angeles';
      assert.deepEqual(invoiceToOfd(longNormal()), a);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });
});
