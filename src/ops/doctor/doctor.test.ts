import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../config/config.ts';
import { createDevCa, createServerCert } from '../../platform/crypto/dev-certs.ts';
import { initDataDir } from '../setup.ts';
import { checkConfig, cipherFindings, classifyHost, hasHigh, isWeakMasterKey, nftablesRules, publicListeners, type Finding } from './doctor.ts';

function high(findings: Finding[], id?: string): Finding[] {
  return findings.filter((f) => f.severity === 'high' && (id === undefined || f.id === id));
}

describe('fapiao doctor checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-doctor-'));
  const dataDir = join(dir, 'data');
  const env = { FAPIAO_DATA_DIR: dataDir };
  /** A config read from `file` (written to the temp dir) and `extra` environment, over the initialised data dir. */
  const configWith = (file?: unknown, extra: Record<string, string> = {}) => {
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    if (file) writeFileSync(join(cwd, 'fapiao.config.json'), JSON.stringify(file));
    return loadConfig({ ...env, ...extra }, cwd);
  };

  before(async () => {
    await initDataDir(loadConfig(env, dir));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nothing high in the default layout once init has made the files (mode 0600)', () => {
    const findings = checkConfig(configWith());
    assert.deepEqual(high(findings), []);
    // The master key beside the database and plain metrics on loopback are still worth a word.
    assert.ok(findings.some((f) => f.id === 'master-key-beside-db' && f.severity === 'low'));
    assert.ok(findings.some((f) => f.id === 'plaintext-metrics' && f.severity === 'low'));
    // Every listener is on loopback by default, so the development certificate is no concern.
    assert.ok(!findings.some((f) => f.id === 'dev-cert'));
  });

  it('says which listeners are public (reachable beyond loopback) and which are loopback only', () => {
    const config = configWith(
      { listeners: { partner: { host: '10.0.0.5', allow: ['10.0.0.0/8'] }, reports: { host: '203.0.113.7', port: 7443, groups: ['query'] } } },
      { FAPIAO_LISTEN_API: '0.0.0.0:8443', FAPIAO_LISTEN_REDIRECT: 'off' },
    );
    const findings = checkConfig(config);
    const reach = (id: string) => findings.filter((f) => f.id === id).map((f) => f.listener).sort();
    assert.deepEqual(reach('listener-public'), ['api', 'partner', 'reports']);
    assert.deepEqual(reach('listener-loopback'), ['admin', 'metrics', 'push']);
    assert.deepEqual(publicListeners(config), ['api', 'partner', 'reports']);
    const message = (l: string) => findings.find((f) => f.listener === l && f.id.startsWith('listener-'))!.message;
    assert.match(message('api'), /0\.0\.0\.0:8443 \(every interface\), from any address/);
    assert.match(message('partner'), /private address 10\.0\.0\.5:6443, from 10\.0\.0\.0\/8/);
    assert.match(message('push'), /FAPIAO_LISTEN_PUSH/, 'a loopback listener says how to open it');
    assert.doesNotMatch(message('admin'), /FAPIAO_LISTEN_ADMIN/, 'but not for admin');
    assert.ok(findings.filter((f) => f.id.startsWith('listener-')).every((f) => f.severity === 'info'));
    // The development certificate served beyond loopback is worth a word.
    assert.equal(findings.find((f) => f.id === 'dev-cert')?.listener, 'api,partner,reports');
    assert.deepEqual(publicListeners(configWith()), []);
  });

  it('admin on 0.0.0.0 is high; on a private address medium; with an empty allowlist high', () => {
    const exposed = checkConfig(configWith(undefined, { FAPIAO_LISTEN_ADMIN: '0.0.0.0:8080' }));
    assert.equal(high(exposed, 'admin-exposed')[0]?.listener, 'admin');
    const priv = checkConfig(configWith({ listeners: { admin: { host: '10.0.0.5', allow: ['10.0.0.0/8'] } } }));
    assert.deepEqual(high(priv), []);
    assert.ok(priv.some((f) => f.id === 'admin-exposed' && f.severity === 'medium'));
    const open = checkConfig(configWith({ listeners: { admin: { allow: [] } } }));
    assert.equal(high(open, 'admin-allowlist').length, 1);
  });

  it('admin served beside public groups, plaintext listeners and metrics off loopback are high', () => {
    const mixed = checkConfig(configWith({ listeners: { admin: { groups: ['admin', 'issue'] } } }));
    assert.equal(high(mixed, 'admin-mixed').length, 1);
    const plain = checkConfig(configWith({ listeners: { api: { tls: false } } }));
    assert.equal(high(plain, 'plaintext')[0]?.listener, 'api');
    const metrics = checkConfig(configWith({ listeners: { metrics: { host: '0.0.0.0', allow: ['10.0.0.0/8'] } } }));
    assert.equal(high(metrics, 'plaintext-metrics').length, 1);
    assert.equal(high(metrics, 'metrics-exposed').length, 1);
    // The redirect is the one plaintext listener allowed.
    assert.ok(!checkConfig(configWith()).some((f) => f.listener === 'redirect' && f.id.startsWith('plaintext')));
  });

  it('a private key readable by others is high', () => {
    const key = join(dataDir, 'tls', 'server.key');
    chmodSync(key, 0o644);
    try {
      const f = high(checkConfig(configWith()), 'key-permissions');
      assert.equal(f.length, 1);
      assert.match(f[0]!.message, /server\.key has mode 0644/);
    } finally {
      chmodSync(key, 0o600);
    }
  });

  it('a master key or admin token readable by its group is high', () => {
    chmodSync(join(dataDir, 'master.key'), 0o640);
    chmodSync(join(dataDir, 'admin-token'), 0o640);
    try {
      const f = high(checkConfig(configWith()), 'key-permissions');
      assert.equal(f.length, 2);
    } finally {
      chmodSync(join(dataDir, 'master.key'), 0o600);
      chmodSync(join(dataDir, 'admin-token'), 0o600);
    }
  });

  it('certificates: expiring within 30 days, expired, or not matching the key are high', async () => {
    const ca = await createDevCa('Example Issuing CA');
    const soon = await createServerCert(ca, ['fapiao.example.com'], { days: 10 });
    const other = await createServerCert(ca, ['fapiao.example.com']);
    const old = await createServerCert(ca, ['fapiao.example.com'], { notBefore: new Date(Date.now() - 100 * 86_400_000), days: 30 });
    const files: Record<string, string> = { 'soon.pem': soon.certPem, 'soon.key': soon.keyPem, 'other.key': other.keyPem, 'old.pem': old.certPem, 'old.key': old.keyPem };
    for (const [name, pem] of Object.entries(files)) writeFileSync(join(dir, name), pem, { mode: 0o600 });
    const tls = (cert: string, key: string) => configWith({ listeners: { api: { tls: { cert: join(dir, cert), key: join(dir, key) } } } });

    const expiring = high(checkConfig(tls('soon.pem', 'soon.key')), 'cert-expiring');
    assert.equal(expiring.length, 1);
    assert.equal(expiring[0]!.listener, 'api');
    assert.match(expiring[0]!.message, /in (9|10) days/);
    assert.equal(high(checkConfig(tls('old.pem', 'old.key')), 'cert-expired').length, 1);
    assert.equal(high(checkConfig(tls('soon.pem', 'other.key')), 'cert-key-mismatch').length, 1);
    // A configured key outside the data directory, readable by its group only (an ssl-cert group): medium.
    chmodSync(join(dir, 'soon.key'), 0o640);
    const grouped = checkConfig(tls('soon.pem', 'soon.key')).filter((f) => f.id === 'key-permissions');
    assert.deepEqual(grouped.map((f) => [f.severity, f.listener]), [['medium', 'api']]);
    chmodSync(join(dir, 'soon.key'), 0o600);
    // A certificate from another CA is not the development one: no dev-cert finding for the api listener.
    assert.ok(!checkConfig(tls('soon.pem', 'soon.key')).some((f) => f.id === 'dev-cert' && f.listener?.includes('api')));
  });

  it('a certificate that does not name publicBaseUrl is medium', () => {
    const f = checkConfig(configWith({ publicBaseUrl: 'https://fapiao.example.com' }));
    assert.ok(f.some((x) => x.id === 'cert-name' && x.severity === 'medium'));
  });

  it('master key: missing with a database, or not random, is high', () => {
    const zeros = Buffer.alloc(32).toString('base64');
    assert.equal(high(checkConfig(configWith(undefined, { FAPIAO_MASTER_KEY: zeros })), 'master-key-weak').length, 1);
    const typed = Buffer.from('correct horse battery staple!!!!').toString('base64');
    assert.equal(high(checkConfig(configWith(undefined, { FAPIAO_MASTER_KEY: typed })), 'master-key-weak').length, 1);
    assert.ok(!isWeakMasterKey(new Uint8Array(randomBytes(32))), 'a random key (false alarm odds below 1e-13)');
    const empty = mkdtempSync(join(dir, 'empty-'));
    writeFileSync(join(empty, 'fapiao.db'), '');
    assert.equal(high(checkConfig(loadConfig({ FAPIAO_DATA_DIR: empty }, dir)), 'master-key-missing').length, 1);
  });

  it('the cipher list of the server is AEAD + ECDHE only; a CBC suite would be high', () => {
    assert.deepEqual(high(cipherFindings()), []);
    assert.equal(high(cipherFindings('ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-SHA256')).length, 1);
    assert.equal(high(cipherFindings('AES128-GCM-SHA256')).length, 1, 'no forward secrecy');
  });

  it('classifies bind addresses', () => {
    assert.equal(classifyHost('0.0.0.0'), 'wildcard');
    assert.equal(classifyHost('::'), 'wildcard');
    assert.equal(classifyHost('127.0.0.1'), 'loopback');
    assert.equal(classifyHost('::1'), 'loopback');
    assert.equal(classifyHost('192.168.1.10'), 'private');
    assert.equal(classifyHost('fd00::5'), 'private');
    assert.equal(classifyHost('203.0.113.9'), 'public');
    assert.equal(classifyHost('fapiao.example.com'), 'public');
  });

  it('hasHigh', () => {
    assert.equal(hasHigh([{ id: 'x', severity: 'medium', message: '' }]), false);
    assert.equal(hasHigh([{ id: 'x', severity: 'high', message: '' }]), true);
  });

  it('nftables rules name every port and allowlist, and drop the rest of those ports', () => {
    const text = nftablesRules(
      configWith({
        listeners: {
          admin: { allow: ['127.0.0.1', '::1', '10.1.0.0/16'] },
          reports: { host: '10.0.0.5', port: 7443, groups: ['query'], allow: ['10.0.0.0/8', '192.168.0.0/16', 'fd00::/8'] },
          dual: { host: '::', port: 7444, groups: ['query'], allow: ['10.0.0.0/8', 'fd00::/8'] },
          spare: { host: '10.0.0.6', port: 7445, groups: ['query'] },
        },
      }),
    );
    assert.match(text, /^table inet fapiao \{$/m);
    assert.match(text, /ct state established,related accept/);
    assert.match(text, /iifname "lo" accept/);
    assert.match(text, /^\s+ip daddr 127\.0\.0\.1 tcp dport 8443 accept$/m, 'api: anyone, on loopback by default');
    // A listener bound to one address: rules for that destination, its other-family allow entries left out.
    assert.match(text, /ip daddr 127\.0\.0\.1 ip saddr \{ 127\.0\.0\.1, 10\.1\.0\.0\/16 \} tcp dport 8080 accept/);
    assert.match(text, /# bound to 127\.0\.0\.1: ::1 cannot reach it, left out/);
    assert.doesNotMatch(text, /ip6 saddr \{ ::1 \} tcp dport 8080/);
    assert.match(text, /ip daddr 10\.0\.0\.5 ip saddr \{ 10\.0\.0\.0\/8, 192\.168\.0\.0\/16 \} tcp dport 7443 accept/);
    assert.doesNotMatch(text, /ip6 saddr \{ fd00::\/8 \} tcp dport 7443/);
    // Bound to every address: no destination, both families.
    assert.match(text, /^\s+ip saddr \{ 10\.0\.0\.0\/8 \} tcp dport 7444 accept$/m);
    assert.match(text, /^\s+ip6 saddr \{ fd00::\/8 \} tcp dport 7444 accept$/m);
    // Open to everyone on one address does not open the port on the others.
    assert.match(text, /^\s+ip daddr 10\.0\.0\.6 tcp dport 7445 accept$/m);
    assert.match(text, /tcp dport \{ [\d, ]*7443[\d, ]* \} drop/);
    for (const port of [8000, 8080, 8443, 9090]) assert.match(text, new RegExp(`tcp dport \\{[^}]*\\b${port}\\b[^}]*\\} drop`));
  });
});
