import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { strFromU8, unzipSync } from 'fflate';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from 'fontkit';
import { validateXML } from 'xmllint-wasm';
import type { Invoice } from '../../src/shared/invoice.ts';
import { fallbackFonts } from '../../src/modules/documents/domain/font-metrics.ts';
import { customData, invoiceToOfd, OFD_NS } from '../../src/modules/documents/domain/to-ofd.ts';
import { invoiceToXml } from '../../src/modules/documents/domain/to-xml.ts';
import { blueSpecial, LONG_CAPITALS, longNormal, redSpecial } from '../fixtures/sample-invoice.ts';

const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, attributeNamePrefix: '@', htmlEntities: true });

const XSD = join(import.meta.dirname, '../fixtures/ofd-xsd');
const preload = readdirSync(XSD).filter((f) => f.endsWith('.xsd')).map((f) => ({ fileName: f, contents: readFileSync(join(XSD, f), 'utf8') }));

function schemaOf(part: string): string | undefined {
  if (part === 'OFD.xml') return 'OFD.xsd';
  if (part.endsWith('/Document.xml')) return 'Document.xsd';
  if (part.endsWith('/Content.xml')) return 'Page.xsd';
  if (part.endsWith('Res.xml')) return 'Res.xsd';
  if (part.endsWith('/Attachments.xml')) return 'Attachments.xsd';
  return undefined;
}

async function ofdSchemaErrors(xml: string, schema: string): Promise<string[]> {
  const r = await validateXML({
    xml: [{ fileName: 'part.xml', contents: xml }],
    schema: [{ fileName: schema, contents: readFileSync(join(XSD, schema), 'utf8') }],
    preload: preload.filter((p) => p.fileName !== schema),
    initialMemoryPages: 512,
  });
  return r.errors.map((e) => e.rawMessage);
}

/** A buyer whose name needs the Extension B fallback font. */
function extB(): Invoice {
  const inv = blueSpecial();
  return { ...inv, buyer: { ...inv.buyer, name: '𠀀𪚥王𠮷有限公司' } };
}

function parseFontForTest(data: Buffer): { has(cp: number): boolean } {
  const f = create(data);
  return { has: (cp) => f.glyphForCodePoint(cp).id !== 0 };
}

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
    assert.deepEqual(Object.keys(files), ['OFD.xml', 'Doc_0/Document.xml', 'Doc_0/Res/font_2.ttf', 'Doc_0/Res/font_3.ttf',
      'Doc_0/Pages/Page_0/Content.xml', 'Doc_0/PublicRes.xml', 'Doc_0/DocumentRes.xml', 'Doc_0/Attachs/Attachments.xml',
      'Doc_0/Attachs/invoice.xml']);
    assert.equal(files['Doc_0/Attachs/invoice.xml'], invoiceToXml(blueSpecial()), 'the signed platform XML, attached');
    assert.match(files['Doc_0/Attachs/Attachments.xml']!, /<ofd:FileLoc>invoice.xml<\/ofd:FileLoc>/);
    for (const [name, xml] of Object.entries(files)) {
      if (name === 'Doc_0/Attachs/invoice.xml' || name.endsWith('.ttf')) continue;
      assert.equal(XMLValidator.validate(xml), true, name);
      assert.ok(xml.includes(`xmlns:ofd="${OFD_NS}"`), name);
    }
    const doc = parser.parse(files['Doc_0/Document.xml']!)['ofd:Document'];
    assert.equal(doc['ofd:CommonData']['ofd:PageArea']['ofd:PhysicalBox'], '0 0 210 297');
    assert.equal(doc['ofd:CommonData']['ofd:PublicRes'], 'PublicRes.xml');
    assert.equal(doc['ofd:Pages']['ofd:Page']['@BaseLoc'], 'Pages/Page_0/Content.xml');
    assert.match(files['Doc_0/PublicRes.xml']!, /FontName="Noto Sans SC"/);
    assert.match(files['Doc_0/PublicRes.xml']!, /<ofd:FontFile>font_2.ttf<\/ofd:FontFile>/);
  });

  it('every XML part validates against the GB/T 33190 schemas', async () => {
    for (const inv of [blueSpecial(), redSpecial(), longNormal(), extB()]) {
      for (const [name, xml] of Object.entries(parts(invoiceToOfd(inv)))) {
        const schema = schemaOf(name);
        if (!schema) continue;
        assert.deepEqual(await ofdSchemaErrors(xml, schema), [], `${inv.number} ${name}`);
      }
    }
    const broken = parts(invoiceToOfd(blueSpecial()))['Doc_0/Document.xml']!.replace('<ofd:Pages>', '<ofd:Bogus/><ofd:Pages>');
    assert.notDeepEqual(await ofdSchemaErrors(broken, 'Document.xsd'), [], 'the check does catch an invalid part');
  });

  it('embeds a TrueType subset of each font it uses, with a cmap for every character it draws', (t) => {
    if (!fallbackFonts().some((f) => f.postscriptName === 'HanaMinB')) {
      if (process.env.CI) throw new Error('fonts-hanazono missing: required in CI');
      t.skip('fonts-hanazono missing (apt-get install fonts-hanazono)');
      return;
    }
    const inv = extB();
    const files = Object.fromEntries(Object.entries(unzipSync(invoiceToOfd(inv))).map(([k, v]) => [k, Buffer.from(v)]));
    const res = files['Doc_0/PublicRes.xml']!.toString('utf8');
    const fonts = [...res.matchAll(/<ofd:Font ID="(\d+)"[^>]*>\s*<ofd:FontFile>([^<]+)<\/ofd:FontFile>/g)].map((m) => [m[1]!, m[2]!] as const);
    assert.ok(fonts.length >= 3, 'regular, bold and the Extension B fallback');
    const byId = new Map(fonts.map(([id, file]) => [id, parseFontForTest(files[`Doc_0/Res/${file}`]!)]));
    let checked = 0;
    for (const [name, data] of Object.entries(files)) {
      if (!name.endsWith('Content.xml')) continue;
      for (const m of data.toString('utf8').matchAll(/<ofd:TextObject [^>]*Font="(\d+)"[^>]*>[\s\S]*?<ofd:TextCode[^>]*>([^<]*)<\/ofd:TextCode>/g)) {
        const f = byId.get(m[1]!)!;
        for (const ch of m[2]!.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>')) {
          if (ch.codePointAt(0)! > 0x20) assert.ok(f.has(ch.codePointAt(0)!), `font ${m[1]} lacks ${ch}`);
          checked++;
        }
      }
    }
    assert.ok(checked > 100);
    const all = Object.values(files).filter((_, i) => Object.keys(files)[i]!.endsWith('Content.xml')).map((b) => b.toString('utf8')).join('');
    assert.ok(all.includes('>𠀀𪚥<'), 'the Extension B run has a TextObject of its own');
    const total = fonts.reduce((a, [, file]) => a + files[`Doc_0/Res/${file}`]!.length, 0);
    assert.ok(total < 400_000, `embedded fonts ${total} bytes`);
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
    assert.match(page, /<ofd:PathObject ID="\d+" Boundary="12 5 36 36" Stroke="false" Fill="true">/, 'QR drawn as a path');
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
