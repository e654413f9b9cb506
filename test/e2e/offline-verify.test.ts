// `fapiao verify` accepts the files the server hands out and rejects one with a changed amount.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { request } from 'undici';
import { runCli, spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

const FORMATS = ['json', 'xml', 'pdf', 'ofd', 'ubl'] as const;
const RED_FORMATS = ['xml', 'pdf'] as const;

/** Offset of the middle of the PDF stream that holds the invoice XML. */
function xmlStreamMiddle(pdf: Buffer): number {
  const text = pdf.toString('latin1');
  for (const m of text.matchAll(/stream\r?\n/g)) {
    const start = m.index + m[0].length;
    const end = text.indexOf('endstream', start);
    try {
      if (inflateSync(pdf.subarray(start, end)).toString('utf8').includes('<EInvoice')) return Math.floor((start + end) / 2);
    } catch { /* not deflated */ }
  }
  return -1;
}

describe('fapiao verify (offline)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-verify-'));
  const files = mkdtempSync(join(tmpdir(), 'fapiao-files-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  let server: Spawned;
  let number: string;
  let redNumber: string;

  before(async () => {
    server = await spawnServer(dataDir);
    const headers = { authorization: `Bearer ${server.demoKey}` };
    const res = await request(`${server.url}/v1/invoices`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()), dispatcher: server.agent,
    });
    number = ((await res.body.json()) as { number: string }).number;
    for (const format of FORMATS) {
      const r = await request(`${server.url}/v1/invoices/${number}?format=${format}`, { headers, dispatcher: server.agent });
      writeFileSync(join(files, `invoice.${format}`), Buffer.from(await r.body.arrayBuffer()));
    }
    // A red invoice reversing it all (reason 01, the buyer has not booked it: no confirmation needed): its UBL is a
    // CreditNote.
    const filed = await request(`${server.url}/v1/red-letter-requests`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ invoiceNumber: number, reason: '01' }), dispatcher: server.agent,
    });
    const form = (await filed.body.json()) as { redInvoiceNumber?: string };
    assert.equal(filed.statusCode, 201, JSON.stringify(form));
    redNumber = form.redInvoiceNumber!;
    for (const format of ['ubl', 'pdf', 'xml'] as const) {
      const r = await request(`${server.url}/v1/invoices/${redNumber}?format=${format}`, { headers, dispatcher: server.agent });
      assert.equal(r.statusCode, 200, `${redNumber}: ${JSON.stringify(form)}`);
      writeFileSync(join(files, `red.${format}`), Buffer.from(await r.body.arrayBuffer()));
    }
    const keys = await request(`${server.url}/v1/keys`, { dispatcher: server.agent });
    writeFileSync(join(files, 'keys.json'), await keys.body.text());
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  for (const format of FORMATS) {
    it(`accepts the ${format} file with keys fetched from the server`, async () => {
      const res = await runCli(['verify', join(files, `invoice.${format}`), '--server', server.url.replace('127.0.0.1', 'localhost'), '--ca', join(dataDir, 'tls', 'ca.pem')], env);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, /ok\s+hash/);
      assert.match(res.stdout, /ok\s+signature/);
      assert.match(res.stdout, /ok\s+qr/);
      if (format === 'ofd' || format === 'ubl') assert.match(res.stdout, new RegExp(`ok\\s+${format}\\s+total as signed`));
      if (format === 'pdf') for (const f of ['invoice number', 'issue date', 'total in figures', 'total in capitals', 'QR code']) assert.match(res.stdout, new RegExp(`ok\\s+pdf\\s+${f} shown`));
      if (format === 'ofd') {
        assert.match(res.stdout, /ok\s+ofd-signature\s+SM3 digests of the \d+ signed parts match/);
        assert.match(res.stdout, /ok\s+ofd-signature\s+SM2 signature of Doc_0\/Signs\/Sign_0\/Signature.xml verifies/);
      }
      assert.doesNotMatch(res.stdout, /FAIL/);
    });
  }

  it('rejects a file with one changed amount, naming what failed', async () => {
    const xml = readFileSync(join(files, 'invoice.xml'), 'utf8');
    const changed = xml.replace('<TotalTax-includedAmount>113.00<', '<TotalTax-includedAmount>118.00<');
    assert.notEqual(changed, xml);
    writeFileSync(join(files, 'changed.xml'), changed);
    const res = await runCli(['verify', join(files, 'changed.xml'), '--key', join(files, 'keys.json')], env);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /FAIL\s+hash/);
    assert.match(res.stdout, /FAIL\s+signature/);
  });

  // One changed byte in the signed invoice each format carries: the total where it is plain text (JSON, XML, the
  // stored attachment of the OFD), the middle of the base64 (UBL) or of the compressed XML stream (PDF). The layout
  // of a PDF is not signed as a whole: it is checked through what its pages show (number, date, totals, QR; below and
  // test/formats/pdf-face.test.ts); the OFD's is signed (below).
  for (const format of FORMATS) {
    it(`rejects the ${format} file with one changed byte`, async () => {
      const bytes = readFileSync(join(files, `invoice.${format}`));
      const changed = Buffer.from(bytes);
      const text = bytes.toString('latin1');
      let at: number;
      if (format === 'json' || format === 'xml') at = text.indexOf('113.00');
      else if (format === 'ofd') at = text.indexOf('>113.00<', text.indexOf('<EInvoice')) + 1;
      else if (format === 'ubl') at = Math.floor((text.indexOf('SignedInvoice') + text.lastIndexOf('SignedInvoice')) / 2);
      else at = xmlStreamMiddle(bytes);
      assert.ok(at > 0);
      changed[at] = changed[at] === 0x31 ? 0x32 : 0x31;
      writeFileSync(join(files, `changed-byte.${format}`), changed);
      const res = await runCli(['verify', join(files, `changed-byte.${format}`), '--key', join(files, 'keys.json')], env);
      assert.notEqual(res.code, 0, `${format}: ${res.stdout}`);
    });
  }

  it('rejects an OFD with one changed byte in its page (the package signature), and with its signature removed', async () => {
    const entries = unzipSync(readFileSync(join(files, 'invoice.ofd')));
    const page = 'Doc_0/Pages/Page_0/Content.xml';
    const text = strFromU8(entries[page]!);
    const changed = zipSync({ ...entries, [page]: strToU8(text.replace('113.00<', '118.00<')) });
    assert.notEqual(text.indexOf('113.00<'), -1);
    writeFileSync(join(files, 'page.ofd'), changed);
    const res = await runCli(['verify', join(files, 'page.ofd'), '--key', join(files, 'keys.json')], env);
    assert.equal(res.code, 1, res.stdout);
    assert.match(res.stdout, /ok\s+signature/);
    assert.match(res.stdout, /FAIL\s+ofd-signature\s+parts differ from the signed package: Doc_0\/Pages\/Page_0\/Content.xml changed/);
    const stripped = Object.fromEntries(Object.entries(entries).filter(([k]) => !k.startsWith('Doc_0/Signs/')));
    stripped['OFD.xml'] = strToU8(strFromU8(entries['OFD.xml']!).replace(/<ofd:Signatures>[^<]*<\/ofd:Signatures>\s*/, ''));
    writeFileSync(join(files, 'unsigned.ofd'), zipSync(stripped));
    const res2 = await runCli(['verify', join(files, 'unsigned.ofd'), '--key', join(files, 'keys.json')], env);
    assert.equal(res2.code, 1, res2.stdout);
    assert.match(res2.stdout, /FAIL\s+ofd-signature\s+the OFD carries no package signature/);
  });

  it('rejects an OFD and a UBL whose visible total differs from the signed invoice', async () => {
    const ubl = readFileSync(join(files, 'invoice.ubl'), 'utf8');
    const shown = ubl.replace(/(<cbc:TaxInclusiveAmount currencyID="CNY">)113\.00</, '$1118.00<');
    assert.notEqual(shown, ubl);
    writeFileSync(join(files, 'shown.ubl'), shown);
    const res = await runCli(['verify', join(files, 'shown.ubl'), '--key', join(files, 'keys.json')], env);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /ok\s+signature/);
    assert.match(res.stdout, /FAIL\s+ubl\s+total/);
  });

  it('accepts a red invoice as a UBL CreditNote and as a PDF, and rejects the CreditNote with one changed byte', async () => {
    const ubl = readFileSync(join(files, 'red.ubl'));
    assert.match(ubl.toString('utf8', 0, 200), /<CreditNote\b/);
    for (const format of ['ubl', 'pdf']) {
      const res = await runCli(['verify', join(files, `red.${format}`), '--key', join(files, 'keys.json')], env);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, new RegExp(`invoice ${redNumber} · normal · red`));
      assert.match(res.stdout, /ok\s+signature/);
      if (format === 'ubl') {
        assert.match(res.stdout, /ok\s+ubl\s+document type as signed/);
        assert.match(res.stdout, /ok\s+ubl\s+total as signed/);
      } else {
        assert.match(res.stdout, new RegExp(`ok\\s+pdf\\s+original invoice number shown as signed`));
        assert.match(res.stdout, /ok\s+pdf\s+total in figures shown as signed/);
      }
      assert.doesNotMatch(res.stdout, /FAIL/);
    }
    // One changed byte in the signed invoice the CreditNote carries (the middle of its base64), and in the total it
    // shows (the CreditNote's amounts are positive: 113.00 → 118.00).
    const text = ubl.toString('latin1');
    const inSigned = Buffer.from(ubl);
    const at = Math.floor((text.indexOf('SignedInvoice') + text.lastIndexOf('SignedInvoice')) / 2);
    inSigned[at] = inSigned[at] === 0x41 ? 0x42 : 0x41;
    const shownAt = text.indexOf('>113.00<', text.indexOf('<cbc:TaxInclusiveAmount')) + 3;
    assert.ok(shownAt > 3 && shownAt < text.indexOf('</cac:LegalMonetaryTotal>'));
    const inShown = Buffer.from(ubl);
    inShown[shownAt] = 0x38;
    for (const [name, bytes, failed] of [['signed', inSigned, /FAIL\s+(hash|signature)|cannot read/], ['shown', inShown, /FAIL\s+ubl\s+total shown differs/]] as const) {
      writeFileSync(join(files, `red-${name}.ubl`), bytes);
      const res = await runCli(['verify', join(files, `red-${name}.ubl`), '--key', join(files, 'keys.json')], env);
      assert.equal(res.code, 1, `${name}: ${res.stdout}`);
      assert.match(res.stdout + res.stderr, failed);
    }
  });

  // The red invoice of a full reversal: its XML carries a RedEInvoice block (the blue number, the form number), its PDF
  // is marked 红字; both verify, and one changed byte of the signed invoice (its negative total in the XML, the
  // compressed XML stream of the PDF) fails.
  for (const format of RED_FORMATS) {
    it(`accepts the red invoice's ${format} file, and rejects it with one changed byte`, async () => {
      const ok = await runCli(['verify', join(files, `red.${format}`), '--key', join(files, 'keys.json')], env);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /ok\s+hash/);
      assert.match(ok.stdout, /ok\s+signature/);
      assert.match(ok.stdout, /ok\s+qr/);
      assert.doesNotMatch(ok.stdout, /FAIL/);
      const bytes = readFileSync(join(files, `red.${format}`));
      if (format === 'xml') assert.match(bytes.toString('utf8'), /<RedEInvoice[\s>]/);
      const changed = Buffer.from(bytes);
      const at = format === 'xml' ? bytes.toString('latin1').indexOf('-113.00') + 1 : xmlStreamMiddle(bytes);
      assert.ok(at > 0);
      changed[at] = changed[at] === 0x31 ? 0x32 : 0x31;
      writeFileSync(join(files, `red-changed.${format}`), changed);
      const bad = await runCli(['verify', join(files, `red-changed.${format}`), '--key', join(files, 'keys.json')], env);
      assert.notEqual(bad.code, 0, `${format}: ${bad.stdout}`);
      if (format === 'xml') assert.match(bad.stdout, /FAIL\s+(hash|signature)/);
    });
  }

  it('checks an invoice in the local database by number', async () => {
    await server.stop();
    const res = await runCli(['verify', number], env);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /local database/);
  });

  it('fails clearly on a file that is not an invoice', async () => {
    writeFileSync(join(files, 'junk.txt'), 'hello');
    const res = await runCli(['verify', join(files, 'junk.txt')], env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /not a JSON, XML, PDF, OFD or UBL invoice/);
  });
});
