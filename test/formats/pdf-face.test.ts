// What a PDF's pages show is checked against the signed invoice it carries (pdf-face.ts): a page whose total was
// edited, or a page re-rendered with another total over the original XML, fails naming the field.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, inflateSync } from 'node:zlib';
import { invoiceToPdf } from '../../src/modules/documents/domain/to-pdf.ts';
import { readInvoiceFile } from '../../src/modules/documents/app/invoice-file.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { blueSpecial, longNormal, redSpecial } from '../fixtures/sample-invoice.ts';

interface PdfObject { num: number; start: number; end: number; dict: string; stream?: Buffer }

/** The indirect objects of a pdfkit PDF (no object streams, one revision). */
function objects(pdf: Buffer): PdfObject[] {
  const s = pdf.toString('latin1');
  const out: PdfObject[] = [];
  for (const m of s.matchAll(/(?:^|\n)(\d+) 0 obj\s*/g)) {
    const start = m.index + (m[0].startsWith('\n') ? 1 : 0);
    const end = s.indexOf('endobj', start) + 'endobj'.length;
    const body = s.slice(start + m[0].trimStart().length, end);
    const st = /stream\r?\n/.exec(body);
    if (!st) { out.push({ num: Number(m[1]), start, end, dict: body }); continue; }
    const from = start + m[0].trimStart().length + st.index + st[0].length;
    const raw = pdf.subarray(from, s.indexOf('endstream', from));
    const dict = body.slice(0, st.index);
    out.push({ num: Number(m[1]), start, end, dict, stream: /\/FlateDecode/.test(dict) ? inflateSync(raw) : raw });
  }
  return out;
}

/** The PDF with object `num` replaced by `body` ("<< … >> stream … endstream" or any object), the xref rebuilt. */
function replaceObject(pdf: Buffer, num: number, body: Buffer): Buffer {
  const obj = objects(pdf).find((o) => o.num === num)!;
  const head = Buffer.concat([pdf.subarray(0, obj.start), Buffer.from(`${num} 0 obj\n`, 'latin1'), body, Buffer.from('\nendobj', 'latin1'), pdf.subarray(obj.end)]);
  const s = head.toString('latin1');
  const xrefAt = s.lastIndexOf('\nxref\n') + 1;
  const trailer = s.slice(s.indexOf('trailer', xrefAt), s.lastIndexOf('startxref'));
  const offsets = new Map<number, number>();
  for (const m of s.slice(0, xrefAt).matchAll(/(?:^|\n)(\d+) 0 obj/g)) offsets.set(Number(m[1]), m.index + (m[0].startsWith('\n') ? 1 : 0));
  const size = Math.max(...offsets.keys()) + 1;
  let xref = `xref\n0 ${size}\n0000000000 65535 f \n`;
  for (let i = 1; i < size; i++) xref += offsets.has(i) ? `${String(offsets.get(i)).padStart(10, '0')} 00000 n \n` : '0000000000 00000 f \n';
  return Buffer.concat([head.subarray(0, xrefAt), Buffer.from(`${xref}${trailer}startxref\n${xrefAt}\n%%EOF\n`, 'latin1')]);
}

const streamObject = (dict: string, data: Buffer): Buffer =>
  Buffer.concat([Buffer.from(`${dict.replace(/\/Length \d+/, `/Length ${data.length}`).trimEnd()}\nstream\n`, 'latin1'), data, Buffer.from('\nendstream', 'latin1')]);

/** Glyph id (4 hex digits) → text, from every ToUnicode CMap of the PDF (pdfkit writes bfrange arrays). */
function glyphText(pdf: Buffer): Map<string, Map<string, string>> {
  const objs = objects(pdf);
  const fonts = new Map<string, Map<string, string>>();
  for (const o of objs) {
    const tu = /\/ToUnicode (\d+) 0 R/.exec(o.dict);
    if (!tu) continue;
    const cmap = objs.find((c) => c.num === Number(tu[1]))!.stream!.toString('latin1');
    const map = new Map<string, string>();
    for (const r of cmap.matchAll(/<([0-9a-f]{4})> <[0-9a-f]{4}> \[([^\]]*)\]/gi)) {
      let gid = parseInt(r[1]!, 16);
      for (const u of r[2]!.match(/<[0-9a-f]+>/gi) ?? []) {
        map.set(gid.toString(16).padStart(4, '0'), Buffer.from(u.slice(1, -1), 'hex').swap16().toString('utf16le'));
        gid++;
      }
    }
    fonts.set(String(o.num), map);
  }
  return fonts;
}

