// docs/red-letter.md run as a reader pastes it (bash, curl, jq) against a real `fapiao serve`: every ```sh block in
// order, with only the ports (the server picks free ones) and `npx fapiao` (this checkout's bin) substituted. The
// answers it prints must be the ones the page shows.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'fapiao.js');
const PAGE = join(ROOT, 'docs', 'red-letter.md');

/** Every ```sh block of the page, in order. */
function walkthrough(): string {
  return [...readFileSync(PAGE, 'utf8').matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
}

const missing = ['bash', 'curl', 'jq'].filter((tool) => spawnSync(tool, ['--version']).error !== undefined);
const skip = missing.length > 0 ? `needs ${missing.join(', ')} (Debian: apt-get install ${missing.join(' ')})` : false;
if (skip && process.env.CI === 'true') throw new Error(skip);

describe('the red-letter walkthrough (docs/red-letter.md)', { skip, timeout: 180_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-rl-walk-data-'));
  const work = mkdtempSync(join(tmpdir(), 'fapiao-rl-walk-'));
  let server: Spawned;
  before(async () => {
    server = await spawnServer(dataDir, {}, 90_000);
    // The page runs where `npm start` ran, whose `data/` is the data directory.
    symlinkSync(dataDir, join(work, 'data'));
  });
  after(async () => {
    await server?.stop();
    await server?.agent.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs as written and answers what the page shows', () => {
    const api = new URL(server.url).port;
    const admin = new URL(server.urls.get('admin')!).port;
    const script = walkthrough();
    assert.match(script, /API=https:\/\/localhost:8443; ADMIN=https:\/\/localhost:8080/);
    const run = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script
      .replaceAll('localhost:8443', `localhost:${api}`).replaceAll('localhost:8080', `localhost:${admin}`)
      .replaceAll('npx fapiao', `node ${JSON.stringify(BIN)}`)], {
      cwd: work, encoding: 'utf8', env: { FAPIAO_RUN: 'src', ...process.env, FAPIAO_DATA_DIR: dataDir },
    });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const out = run.stdout;
    // The answers the page shows, in its order (ids, numbers and times aside).
    const shown = [
      '{"number":"26311000000000000001","status":"normal","total":"166.00"}',
      '"state":"01","stateLabel":"无需确认","redInvoiceNumber":"26311000000000000002","lines":[{"line":1,"amount":"25.00","tax":"3.25","quantity":"1"}],"totals":{"amount":"25.00","tax":"3.25","total":"28.25"}}',
      '"totals":{"amount":"-25.00","tax":"-3.25","total":"-28.25","totalInCapitals":"（负数）贰拾捌圆贰角伍分"}}',
      'red-flushed-partial',
      '{"booked":true,"deductionSelected":false,"bookedAt":"',
      '{"state":"02","stateLabel":"销方录入待购方确认","expiresAt":"',
      '"totals":{"amount":"125.00","tax":"12.75","total":"137.75"}}',
      '{"status":422,"code":"RED_LETTER_OVER_REVERSAL","detail":"Line 2 is reversed in full already"}',
      '{"status":409,"code":"RED_LETTER_TRANSITION_REFUSED","state":"02"}',
      '"invoiceNumber":"26311000000000000001","state":"02"}]',
      '{"state":"04","redInvoiceNumber":"26311000000000000003"}',
      '[{"from":"10","to":"02","action":"file","party":"seller"},{"from":"02","to":"04","action":"confirm","party":"buyer"}]',
      '{"result":"authentic","status":"red-flushed"}',
      '{"result":"authentic","kind":"red","total":"-137.75","signature":true}',
      '<RedEInvoice>',
      'exit 1',
    ];
    let at = 0;
    for (const s of shown) {
      const i = out.indexOf(s, at);
      assert.ok(i >= 0, `the walkthrough printed ${s} (after offset ${at}):\n${out}`);
      at = i + s.length;
    }
    for (const check of ['hash', 'signature', 'qr']) assert.match(out, new RegExp(`^ok\\s+${check}\\s`, 'm'));
    assert.match(out, /^FAIL\s+hash\s/m);
    // The page shows these answers too (its long ones continued on `#` lines).
    const page = readFileSync(PAGE, 'utf8').replace(/\n#\s+/g, '');
    for (const s of shown) assert.ok(page.includes(s), `the page shows ${s}`);
  });
});
