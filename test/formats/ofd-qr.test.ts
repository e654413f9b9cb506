// The QR of an OFD decodes from a render at 96 dpi. No third-party OFD reader runs here (docs/design.md: ofd.js needs
// a closed core), so the page's QR PathObject is rendered by Chromium: its AbbreviatedData (GB/T 33190 path commands
// M, L and C, in millimetres inside the object's Boundary) is transcribed one command for one into an SVG path drawn
// at its printed size, 96 CSS pixels to the inch, and zbarimg must read the invoice's signed QR text from the
// screenshot. What is checked is the geometry the OFD carries, drawn by a browser and decoded by zbar.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import type { Browser } from 'playwright-core';
import { invoiceToOfd } from '../../src/modules/documents/domain/to-ofd.ts';
import { blueSpecial, longNormal } from '../fixtures/sample-invoice.ts';
import { needTools, run } from './tools.ts';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
// CI installs chromium (.ci/run); there a missing browser is a failure, not a reason to skip.
const skip = !present && !process.env.CI ? `no browser at ${CHROMIUM} (apt-get install chromium to run this test)` : false;

/** The page's QR: the filled PathObject, its Boundary (mm) and its path data. */
function qrPath(content: string): { x: number; y: number; w: number; h: number; data: string } {
  const m = /<ofd:PathObject ID="\d+" Boundary="([\d. ]+)" Stroke="false" Fill="true">[\s\S]*?<ofd:AbbreviatedData>([^<]+)<\/ofd:AbbreviatedData>/.exec(content);
  assert.ok(m, 'a filled PathObject on the page');
  const [x, y, w, h] = m[1]!.split(' ').map(Number) as [number, number, number, number];
  return { x, y, w, h, data: m[2]! };
}

/** GB/T 33190 abbreviated path data (M x y, L x y, C: close) as SVG path data; any other command fails the test. */
function toSvgPath(data: string): string {
  const t = data.trim().split(/\s+/);
  const out: string[] = [];
  for (let i = 0; i < t.length;) {
    const op = t[i++]!;
    if (op === 'M' || op === 'L') {
      out.push(`${op}${t[i]} ${t[i + 1]}`);
      i += 2;
    } else if (op === 'C') out.push('Z');
    else assert.fail(`unexpected path command ${op}`);
  }
  return out.join('');
}

void describe('OFD QR from a render', { skip }, () => {
  let browser: Browser;
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-ofd-qr-'));
  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, inv] of [['a one-page invoice', blueSpecial()], ['each page of a long invoice', longNormal()]] as const) {
    void it(`decodes with zbarimg at 96 dpi to the signed QR text: ${name}`, async (t) => {
      if (!needTools(t, 'zbarimg')) return;
      const files = unzipSync(invoiceToOfd(inv));
      const pages = Object.keys(files).filter((f) => /^Doc_0\/Pages\/Page_\d+\/Content\.xml$/.test(f)).sort();
      assert.ok(pages.length >= 1);
      if (name.startsWith('each')) assert.ok(pages.length > 1, 'the long invoice has several pages');
      for (const file of pages) {
        const qr = qrPath(strFromU8(files[file]!));
        // A quiet zone of 4 mm of white around the symbol, as on the printed page.
        const q = 4;
        const html = `<!doctype html><html><body style="margin:0;background:#fff">
<svg xmlns="http://www.w3.org/2000/svg" width="${qr.w + 2 * q}mm" height="${qr.h + 2 * q}mm" viewBox="${-q} ${-q} ${qr.w + 2 * q} ${qr.h + 2 * q}" shape-rendering="crispEdges">
<rect x="${-q}" y="${-q}" width="${qr.w + 2 * q}" height="${qr.h + 2 * q}" fill="#fff"/><path d="${toSvgPath(qr.data)}" fill="#000"/></svg></body></html>`;
        const page = await browser.newPage({ deviceScaleFactor: 1 });
        await page.setContent(html);
        const png = join(dir, `${file.replaceAll('/', '_')}.png`);
        writeFileSync(png, await page.locator('svg').screenshot());
        await page.close();
        const decoded = run('zbarimg', ['-q', '--raw', '-Sdisable', '-Sqrcode.enable', png]).trim();
        assert.equal(decoded, inv.qr, `${file}: the QR text`);
      }
    });
  }
});
