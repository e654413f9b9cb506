// An outside scanner's view of the TLS listeners: only TLS 1.2/1.3, only AEAD suites with forward secrecy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';

const missing = spawnSync('sslscan', ['--version']).error !== undefined;
if (missing && process.env.CI) throw new Error('sslscan is missing: CI installs it (apt-get install sslscan)');
const skip = missing ? 'sslscan not installed (apt-get install sslscan): TLS scan skipped' : false;

describe('sslscan of the TLS listeners', { skip }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-sslscan-'));
  let s: Spawned;
  before(async () => {
    s = await spawnServer(dataDir);
  });
  after(async () => {
    await s?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  for (const listener of ['api', 'admin']) {
    it(`offers only TLS 1.2/1.3 AEAD + ECDHE suites on ${listener}`, () => {
      const target = new URL(s.urls.get(listener)!).host;
      const out = execFileSync('sslscan', ['--no-colour', '--no-heartbleed', '--no-renegotiation', '--no-compression', target], { encoding: 'utf8' });
      for (const v of ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1']) assert.match(out, new RegExp(`${v.replace('.', '\\.')}\\s+disabled`));
      assert.match(out, /TLSv1\.2\s+enabled/);
      assert.match(out, /TLSv1\.3\s+enabled/);
      const suites = [...out.matchAll(/^(?:Preferred|Accepted)\s+(TLSv1\.[23])\s+\d+ bits\s+(\S+)/gm)].map((m) => [m[1]!, m[2]!]);
      assert.ok(suites.length >= 4, out);
      for (const [version = '', suite = ''] of suites) {
        assert.match(suite, /GCM|CHACHA20-POLY1305|CHACHA20_POLY1305/, `${version} ${suite} is not AEAD`);
        if (version === 'TLSv1.2') assert.match(suite, /^ECDHE-/, `${suite} lacks forward secrecy`);
        assert.doesNotMatch(suite, /CBC|CCM|ARIA|SHA$|RSA-AES|^AES/, suite);
      }
    });
  }
});
