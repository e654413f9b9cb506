// 备注 with the parties' details (document settings `remarks`, or ?buyerDetails= per download): the PDF (pdftotext)
// and the OFD page show the buyer's address, phone, bank and account before the remarks, as the platform prints them
// for a 专票 when the seller asks; the signed XML they carry is the same with or without.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { unzipSync } from 'fflate';
import { faceRemarks } from '../../src/modules/documents/domain/layout.ts';
import { invoiceToPdf } from '../../src/modules/documents/domain/to-pdf.ts';
import { invoiceToOfd } from '../../src/modules/documents/domain/to-ofd.ts';
import { readInvoiceFile } from '../../src/modules/documents/app/invoice-file.ts';
import { blueSpecial, longNormal } from '../fixtures/sample-invoice.ts';
import { needTools, run, withTmp } from './tools.ts';

const squeeze = (s: string): string => s.replace(/[ \u3000\n]+/g, '');

describe('备注 with the parties\' details', () => {
  it('lists the buyer\'s, then the seller\'s details, then the remarks; only the fields the party has', () => {
    const inv = blueSpecial();
    assert.equal(faceRemarks(inv), inv.remarks);
    assert.equal(faceRemarks(inv, { buyerDetails: true }), [
      '购方地址：上海市浦东新区世纪大道100号；电话：021-68881234；',
      inv.remarks,
    ].join('\n'), 'the buyer has no bank: no bank line');
    assert.equal(faceRemarks(inv, { buyerDetails: true, sellerDetails: true }), [
      '购方地址：上海市浦东新区世纪大道100号；电话：021-68881234；',
      '销方地址：深圳市南山区科技园科发路8号；电话：0755-86001234；',
      '销方开户银行：招商银行深圳科技园支行；银行账号：755912345610801；',
      inv.remarks,
    ].join('\n'));
    const bare = { ...inv, remarks: undefined, buyer: { name: '张三' } };
    assert.equal(faceRemarks(bare, { buyerDetails: true }), '');
  });

  it('prints them in the PDF (pdftotext) and the OFD page; the attached signed XML does not change', async (t) => {
    if (!needTools(t, 'pdftotext')) return;
    const inv = blueSpecial();
    await withTmp(async (_dir, write) => {
      const on = await invoiceToPdf(inv, { attachXml: true, face: { buyerDetails: true, sellerDetails: true } });
      const off = await invoiceToPdf(inv, { attachXml: true });
      const textOn = squeeze(run('pdftotext', ['-enc', 'UTF-8', write('on.pdf', on), '-']));
      const textOff = squeeze(run('pdftotext', ['-enc', 'UTF-8', write('off.pdf', off), '-']));
      for (const s of ['购方地址：上海市浦东新区世纪大道100号', '电话：021-68881234', '销方开户银行：招商银行深圳科技园支行', '银行账号：755912345610801']) {
        assert.ok(textOn.includes(s), `${s} in the PDF`);
        assert.ok(!textOff.includes(s), `${s} not in the PDF without the option`);
      }
      assert.ok(textOn.includes('合同号：YF-2026-0815'), 'the remarks follow');
      assert.deepEqual((await readInvoiceFile(on)).invoice, (await readInvoiceFile(off)).invoice);
    });
    const page = (o: Uint8Array) => new TextDecoder().decode(unzipSync(o)['Doc_0/Pages/Page_0/Content.xml']);
    const ofdOn = invoiceToOfd(inv, { face: { buyerDetails: true } });
    assert.ok(page(ofdOn).includes('购方地址：上海市浦东新区世纪大道100号'));
    assert.ok(!page(invoiceToOfd(inv)).includes('购方地址'));
    assert.deepEqual(unzipSync(ofdOn)['Doc_0/Attachs/invoice.xml'], unzipSync(invoiceToOfd(inv))['Doc_0/Attachs/invoice.xml']);
  });

  it('a long invoice keeps its details on the last page with the remarks', async (t) => {
    if (!needTools(t, 'pdftotext')) return;
    const inv = longNormal();
    await withTmp(async (_dir, write) => {
      const path = write('long.pdf', await invoiceToPdf(inv, { face: { sellerDetails: true } }));
      const pages = Number(/Pages:\s+(\d+)/.exec(run('pdfinfo', [path]))![1]);
      assert.ok(pages > 1);
      const last = squeeze(run('pdftotext', ['-enc', 'UTF-8', '-f', String(pages), '-l', String(pages), path, '-']));
      assert.ok(last.includes('销方开户银行：招商银行深圳科技园支行'));
    });
  });
});
