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
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { unzipSync as unzip, zipSync } from 'fflate';
import { generateSm2KeyPair, sm2PublicKeyToPem, sm2Sign } from '../../src/platform/crypto/sm2.ts';
import { readInvoiceFile } from '../../src/modules/documents/app/invoice-file.ts';
import {
  customData, invoiceToOfd, OFD_NS, OFD_SIGNATURE, OFD_SIGNATURES, OFD_SIGNED_VALUE, OID_SM2_SM3, OID_SM3, prepareSignedOfd, signedInvoiceToOfd,
} from '../../src/modules/documents/domain/to-ofd.ts';
import { invoiceToXml } from '../../src/modules/documents/domain/to-xml.ts';
import { blueSpecial, LONG_CAPITALS, longNormal, redSpecial } from '../fixtures/sample-invoice.ts';

const KEY = generateSm2KeyPair();

const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, attributeNamePrefix: '@', htmlEntities: true });

const XSD = join(import.meta.dirname, '../fixtures/ofd-xsd');
const preload = readdirSync(XSD).filter((f) => f.endsWith('.xsd')).map((f) => ({ fileName: f, contents: readFileSync(join(XSD, f), 'utf8') }));

function schemaOf(part: string): string | undefined {
  if (part === 'OFD.xml') return 'OFD.xsd';
  if (part.endsWith('/Document.xml')) return 'Document.xsd';
  if (part.endsWith('/Content.xml')) return 'Page.xsd';
  if (part.endsWith('Res.xml')) return 'Res.xsd';
  if (part.endsWith('/Attachments.xml')) return 'Attachments.xsd';
  if (part.endsWith('/CustomTags.xml')) return 'CustomTags.xsd';
  if (part.endsWith('/Signatures.xml')) return 'Signatures.xsd';
  if (part.endsWith('/Signature.xml')) return 'Signature.xsd';
  return undefined;
}

/**
 * The schema text. Signature.xsd of GB/T 33190-2016 enumerates only MD5 and SHA1 as References/@CheckMethod; GB/T
 * 38540 (and every 数电票 OFD) writes the SM3 OID there, so the test adds that one value to the enumeration.
 */
function schemaText(schema: string): string {
  const text = readFileSync(join(XSD, schema), 'utf8');
  if (schema !== 'Signature.xsd') return text;
  const patched = text.replace('<xs:enumeration value="SHA1" />', `<xs:enumeration value="SHA1" /><xs:enumeration value="${OID_SM3}" />`);
  assert.notEqual(patched, text);
  return patched;
}

