// The README's five-minute tour, run as a newcomer pastes it (bash, curl, jq) against a real `fapiao serve`: it must
// issue, fetch, search, verify (查验: number and date taken from the answer) and check the PDF offline. Only the port
// (the server picks a free one) and `npx fapiao` (this checkout's bin, never a registry look-up) are substituted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const BIN = join(ROOT, 'bin', 'fapiao.js');

/** The first ```sh block after the "A five-minute tour" heading of README.md. */
function tourScript(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.indexOf('## A five-minute tour');
  assert.ok(section >= 0, 'README has the tour');
  const start = readme.indexOf('```sh\n', section) + '```sh\n'.length;
  return readme.slice(start, readme.indexOf('```', start));
}

const missing = ['bash', 'curl', 'jq'].filter((tool) => spawnSync(tool, ['--version']).error !== undefined);

describe('the README tour', { skip: missing.length > 0 ? `needs ${missing.join(', ')} (Debian: apt-get install ${missing.join(' ')})` : false }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-tour-data-'));
  const work = mkdtempSync(join(tmpdir(), 'fapiao-tour-'));
  let server: Spawned;
  before(async () => {
    server = await spawnServer(dataDir);
    // The tour runs in the checkout, where `data/` is the data directory.
    symlinkSync(dataDir, join(work, 'data'));
  });
  after(async () => {
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs as written: issue, fetch, search, verify with the answered number and date, PDF checked offline', () => {
    const port = new URL(server.url).port;
    const script = tourScript();
    assert.match(script, /https:\/\/localhost:8443/);
    assert.match(script, /npx fapiao verify/);
    const run = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', script.replaceAll('localhost:8443', `localhost:${port}`).replaceAll('npx fapiao', `node ${JSON.stringify(BIN)}`)], {
      cwd: work, encoding: 'utf8', env: { FAPIAO_RUN: 'src', ...process.env, FAPIAO_DATA_DIR: dataDir },
    });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const lines = run.stdout.trim().split('\n');
    const issued = JSON.parse(readFileSync(join(work, 'issued.json'), 'utf8')) as { number: string; issueDate: string; totals: { total: string } };
    assert.match(issued.number, /^\d{20}$/);
    assert.equal(issued.totals.total, '113.00');
    const answers = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const [summary, fetched, search, verified, keys] = answers;
    assert.deepEqual([summary?.number, summary?.issueDate], [issued.number, issued.issueDate]);
    assert.equal(fetched?.number, issued.number);
    assert.ok((search?.items as { number: string }[]).some((i) => i.number === issued.number), 'the search finds it');
    assert.equal(verified?.result, 'authentic', JSON.stringify(verified));
    assert.ok(Array.isArray(keys?.keys));
    assert.equal(readFileSync(join(work, 'invoice.pdf')).subarray(0, 5).toString('latin1'), '%PDF-');
    for (const check of ['hash', 'signature', 'qr']) assert.match(run.stdout, new RegExp(`^ok\\s+${check}\\s`, 'm'));
    assert.doesNotMatch(run.stdout, /FAIL|"code":/);
  });
});