/** The page's content stream with the first text shown as `from` drawn as `to` instead (same glyphs, re-ordered). */
function editShownText(pdf: Buffer, from: string, to: string): Buffer {
  const objs = objects(pdf);
  const page = objs.find((o) => /\/Type \/Page\b/.test(o.dict))!;
  const content = objs.find((o) => o.num === Number(/\/Contents (\d+) 0 R/.exec(page.dict)![1]))!;
  const maps = [...glyphText(pdf).values()];
  const text = content.stream!.toString('latin1');
  for (const m of text.matchAll(/\[([^\]]*)\] TJ/g)) {
    const hex = (m[1]!.match(/<([0-9a-f]+)>/gi) ?? []).map((h) => h.slice(1, -1)).join('');
    const gids = hex.match(/.{4}/g) ?? [];
    for (const map of maps) {
      if (gids.map((g) => map.get(g) ?? '?').join('') !== from) continue;
      const gidOf = new Map([...map].map(([g, ch]) => [ch, g]));
      const edited = Array.from(to, (ch) => gidOf.get(ch) ?? assert.fail(`no glyph for ${ch} in the subset`)).join('');
      const changed = text.slice(0, m.index) + `[<${edited}>] TJ` + text.slice(m.index + m[0].length);
      return replaceObject(pdf, content.num, streamObject(content.dict, deflateSync(Buffer.from(changed, 'latin1'))));
    }
  }
  return assert.fail(`no text ${from} on the page`);
}

const pdfChecks = async (pdf: Uint8Array) => (await readInvoiceFile(pdf)).checks.filter((c) => c.what === 'pdf');

