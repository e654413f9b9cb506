import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { invoiceToPdf } from '../../src/modules/documents/domain/to-pdf.ts';
import { blueSpecial, LONG_CAPITALS, LONG_TOTAL, longNormal, redSpecial } from '../fixtures/sample-invoice.ts';
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import type { Invoice } from '../../src/shared/invoice.ts';
import { fallbackFonts } from '../../src/modules/documents/domain/font-metrics.ts';
import { needTools, run, withTmp } from './tools.ts';

/** The Extension B fallback (Debian fonts-hanazono) is there; required in CI. */
function hasFallback(t: TestContext): boolean {
  if (fallbackFonts().some((f) => f.postscriptName === 'HanaMinB')) return true;
  if (process.env.CI) throw new Error('fonts-hanazono missing: required in CI');
  t.skip('fonts-hanazono missing (apt-get install fonts-hanazono)');
  return false;
}

/** pdftotext output without the spaces its layout mode inserts. */
function text(path: string, page?: number): string {
  const range = page === undefined ? [] : ['-f', String(page), '-l', String(page)];
  return run('pdftotext', ['-enc', 'UTF-8', ...range, path, '-']).replace(/[ \u3000]+/g, '');
}

describe('invoiceToPdf', () => {
  it('is byte-identical across runs, one A4 page, titled with the number, ~25-40 KB', async () => {
    const a = await invoiceToPdf(blueSpecial());
    const b = await invoiceToPdf(blueSpecial());
    assert.ok(a.equals(b), 'same invoice → same bytes');
    assert.equal(a.subarray(0, 5).toString(), '%PDF-');
    assert.ok(a.length > 10_000 && a.length < 45_000, `size ${a.length}`);
    const s = a.toString('latin1');
    assert.match(s, /\(D:20261124060305Z\)/, 'CreationDate from issuedAt');
    assert.equal(s.match(/\/Type \/Page\b/g)?.length, 1);
    assert.match(s, /\/MediaBox \[0 0 595\.28 841\.89\]/);
    assert.match(s, /\+NotoSansSC-Regular/, 'font subset embedded');
  });

  it('with the XML attached stays deterministic', async () => {
    const a = await invoiceToPdf(redSpecial(), { attachXml: true });
    const b = await invoiceToPdf(redSpecial(), { attachXml: true });
    assert.ok(a.equals(b));
    assert.match(a.toString('latin1'), /26442000000000001301\.xml/);
  });

  // veraPDF, the reference PDF/A validator, is not packaged for Debian and cannot be downloaded here; this checks the
  // structure ISO 19005-3 level B asks for, with poppler's tools reading it.
  it('is PDF/A-3b in structure: XMP identification, sRGB output intent, fonts embedded, the XML an associated file', async (t) => {
    const pdf = await invoiceToPdf(blueSpecial(), { attachXml: true });
    const s = pdf.toString('latin1');
    assert.equal(pdf.subarray(0, 8).toString(), '%PDF-1.7');
    const xmp = Buffer.from(s.slice(s.indexOf('<x:xmpmeta'), s.indexOf('</x:xmpmeta>')), 'latin1').toString('utf8');
    assert.match(xmp, /<pdfaid:part>3<\/pdfaid:part>\s*<pdfaid:conformance>B<\/pdfaid:conformance>/);
    assert.match(xmp, /<dc:title>\s*<rdf:Alt>\s*<rdf:li xml:lang="x-default">26442000000000001234<\/rdf:li>/, 'the title in XMP matches the Info dictionary');
    assert.match(s, /\/OutputIntents \[\d+ 0 R\]/);
    assert.match(s, /\/S \/GTS_PDFA1/);
    assert.match(s, /\/DestOutputProfile \d+ 0 R/);
    assert.match(s, /\/AF \[\d+ 0 R\]/, 'the catalog lists the associated file');
    assert.match(s, /\/AFRelationship \/Alternative/);
    assert.match(s, /\/Subtype \/application#2Fxml/, 'the embedded file has its MIME type');
    assert.match(s, /\/ID \[/, 'the trailer has a file identifier');
    assert.doesNotMatch(s, /\/Encrypt\b|\/JavaScript\b|\/JS\b/);
    if (!needTools(t, 'pdffonts', 'pdfinfo', 'pdfdetach')) return;
    await withTmp(async (dir, write) => {
      const file = write('a.pdf', pdf);
      const fonts = run('pdffonts', [file]).split('\n').slice(2).filter((l) => l.trim() !== '');
      assert.ok(fonts.length > 0 && fonts.every((l) => /\syes\s+yes\s+yes\s/.test(l)), 'every font embedded, subset, with ToUnicode');
      assert.match(run('pdfinfo', [file]), /Metadata Stream: yes/);
      assert.match(run('pdfdetach', ['-list', file]), /1: 26442000000000001234\.xml/);
      run('pdfdetach', ['-save', '1', '-o', `${dir}/out.xml`, file]);
      assert.equal(readFileSync(`${dir}/out.xml`, 'utf8').slice(0, 5), '<?xml');
    });
  });

  it('shows number, date, parties, lines, totals, capitals and issuer (pdftotext)', async (t) => {
    if (!needTools(t, 'pdftotext')) return;
    const inv = blueSpecial();
    await withTmp(async (_d, write) => {
      const s = text(write('blue.pdf', await invoiceToPdf(inv)));
      for (const want of ['电子发票（增值税专用发票）', inv.number, '2026年11月24日', inv.buyer.name,
        inv.buyer.taxId!, inv.seller.name, inv.seller.taxId!, '*计算机配套产品*固态硬盘', '-500.00', '免税', '***', '13%',
        '¥6900.00', '¥780.00', '价税合计（大写）', inv.totals.totalInCapitals, '（小写）¥7680.00', '合同号：YF-2026-0815', '开票人：张伟']) {
        assert.ok(s.includes(want), `missing ${want}`);
      }
    });
  });

  it('red invoice: 红字 mark, original number, negative amounts', async (t) => {
    if (!needTools(t, 'pdftotext')) return;
    const inv = redSpecial();
    await withTmp(async (_d, write) => {
      const s = text(write('red.pdf', await invoiceToPdf(inv)));
      for (const want of ['红字', '原发票号码：26442000000000001234', '-1300.00', '¥-169.00', '（负数）壹仟肆佰陆拾玖圆整', '¥-1469.00']) {
        assert.ok(s.includes(want), `missing ${want}`);
      }
    });
  });

  it('the QR code decodes (pdftoppm + zbarimg) to invoice.qr from a screen render at 72 to 110 dpi and a print at 300', async (t) => {
    if (!needTools(t, 'pdftoppm', 'zbarimg')) return;
    for (const inv of [blueSpecial(), redSpecial(), longNormal()]) {
      await withTmp(async (dir, write) => {
        const pdf = write('inv.pdf', await invoiceToPdf(inv));
        for (const dpi of [72, 80, 90, 96, 100, 110, 300]) {
          run('pdftoppm', ['-png', '-r', String(dpi), '-f', '1', '-l', '1', '-singlefile', pdf, `${dir}/page`]);
          const decoded = run('zbarimg', ['-q', '--raw', '-Sdisable', '-Sqrcode.enable', `${dir}/page.png`]).trim();
          assert.equal(decoded, inv.qr, `${inv.kind} invoice at ${dpi} dpi`);
        }
      });
    }
  });

  it('names with CJK Extension B characters and combining marks print and survive in the text layer', async (t) => {
    if (!needTools(t, 'pdftotext', 'pdftoppm', 'pdffonts')) return;
    if (!hasFallback(t)) return;
    const named = (name: string): Invoice => ({ ...blueSpecial(), buyer: { ...blueSpecial().buyer, name } });
    await withTmp(async (dir, write) => {
      const a = write('a.pdf', await invoiceToPdf(named('𠀀𪚥王𠮷有限公司 Zoë Ñ́')));
      const b = write('b.pdf', await invoiceToPdf(named('𪚥𠀀王𠮷有限公司 Zoë Ñ́')));
      assert.ok(text(a).includes('名称：𠀀𪚥王𠮷有限公司Zoë'), 'the Extension B characters are in the text layer');
      assert.ok(text(a).includes('Ñ́'), 'and the combining mark');
      assert.match(run('pdffonts', [a]), /\+HanaMinB\s+CID TrueType\s+Identity-H\s+yes yes yes/, 'fallback subset embedded, with ToUnicode');
      assert.doesNotMatch(run('pdffonts', [write('plain.pdf', await invoiceToPdf(blueSpecial()))]), /HanaMin/, 'embedded only when needed');
      // Two names with the same two characters swapped: missing-glyph boxes would render the same pixels.
      const crop = (pdf: string, out: string): Buffer => {
        run('pdftoppm', ['-gray', '-r', '110', '-f', '1', '-l', '1', '-singlefile', '-x', '130', '-y', '196', '-W', '60', '-H', '30', pdf, `${dir}/${out}`]);
        return readFileSync(`${dir}/${out}.pgm`);
      };
      const pa = crop(a, 'a'), pb = crop(b, 'b');
      assert.ok(pa.subarray(-1800).some((v) => v < 128), 'ink where the name is');
      assert.notDeepEqual(pa, pb, 'the two Extension B glyphs are drawn, not boxes');
    });
  });

  it('names with emoji and CJK Extension G characters print (Symbola, BabelStone Han); a character no font has prints as a box', async (t) => {
    if (!needTools(t, 'pdftotext', 'pdftoppm', 'pdffonts')) return;
    if (!hasFallback(t)) return;
    const names = fallbackFonts().map((f) => f.postscriptName);
    for (const [font, pkg] of [['Symbola', 'fonts-symbola'], ['BabelStoneHan', 'fonts-babelstone-han']]) {
      if (names.includes(font!)) continue;
      if (process.env.CI) throw new Error(`${pkg} missing: required in CI`);
      t.skip(`${pkg} missing (apt-get install ${pkg})`);
      return;
    }
    // U+30000 and U+30001 are CJK Extension G, U+1F469 👩 and U+1F468 👨 emoji; U+1FAE0 🫠 (Unicode 14) is in none of
    // the fonts.
    const named = (name: string): Invoice => ({ ...blueSpecial(), buyer: { ...blueSpecial().buyer, name } });
    await withTmp(async (dir, write) => {
      const a = write('a.pdf', await invoiceToPdf(named('\u{30000}\u{30001}王\u{1F469}\u{1F468}有限公司')));
      const b = write('b.pdf', await invoiceToPdf(named('\u{30001}\u{30000}王\u{1F468}\u{1F469}有限公司')));
      assert.ok(text(a).includes('名称：\u{30000}\u{30001}王\u{1F469}\u{1F468}有限公司'), 'every character is in the text layer');
      const fonts = run('pdffonts', [a]);
      assert.match(fonts, /\+BabelStoneHan\s+CID TrueType\s+Identity-H\s+yes yes yes/, 'the Extension G font is embedded as a subset with ToUnicode');
      assert.match(fonts, /\+Symbola\s+CID TrueType\s+Identity-H\s+yes yes yes/, 'the emoji font too');
      // Swapped pairs of characters of the same font and width: missing-glyph boxes would render the same pixels.
      const crop = (pdf: string, out: string): Buffer => {
        run('pdftoppm', ['-gray', '-r', '110', '-f', '1', '-l', '1', '-singlefile', '-x', '130', '-y', '196', '-W', '80', '-H', '30', pdf, `${dir}/${out}`]);
        return readFileSync(`${dir}/${out}.pgm`);
      };
      const pa = crop(a, 'a'), pb = crop(b, 'b');
      assert.ok(pa.subarray(-2400).some((v) => v < 128), 'ink where the name is');
      assert.notDeepEqual(pa, pb, 'the Extension G glyphs and the emoji are drawn, not boxes');
      // No font has U+1FAE0: it prints as the missing-glyph box, and the document still renders with the rest intact.
      const c = write('c.pdf', await invoiceToPdf(named('\u{30000}王\u{1FAE0}\u{1F469}有限公司')));
      assert.ok(text(c).includes('有限公司') && text(c).includes('\u{30000}王'), 'the other characters survive');
      crop(c, 'c');
    });
  });

  it('a 40-line invoice continues on a second page with the totals on the last one', async (t) => {
    if (!needTools(t, 'pdftotext', 'pdfinfo')) return;
    const inv = longNormal();
    assert.equal(inv.totals.total, LONG_TOTAL);
    await withTmp(async (_d, write) => {
      const path = write('long.pdf', await invoiceToPdf(inv));
      const pages = Number(/Pages:\s+(\d+)/.exec(run('pdfinfo', [path]))?.[1]);
      assert.ok(pages > 1, `pages ${pages}`);
      const first = text(path, 1), last = text(path, pages);
      for (const p of [first, last]) for (const want of ['项目名称', '税率/征收率', inv.number, inv.buyer.name]) assert.ok(p.includes(want), `every page has ${want}`);
      assert.ok(first.includes('（续下页）') && !first.includes(LONG_CAPITALS) && !first.includes('价税合计'));
      assert.ok(last.includes(LONG_CAPITALS) && last.includes(`¥${LONG_TOTAL}`) && last.includes(`第${pages}页共${pages}页`));
      assert.ok(last.includes('*办公用品*办公耗材40号'));
      const all = text(path);
      for (let i = 1; i <= 40; i++) if (i !== 5) assert.ok(all.includes(`*办公用品*办公耗材${i}号`), `line ${i}`);
      assert.ok(all.includes('不征税'));
    });
  });
});
