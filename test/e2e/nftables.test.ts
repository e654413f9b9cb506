// `fapiao doctor --nftables` output checked by nft itself (`nft -c -f`: parse and validate against the kernel,
// apply nothing). nft needs CAP_NET_ADMIN even to check, because it reads the kernel's ruleset first; without it
// the check runs in a fresh user and network namespace (`unshare -rn`), and where neither is possible, or nft is
// not installed, the test says so and skips.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.ts';
import { nftablesRules } from '../../src/ops/doctor/doctor.ts';

const dir = mkdtempSync(join(tmpdir(), 'fapiao-nft-'));
const NOT_PERMITTED = /Operation not permitted|Permission denied|cannot open|unshare failed/i;

type Check = { ok: true } | { ok: false; stderr: string } | { skip: string };

function nftCheck(file: string): Check {
  const attempts: [string, string[]][] = [['nft', ['-c', '-f', file]], ['unshare', ['-rn', 'nft', '-c', '-f', file]]];
  let last = '';
  for (const [cmd, args] of attempts) {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
    if (r.error) {
      last = `${cmd}: ${r.error.message}`;
      continue;
    }
    if (r.status === 0) return { ok: true };
    if (!NOT_PERMITTED.test(r.stderr)) return { ok: false, stderr: r.stderr };
    last = r.stderr.trim();
  }
  return { skip: last };
}

const nftPresent = spawnSync('nft', ['--version'], { encoding: 'utf8' }).status === 0;

function layout(name: string, file: Record<string, unknown> | undefined): string {
  const env: Record<string, string> = { FAPIAO_DATA_DIR: join(dir, 'data') };
  if (file) {
    env.FAPIAO_CONFIG = join(dir, `${name}.json`);
    writeFileSync(env.FAPIAO_CONFIG, JSON.stringify(file));
  }
  const path = join(dir, `${name}.nft`);
  writeFileSync(path, nftablesRules(loadConfig(env, dir)));
  return path;
}

const CUSTOM = {
  listeners: {
    api: { host: '::', port: 443 },
    partner: { host: '10.0.0.1', allow: ['203.0.113.0/24', '2001:db8::/32'] },
    admin: { host: '10.0.0.1', port: 8443, allow: ['10.1.0.0/16', '10.1.2.0/24', '10.1.2.3', '::ffff:10.9.9.9'] },
    push: { enabled: false },
    metrics: { host: '::1', allow: ['::1', '127.0.0.1'] },
    redirect: { port: 80 },
    reports: { host: '10.0.0.2', port: 8443, groups: ['query'], allow: ['192.168.0.0/16', 'fd00::/8'] },
    picked: { port: 0, groups: ['query'] },
  },
};

describe('doctor --nftables rules pass nft -c', { skip: nftPresent ? false : 'nft is not installed (apt-get install nftables)' }, () => {
  for (const [name, file] of [['default', undefined], ['custom', CUSTOM]] as const) {
    it(`the ${name} layout`, (t) => {
      const r = nftCheck(layout(name, file));
      if ('skip' in r) {
        t.skip(`nft -c cannot run here (needs CAP_NET_ADMIN or user namespaces): ${r.skip}`);
        return;
      }
      assert.ok(r.ok, `nft -c rejected the ${name} rules:\n${'stderr' in r ? r.stderr : ''}`);
    });
  }

  it('is a real check: nft -c refuses a broken rule', (t) => {
    const path = join(dir, 'broken.nft');
    writeFileSync(path, nftablesRules(loadConfig({ FAPIAO_DATA_DIR: join(dir, 'data') }, dir)).replace('tcp dport 8443', 'tcp dport 99999'));
    const r = nftCheck(path);
    if ('skip' in r) {
      t.skip(`nft -c cannot run here: ${r.skip}`);
      return;
    }
    assert.equal(r.ok, false);
    assert.match('stderr' in r ? r.stderr : '', /out of range/i);
  });
});

after(() => rmSync(dir, { recursive: true, force: true }));