describe('the PDF face against the signed invoice', () => {
  for (const [name, inv] of [['blue', blueSpecial()], ['red', redSpecial()], ['three-page', longNormal()]] as [string, Invoice][]) {
    it(`a genuine ${name} invoice passes: number, date, totals and QR shown as signed`, async () => {
      const checks = await pdfChecks(await invoiceToPdf(inv, { attachXml: true }));
      assert.ok(checks.every((c) => c.ok), JSON.stringify(checks, null, 1));
      const names = checks.map((c) => c.text.replace(/ shown .*/, ''));
      assert.deepEqual(names, ['invoice number', 'issue date', ...(inv.originalNumber ? ['original invoice number'] : []), 'total in figures', 'total in capitals', 'QR code']);
    });
  }

  it('reads the attached XML when its compressed bytes end in a carriage return (one stream in 256)', async () => {
    const inv = blueSpecial();
    const genuine = await invoiceToPdf(inv, { attachXml: true });
    const file = objects(genuine).find((o) => /\/Type \/EmbeddedFile/.test(o.dict))!;
    const xml = file.stream!.toString('utf8');
    // Trailing tabs change the Adler-32 checksum that ends a zlib stream, not the invoice the XML carries.
    let data: Buffer | undefined;
    for (let pad = 0; pad < 4096 && !data; pad++) {
      const d = deflateSync(Buffer.from(xml + '\t'.repeat(pad), 'utf8'));
      if (d[d.length - 1] === 0x0d) data = d;
    }
    assert.ok(data, 'a padding whose stream ends in CR');
    const read = await readInvoiceFile(replaceObject(genuine, file.num, streamObject(file.dict, data)));
    assert.deepEqual(read.invoice, inv);
  });

  it('the labels\' text in the remarks or in a line\'s name is not taken for the field', async () => {
    const inv = blueSpecial();
    inv.remarks = '发票号码：12345678901234567890\n（小写）¥1.00\n价税合计（大写）⊗ 壹圆整 开票日期：2020年01月01日';
    inv.lines[0]!.name = '价税合计（大写）壹圆整';
    const checks = await pdfChecks(await invoiceToPdf(inv, { attachXml: true }));
    assert.ok(checks.every((c) => c.ok), JSON.stringify(checks, null, 1));
  });

  it('a buyer-details face (remarks differ) passes too', async () => {
    const checks = await pdfChecks(await invoiceToPdf(blueSpecial(), { attachXml: true, face: { buyerDetails: true, sellerDetails: true } }));
    assert.ok(checks.every((c) => c.ok), JSON.stringify(checks));
  });

  it('fails when the page\'s total was edited in the content stream (blue and red)', async () => {
    for (const inv of [blueSpecial(), redSpecial()]) {
      const genuine = await invoiceToPdf(inv, { attachXml: true });
      const shown = `¥${inv.totals.total}`;
      // Two digits of the total swapped: the glyphs are in the subset already.
      const digits = inv.totals.total.replace(/\D/g, '');
      const a = digits.split('').find((d) => d !== digits[0])!;
      const to = shown.replace(digits[0]!, '#').replace(a, digits[0]!).replace('#', a);
      assert.notEqual(to, shown);
      const edited = editShownText(genuine, shown, to);
      const read = await readInvoiceFile(edited);
      assert.deepEqual(read.invoice, inv, 'the attached XML is untouched');
      const checks = read.checks.filter((c) => c.what === 'pdf');
      const failed = checks.filter((c) => !c.ok);
      assert.equal(failed.length, 1, JSON.stringify(checks));
      assert.equal(failed[0]!.text, `total in figures: the page shows total in figures ${to} where the signed invoice has ${shown}`);
    }
  });

  it('fails when the page was re-rendered with another total over the original XML', async () => {
    const inv = blueSpecial();
    const genuine = await invoiceToPdf(inv, { attachXml: true });
    const forged = structuredClone(inv);
    forged.totals.total = '7080.00';
    forged.totals.totalInCapitals = '柒仟零捌拾圆整';
    const rendered = await invoiceToPdf(forged, { attachXml: true });
    // The forged page with the genuine attachment: the embedded file stream of the genuine PDF put in its place.
    const file = (pdf: Buffer) => objects(pdf).find((o) => /\/Type \/EmbeddedFile/.test(o.dict))!;
    const g = file(genuine);
    const body = genuine.subarray(g.start, g.end).toString('latin1').replace(/^\d+ 0 obj\s*/, '').replace(/\s*endobj$/, '');
    const hybrid = replaceObject(rendered, file(rendered).num, Buffer.from(body, 'latin1'));
    const read = await readInvoiceFile(hybrid);
    assert.deepEqual(read.invoice, inv, 'the genuine signed invoice');
    const failed = read.checks.filter((c) => c.what === 'pdf' && !c.ok).map((c) => c.text);
    assert.deepEqual(failed, [
      'total in figures: the page shows total in figures ¥7080.00 where the signed invoice has ¥7680.00',
      'total in capitals: the page shows total in capitals ⊗柒仟零捌拾圆整 where the signed invoice has ⊗柒仟陆佰捌拾圆整',
      // The QR payload carries the total: the forged page's QR is not the signed invoice's.
      ...(forged.qr === inv.qr ? [] : [failed[2]!]),
    ]);
  });

  it('fails when the QR drawn is not the signed payload\'s, and on one changed byte in the page content', async () => {
    const inv = blueSpecial();
    const genuine = await invoiceToPdf(inv, { attachXml: true });
    const forged = structuredClone(inv);
    forged.qr = inv.qr.replace(/\*7680\.00\*/, '*7080.00*');
    assert.notEqual(forged.qr, inv.qr);
    const rendered = await invoiceToPdf(forged, { attachXml: true });
    const file = (pdf: Buffer) => objects(pdf).find((o) => /\/Type \/EmbeddedFile/.test(o.dict))!;
    const g = file(genuine);
    const body = genuine.subarray(g.start, g.end).toString('latin1').replace(/^\d+ 0 obj\s*/, '').replace(/\s*endobj$/, '');
    const read = await readInvoiceFile(replaceObject(rendered, file(rendered).num, Buffer.from(body, 'latin1')));
    const failed = read.checks.filter((c) => c.what === 'pdf' && !c.ok);
    assert.equal(failed.length, 1, JSON.stringify(read.checks));
    assert.match(failed[0]!.text, /^QR code: the page draws a QR that is not the signed invoice's \(\d+ of \d+ module runs missing, \d+ other filled shapes\)$/);

    // One changed byte in the compressed page content (a QR module moved by a digit, or a broken stream): never a pass.
    const objs = objects(genuine);
    const page = objs.find((o) => /\/Type \/Page\b/.test(o.dict))!;
    const content = objs.find((o) => o.num === Number(/\/Contents (\d+) 0 R/.exec(page.dict)![1]))!;
    const plain = content.stream!.toString('latin1');
    // The first digit of a module run's x: the run moves by 10 or 100 pt.
    const at = plain.lastIndexOf('\n', plain.indexOf(' re\n', plain.length / 4)) + 1;
    assert.match(plain[at]!, /\d/);
    const changed = plain.slice(0, at) + (plain[at] === '1' ? '2' : '1') + plain.slice(at + 1);
    const one = replaceObject(genuine, content.num, streamObject(content.dict, deflateSync(Buffer.from(changed, 'latin1'))));
    assert.ok((await pdfChecks(one)).some((c) => !c.ok), 'a moved QR module fails');
    const raw = Buffer.from(genuine);
    const s = raw.toString('latin1');
    const from = s.indexOf('stream', s.indexOf(`\n${content.num} 0 obj`)) + 'stream\n'.length;
    raw[from + 40] = raw[from + 40]! ^ 0x01;
    assert.ok((await pdfChecks(raw)).some((c) => !c.ok), 'a corrupted content stream fails');
  });
});
