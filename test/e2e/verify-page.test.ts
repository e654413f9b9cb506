// The 查验 page in a real browser (Debian Chromium via playwright-core) against a real server over TLS: the form, the
// language switch, the QR deep link and the neutral answer to a wrong input, all under the page's strict CSP.
// Screenshots are left in <tmpdir>/fapiao-verify-page/ for a person to look at.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
// CI installs chromium (.ci/run); there a missing browser is a failure, not a reason to skip.
const skip = !present && !process.env.CI ? `no browser at ${CHROMIUM} (apt-get install chromium to run this test)` : false;
const SHOTS = join(tmpdir(), 'fapiao-verify-page');

interface Issued {
  number: string;
  issueDate: string;
  qr: string;
  signature: { keyId: string };
}

describe('verify page in Chromium', { skip }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-e2e-verify-'));
  let server: Spawned;
  let browser: Browser;
  let context: BrowserContext;
  let inv: Issued;
  const problems: string[] = [];

  async function issue(body: Record<string, unknown>): Promise<Issued> {
    const res = await request(`${server.url}/v1/invoices`, {
      method: 'POST', dispatcher: server.agent, body: JSON.stringify(body),
      headers: { authorization: `Bearer ${server.demoKey}`, 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 201);
    return (await res.body.json()) as Issued;
  }

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await spawnServer(dataDir);
    assert.ok(server.demoKey);
    inv = await issue(sampleInvoice({ buyer: { name: '张三', taxId: '11010519491231002X', phone: '13812345678' } }));
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    // The development certificate is signed by the data directory's own CA, which this browser profile does not trust.
    context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'zh-CN', viewport: { width: 480, height: 900 } });
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    // A CSP violation or a script error shows up as a console error or a page error.
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`${url}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`${url}: ${e.message}`));
    const res = await page.goto(url);
    assert.equal(res?.status(), 200);
    return page;
  }

  const result = (page: Page, kind: string) => page.waitForSelector(`#result[data-result="${kind}"]`, { timeout: 10_000 });

  it('checks an invoice typed into the form and shows it as authentic', async () => {
    const page = await open(`${server.url}/verify`);
    assert.equal(await page.textContent('label[for=number]'), '发票号码');
    await page.fill('#number', inv.number);
    await page.fill('#date', inv.issueDate);
    await page.fill('#total', '113.00');
    await page.click('#go');
    const card = await result(page, 'authentic');
    const text = (await card.textContent()) ?? '';
    for (const expected of ['发票真实有效', inv.number, '普通发票', '正常', '¥100.00', '¥13.00', '¥113.00', '壹佰壹拾叁圆整', inv.signature.keyId, '91310000775785552L']) {
      assert.ok(text.includes(expected), `result shows ${expected}: ${text}`);
    }
    assert.ok(!text.includes('11010519491231002X') && !text.includes('张三'), 'a personal buyer is masked');
    await page.screenshot({ path: join(SHOTS, 'verify-page.png'), fullPage: true });

    await page.click('#lang');
    assert.equal(await page.textContent('label[for=number]'), 'Invoice number');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.match((await page.textContent('#result')) ?? '', /Authentic invoice[\s\S]*Ordinary VAT invoice/);
    assert.match(page.url(), /[?&]lang=en\b/);
    await page.screenshot({ path: join(SHOTS, 'verify-page-en.png'), fullPage: true });
    await page.close();

    // The choice is remembered on this origin without the query.
    const again = await open(`${server.url}/verify`);
    assert.equal(await again.textContent('label[for=number]'), 'Invoice number');
    await again.close();
  });

  it('shows that an integrated invoice is in the public log, at which index and under which checkpoint', async () => {
    const logged = await issue(sampleInvoice()) as Issued & { ledger: { index: number } };
    let size = 0;
    for (let i = 0; i < 100 && size <= logged.ledger.index; i++) {
      const cp = await request(`${server.url}/v1/ledger/checkpoint`, { dispatcher: server.agent });
      size = cp.statusCode === 200 ? ((await cp.body.json()) as { treeSize: number }).treeSize : (await cp.body.dump(), 0);
      if (size <= logged.ledger.index) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(size > logged.ledger.index, 'integrated');
    // The first test left English chosen on this origin.
    const page = await open(`${server.url}/verify?lang=zh`);
    await page.fill('#number', logged.number);
    await page.fill('#date', logged.issueDate);
    await page.fill('#total', '113.00');
    await page.click('#go');
    const card = await result(page, 'authentic');
    const text = (await card.textContent()) ?? '';
    assert.ok(text.includes('已记入公开账本'), text);
    assert.match(text, new RegExp(`索引 ${logged.ledger.index} · 检查点：树大小 (\\d+)`));
    assert.match(text, /根哈希 [A-Za-z0-9+/]{43}=/);
    await page.screenshot({ path: join(SHOTS, 'verify-page-ledger.png'), fullPage: true });
    await page.click('#lang');
    assert.match((await page.textContent('#result')) ?? '', new RegExp(`In the public log[\\s\\S]*index ${logged.ledger.index} · checkpoint: tree size`));
    // The link opens the signed checkpoint whose size and root the page showed.
    const shown = /tree size (\d+)[\s\S]*root ([A-Za-z0-9+/]{43}=)/.exec((await page.textContent('#result')) ?? '')!;
    assert.equal(await page.getAttribute('#checkpoint-link', 'href'), '/checkpoint');
    // Fetched from the page (connect-src 'self'), not navigated to: a plain-text tab would fetch a favicon, a 404.
    const note = await page.evaluate(async () => (await fetch(document.querySelector('#checkpoint-link')!.getAttribute('href')!)).text());
    const lines = note.split('\n');
    assert.ok(Number(lines[1]) >= Number(shown[1]), note);
    if (Number(lines[1]) === Number(shown[1])) assert.equal(lines[2], shown[2]);
    assert.match(note, /\u2014 \S+ \S+/);
    await page.close();
  });

  it('verifies at once when opened from the QR link', async () => {
    assert.match(inv.qr, /^https:\/\/localhost:\d+\/verify\?qr=/);
    const page = await open(inv.qr);
    const card = await result(page, 'authentic');
    assert.ok(((await card.textContent()) ?? '').includes('¥113.00'));
    assert.equal(await page.inputValue('#number'), inv.number);
    assert.equal(await page.inputValue('#date'), inv.issueDate);
    assert.equal(await page.inputValue('#total'), '113.00');
    await page.screenshot({ path: join(SHOTS, 'verify-page-qr.png'), fullPage: true });
    await page.close();
  });

  it('reads the QR of an invoice signed with the international profile and shows its scheme', async () => {
    const adminUrl = server.urls.get('admin')!;
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const created = await request(`${adminUrl}/admin/v1/tenants`, {
      method: 'POST', dispatcher: server.agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Shanghai Export Ltd', taxId: '91110000600037341L', regionCode: '11', signingAlgorithm: 'ECDSA-P256' }),
    });
    assert.equal(created.statusCode, 201);
    const { apiKey } = (await created.body.json()) as { apiKey: string };
    const res = await request(`${server.url}/v1/invoices`, {
      method: 'POST', dispatcher: server.agent, body: JSON.stringify(sampleInvoice()), headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    });
    const p256 = (await res.body.json()) as Issued & { signature: { alg: string } };
    assert.equal(p256.signature.alg, 'ECDSA-P256-SHA256');
    assert.match(p256.qr, /\*P256$/);
    const page = await open(`${p256.qr}&lang=zh`);
    const text = (await (await result(page, 'authentic')).textContent()) ?? '';
    for (const expected of ['签名验证通过', 'ECDSA-P256-SHA256', p256.signature.keyId, p256.number]) assert.ok(text.includes(expected), `result shows ${expected}: ${text}`);
    assert.equal(await page.inputValue('#number'), p256.number);
    await page.close();
  });

  it('answers a wrong total with the neutral not-found, then the per-invoice limit', async () => {
    const page = await open(`${server.url}/verify?lang=zh`);
    await page.fill('#number', inv.number);
    await page.fill('#date', inv.issueDate);
    await page.fill('#total', '113.01');
    await page.click('#go');
    const card = await result(page, 'not-found');
    assert.match((await card.textContent()) ?? '', /未查到匹配的发票/);
    await page.screenshot({ path: join(SHOTS, 'verify-page-not-found.png'), fullPage: true });
    // Three checks of this number so far (form, QR, wrong total); the 4th and 5th pass, the 6th is refused.
    for (const expected of ['not-found', 'not-found', 'limited']) {
      await page.fill('#total', expected === 'limited' ? '113.00' : '113.02');
      await page.click('#go');
      await result(page, expected);
    }
    assert.match((await page.textContent('#result')) ?? '', /查验过于频繁/);
    await page.screenshot({ path: join(SHOTS, 'verify-page-limited.png'), fullPage: true });
    await page.close();
  });

  it('raises a red alert for an invoice whose stored bytes were changed', async () => {
    const victim = await issue(sampleInvoice());
    // A second handle on the live database edits the buyer's name, as an attacker with disk access would.
    const db = new Database(join(dataDir, 'fapiao.db'));
    const row = db.prepare('SELECT document FROM invoices WHERE number = ?').get(victim.number) as { document: string };
    db.prepare('UPDATE invoices SET document = ? WHERE number = ?').run(row.document.replace('杭州买方', '杭州卖方'), victim.number);
    db.close();
    const page = await open(victim.qr);
    const card = await result(page, 'tampered');
    assert.equal(await card.getAttribute('role'), 'alert');
    assert.ok(!((await card.textContent()) ?? '').includes('杭州'), 'no face data of a tampered invoice is shown');
    await page.screenshot({ path: join(SHOTS, 'verify-page-tampered.png'), fullPage: true });
    await page.close();
  });

  it('rejects a damaged QR payload and malformed input without a request', async () => {
    const page = await open(`${server.url}/verify?lang=zh&qr=01,32,,${inv.number},999.00,20260101,,0000,aa,bb`);
    await result(page, 'badqr');
    assert.equal(await page.inputValue('#number'), '');
    let posted = 0;
    page.on('request', (r) => {
      if (r.method() === 'POST') posted++;
    });
    await page.fill('#number', '2631100000000000000');
    await page.fill('#date', inv.issueDate);
    await page.fill('#total', '113.00');
    await page.click('#go');
    assert.equal(await page.textContent('#number-err'), '发票号码为 20 位数字');
    assert.equal(await page.getAttribute('#number', 'aria-invalid'), 'true');
    assert.equal(posted, 0);
    await page.close();
  });

  it('ran without script errors or CSP violations', () => {
    // A 429 answer is logged by Chromium as a failed resource load; it is the expected answer in the limit test.
    const unexpected = problems.filter((p) => !/status of 429/.test(p));
    assert.deepEqual(unexpected, []);
  });
});