async function ofdSchemaErrors(xml: string, schema: string): Promise<string[]> {
  const r = await validateXML({
    xml: [{ fileName: 'part.xml', contents: xml }],
    schema: [{ fileName: schema, contents: schemaText(schema) }],
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
      'Doc_0/Pages/Page_0/Content.xml', 'Doc_0/Tags/CustomTags.xml', 'Doc_0/Tags/CustomTag.xml', 'Doc_0/PublicRes.xml',
      'Doc_0/DocumentRes.xml', 'Doc_0/Attachs/Attachments.xml', 'Doc_0/Attachs/invoice.xml']);
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
    let signatureParts = 0;
    for (const inv of [blueSpecial(), redSpecial(), longNormal(), extB()]) {
      for (const [name, xml] of Object.entries(parts(await signedInvoiceToOfd(inv, async (m) => sm2Sign(KEY.privateKey, m))))) {
        if (name.endsWith('/CustomTag.xml')) assert.equal(XMLValidator.validate(xml), true, 'no schema for the tag file: well-formed');
        const schema = schemaOf(name);
        if (!schema) continue;
        if (name.includes('/Signs/')) signatureParts++;
        assert.deepEqual(await ofdSchemaErrors(xml, schema), [], `${inv.number} ${name}`);
      }
    }
    assert.equal(signatureParts, 8);
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

  it('embeds the emoji and CJK Extension G fallbacks (Symbola, BabelStone Han) when a name needs them', (t) => {
    const names = fallbackFonts().map((f) => f.postscriptName);
    const missing = [['Symbola', 'fonts-symbola'], ['BabelStoneHan', 'fonts-babelstone-han']].filter(([f]) => !names.includes(f!)).map(([, p]) => p!);
    if (missing.length > 0) {
      if (process.env.CI) throw new Error(`${missing.join(', ')} missing: required in CI`);
      t.skip(`${missing.join(', ')} missing (apt-get install ${missing.join(' ')})`);
      return;
    }
    const inv = { ...blueSpecial(), buyer: { ...blueSpecial().buyer, name: '\u{30000}王\u{1F469}有限公司' } };
    const files = Object.fromEntries(Object.entries(unzipSync(invoiceToOfd(inv))).map(([k, v]) => [k, Buffer.from(v)]));
    const res = files['Doc_0/PublicRes.xml']!.toString('utf8');
    const fonts = [...res.matchAll(/<ofd:Font ID="(\d+)"[^>]*>\s*<ofd:FontFile>([^<]+)<\/ofd:FontFile>/g)].map((m) => [m[1]!, parseFontForTest(files[`Doc_0/Res/${m[2]!}`]!)] as const);
    const page = files['Doc_0/Pages/Page_0/Content.xml']!.toString('utf8');
    for (const cp of [0x30000, 0x1f469]) {
      const ch = String.fromCodePoint(cp);
      const m = new RegExp(`<ofd:TextObject [^>]*Font="(\\d+)"[^>]*>\\s*(?:<ofd:FillColor[^>]*/>\\s*)?<ofd:TextCode[^>]*>${ch}</ofd:TextCode>`, 'u').exec(page);
      assert.ok(m, `U+${cp.toString(16)} has a TextObject of its own`);
      assert.ok(fonts.find(([id]) => id === m[1])?.[1].has(cp), `the font of U+${cp.toString(16)} has its glyph`);
    }
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

  it('a signed OFD is identical across runs but for the SM2 signature value', async () => {
    const sign = async (m: Uint8Array) => sm2Sign(KEY.privateKey, m);
    const a = unzip(await signedInvoiceToOfd(longNormal(), sign)), b = unzip(await signedInvoiceToOfd(longNormal(), sign));
    assert.ok(a[OFD_SIGNED_VALUE] && b[OFD_SIGNED_VALUE]);
    delete a[OFD_SIGNED_VALUE];
    delete b[OFD_SIGNED_VALUE];
    assert.deepEqual(a, b);
  });

  it('signs every part but its own with SM3 references and an SM2 signature over Signature.xml', async () => {
    const inv = blueSpecial();
    const draft = prepareSignedOfd(inv);
    const files = unzip(draft.finish(sm2Sign(KEY.privateKey, draft.toBeSigned)));
    const text = (p: string) => strFromU8(files[p]!);
    assert.match(text('OFD.xml'), new RegExp(`<ofd:Signatures>${OFD_SIGNATURES}</ofd:Signatures>`));
    assert.match(text(OFD_SIGNATURES), new RegExp(`<ofd:Signature ID="Sign_0" Type="Sign" BaseLoc="/${OFD_SIGNATURE}"/>`));
    assert.deepEqual(files[OFD_SIGNATURE], draft.toBeSigned, 'the signed bytes are Signature.xml as archived');
    const sig = parser.parse(text(OFD_SIGNATURE))['ofd:Signature'];
    const info = sig['ofd:SignedInfo'];
    assert.equal(info['ofd:SignatureMethod'], OID_SM2_SM3);
    assert.equal(info['ofd:SignatureDateTime'], inv.issuedAt);
    assert.equal(info['ofd:References']['@CheckMethod'], OID_SM3);
    assert.equal(sig['ofd:SignedValue'], `/${OFD_SIGNED_VALUE}`);
    const refs = (info['ofd:References']['ofd:Reference'] as { '@FileRef': string; 'ofd:CheckValue': string }[]);
    assert.deepEqual(refs.map((r) => r['@FileRef'].slice(1)).sort(), Object.keys(files).filter((k) => !k.startsWith('Doc_0/Signs/')).sort());
    for (const r of refs) {
      const { createHash } = await import('node:crypto');
      assert.equal(r['ofd:CheckValue'], createHash('sm3').update(files[r['@FileRef'].slice(1)]!).digest('base64'), r['@FileRef']);
    }
  });

  it('openssl verifies the SM2 signature of Signature.xml (distid 1234567812345678)', async () => {
    const files = unzip(await signedInvoiceToOfd(redSpecial(), async (m) => sm2Sign(KEY.privateKey, m)));
    const dir = mkdtempSync(join(tmpdir(), 'ofd-sig-'));
    try {
      writeFileSync(join(dir, 'pub.pem'), sm2PublicKeyToPem(KEY.publicKey));
      writeFileSync(join(dir, 'Signature.xml'), files[OFD_SIGNATURE]!);
      writeFileSync(join(dir, 'SignedValue.dat'), files[OFD_SIGNED_VALUE]!);
      const verify = (msg: string) => {
        try {
          return execFileSync('openssl', ['pkeyutl', '-verify', '-rawin', '-digest', 'sm3', '-pubin', '-inkey', join(dir, 'pub.pem'),
            '-in', join(dir, msg), '-sigfile', join(dir, 'SignedValue.dat'), '-pkeyopt', 'distid:1234567812345678'], { encoding: 'utf8', stdio: 'pipe' });
        } catch (e) {
          return String((e as { stdout?: string }).stdout ?? e);
        }
      };
      assert.match(verify('Signature.xml'), /Signature Verified Successfully/);
      writeFileSync(join(dir, 'changed.xml'), strFromU8(files[OFD_SIGNATURE]!).replace('<ofd:CheckValue>', '<ofd:CheckValue>A'));
      assert.doesNotMatch(verify('changed.xml'), /Verified Successfully/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('readInvoiceFile checks the package signature; one changed byte in any part fails', async () => {
    const ofd = await signedInvoiceToOfd(blueSpecial(), async (m) => sm2Sign(KEY.privateKey, m));
    const read = await readInvoiceFile(ofd);
    const sigChecks = (r: Awaited<ReturnType<typeof readInvoiceFile>>, pub = KEY.publicKey) => [...r.checks, ...(r.keyChecks?.(() => pub) ?? [])].filter((c) => c.what === 'ofd-signature');
    assert.deepEqual(sigChecks(read).map((c) => c.ok), [true, true]);
    assert.deepEqual(sigChecks(read, generateSm2KeyPair().publicKey).map((c) => c.ok), [true, false], 'another key');
    const files = unzip(ofd);
    for (const part of Object.keys(files)) {
      const bytes = Uint8Array.from(files[part]!);
      const at = Math.floor(bytes.length / 2);
      bytes[at] = bytes[at]! ^ 0x01;
      const changed = { ...files, [part]: bytes };
      let checks;
      try {
        checks = sigChecks(await readInvoiceFile(zipSync(changed)));
      } catch {
        continue; // the attached XML no longer parses: refused outright
      }
      assert.ok(checks.some((c) => !c.ok), `a changed byte in ${part} goes unnoticed`);
    }
    const added = zipSync({ ...files, 'Doc_0/extra.xml': new Uint8Array([0x3c, 0x61, 0x2f, 0x3e]) });
    assert.match(sigChecks(await readInvoiceFile(added))[0]!.text, /Doc_0\/extra.xml not signed/);
    const unsigned = sigChecks(await readInvoiceFile(invoiceToOfd(blueSpecial())));
    assert.equal(unsigned[0]!.ok, false);
    assert.match(unsigned[0]!.text, /no package signature/);
  });

  it('custom tags point at the TextObjects that show each invoice field', async () => {
    for (const inv of [blueSpecial(), redSpecial(), longNormal()]) {
      const files = parts(invoiceToOfd(inv));
      assert.match(files['Doc_0/Document.xml']!, /<ofd:CustomTags>Tags\/CustomTags.xml<\/ofd:CustomTags>/);
      assert.match(files['Doc_0/Tags/CustomTags.xml']!, /<ofd:FileLoc>CustomTag.xml<\/ofd:FileLoc>/);
      const tag = files['Doc_0/Tags/CustomTag.xml']!;
      const pageIds = [...files['Doc_0/Document.xml']!.matchAll(/<ofd:Page ID="(\d+)" BaseLoc="([^"]+)"/g)].map((m) => [m[1]!, `Doc_0/${m[2]!}`] as const);
      const objectText = (pageRef: string, id: string): string => {
        const content = files[pageIds.find(([p]) => p === pageRef)![1]]!;
        return new RegExp(`<ofd:TextObject ID="${id}"[^>]*>[\\s\\S]*?<ofd:TextCode[^>]*>([^<]*)<`).exec(content)![1]!;
      };
      const shown = (name: string): string => {
        const body = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(tag)?.[1];
        assert.ok(body, `${inv.number}: no ${name}`);
        return [...body.matchAll(/<ofd:ObjectRef PageRef="(\d+)">(\d+)<\/ofd:ObjectRef>/g)].map((m) => objectText(m[1]!, m[2]!)).join('');
      };
      const [y, m, d] = inv.issueDate.split('-');
      assert.equal(shown('InvoiceNo'), inv.number);
      assert.equal(shown('IssueDate'), `${y}年${m}月${d}日`);
      assert.equal(shown('BuyerName'), inv.buyer.name);
      assert.equal(shown('BuyerTaxID'), inv.buyer.taxId);
      assert.equal(shown('SellerName'), inv.seller.name);
      assert.equal(shown('SellerTaxID'), inv.seller.taxId);
      assert.equal(shown('TaxExclusiveTotalAmount'), `¥${inv.totals.amount}`);
      assert.equal(shown('TaxTotalAmount'), `¥${inv.totals.tax}`);
      assert.equal(shown('TaxInclusiveTotalAmount'), `¥${inv.totals.total}`);
    }
  });
});
