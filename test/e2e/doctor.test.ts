// `fapiao doctor` as an operator runs it: on a fresh data directory, after a key file was loosened, and against a
// running server (--live), plus the nftables rules.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, spawnServer, type Spawned } from '../helpers/spawn-server.ts';

describe('fapiao doctor', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-doctor-e2e-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('passes a data directory fresh from init (exit 0, no HIGH line)', async () => {
    const init = await runCli(['init'], env);
    assert.equal(init.code, 0, init.stderr);
    const r = await runCli(['doctor'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /^HIGH/m);
    assert.match(r.stdout, /findings: 0 high, .*ok: no high finding/);
    // The default layout is loopback only: the development certificate is no concern there.
    for (const name of ['api', 'partner', 'admin', 'push', 'metrics', 'redirect']) {
      assert.match(r.stdout, new RegExp(`^INFO\\s+${name}\\s+loopback only \\(127\\.0\\.0\\.1:\\d+\\).*\\[listener-loopback\\]$`, 'm'));
    }
    assert.match(r.stdout, /^public listeners \(reachable beyond loopback\): none/m);
    assert.doesNotMatch(r.stdout, /\[dev-cert\]/);
  });

  it('names the public listeners of a configuration that serves beyond loopback', async () => {
    const r = await runCli(['doctor'], { ...env, FAPIAO_LISTEN_API: '0.0.0.0:8443', FAPIAO_LISTEN_PUSH: '0.0.0.0:8899' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^INFO\s+api\s+public: reachable beyond loopback on 0\.0\.0\.0:8443 \(every interface\), from any address \[listener-public\]$/m);
    assert.match(r.stdout, /^public listeners \(reachable beyond loopback\): api, push$/m);
    assert.match(r.stdout, /^MEDIUM\s+api,push\s+uses the development certificate/m);
    const json = await runCli(['doctor', '--json'], { ...env, FAPIAO_LISTEN_API: '0.0.0.0:8443' });
    assert.deepEqual((JSON.parse(json.stdout) as { public: string[] }).public, ['api']);
  });

  it('fails (exit 1) naming a server key readable by others', async () => {
    const key = join(dataDir, 'tls', 'server.key');
    chmodSync(key, 0o644);
    try {
      const r = await runCli(['doctor'], env);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^HIGH\s+\S+\s+the private key .*server\.key has mode 0644.*\[key-permissions\]$/m);
      const json = await runCli(['doctor', '--json'], env);
      assert.equal(json.code, 1);
      const parsed = JSON.parse(json.stdout) as { ok: boolean; counts: Record<string, number>; findings: { id: string; severity: string }[] };
      assert.equal(parsed.ok, false);
      assert.ok(parsed.findings.some((f) => f.id === 'key-permissions' && f.severity === 'high'));
    } finally {
      chmodSync(key, 0o600);
    }
  });

  it('prints nftables rules for the layout', async () => {
    const r = await runCli(['doctor', '--nftables'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^table inet fapiao \{$/m);
    assert.match(r.stdout, /ip saddr \{ 127\.0\.0\.0\/8 \} tcp dport 8080 accept/);
    assert.match(r.stdout, /tcp dport \{ [\d, ]+ \} drop/);
  });

  it('rejects a malformed --url', async () => {
    const r = await runCli(['doctor', '--url', 'api'], env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /name=https:\/\/host:port/);
  });

  describe('--live against a running server', () => {
    const liveDir = mkdtempSync(join(tmpdir(), 'fapiao-doctor-live-'));
    const listen = {
      FAPIAO_LISTEN_API: '127.0.0.1:0', FAPIAO_LISTEN_PARTNER: '127.0.0.1:0', FAPIAO_LISTEN_ADMIN: '127.0.0.1:0',
      FAPIAO_LISTEN_METRICS: '127.0.0.1:0', FAPIAO_LISTEN_REDIRECT: '127.0.0.1:0', FAPIAO_LISTEN_PUSH: '127.0.0.1:0',
    };
    let server: Spawned;
    before(async () => {
      server = await spawnServer(liveDir, listen);
    });
    after(async () => {
      await server?.stop();
      rmSync(liveDir, { recursive: true, force: true });
    });

    it('confirms the TLS policy, HSTS and the redirect on every listener', async () => {
      const urls = [...server.urls].flatMap(([name, url]) => ['--url', `${name}=${url}`]);
      const r = await runCli(['doctor', '--live', ...urls], { FAPIAO_DATA_DIR: liveDir, ...listen });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout, /^HIGH/m);
      for (const name of ['api', 'admin']) {
        const lines = r.stdout.split('\n').filter((l) => new RegExp(`^INFO\\s+${name}\\s`).test(l));
        assert.ok(lines.some((l) => /refuses TLS 1\.0 and 1\.1|not tested/.test(l)), `${name}: old TLS`);
        assert.ok(lines.some((l) => /refuses CBC suites/.test(l)), `${name}: CBC`);
        assert.ok(lines.some((l) => /TLS 1\.2 negotiates ECDHE-ECDSA-AES128-GCM-SHA256/.test(l)), `${name}: TLS 1.2 AEAD`);
        assert.ok(lines.some((l) => /Strict-Transport-Security: max-age=63072000; includeSubDomains/.test(l)), `${name}: HSTS`);
      }
      assert.match(r.stdout, /^INFO\s+redirect\s+GET \/ → 301 https:\/\//m);
      assert.match(r.stdout, /^INFO\s+redirect\s+API paths refused over plain HTTP \(status 403\)/m);
      if (server.urls.has('partner')) assert.match(r.stdout, /^INFO\s+partner\s+refuses HTTPS without a client certificate/m);
    });
  });
});
