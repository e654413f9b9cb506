// deploy/nginx/nginx.conf.template run by Debian's real nginx in front of a real Fapiao server: `nginx -t` accepts
// it; TLS termination keeps the listeners' cipher policy and sends one HSTS header; the client address reaches
// rate limits and bans through X-Forwarded-For (Fapiao trusting only the proxy), and a client's own
// X-Forwarded-For does not move it; mutual TLS to the partner listener works through the stream passthrough.
// Clients take distinct loopback source addresses (127.0.0.2, 127.0.0.3, …: all of 127.0.0.0/8 is on `lo`), the
// way distinct hosts reach a proxy; nginx reaches Fapiao from 127.0.0.1, the one trusted proxy address.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { Agent, request } from 'undici';
import { runCli, spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';
import { createClientCert, type PemPair } from '../../src/platform/crypto/dev-certs.ts';
import { TLS_CIPHERS } from '../../src/platform/http/build-server.ts';
import { DEPLOY, freePort, missingTool, renderTemplate } from './deploy-helpers.ts';

function skipReason(): string | false {
  const missing = missingTool('nginx', ['-v'], 'apt-get install nginx');
  if (missing) return missing;
  // Debian builds the stream module (needed for the passthrough) as a loadable module of its own package.
  const v = spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr;
  if (/--with-stream=dynamic/.test(v) && !existsSync('/usr/lib/nginx/modules/ngx_stream_module.so')) {
    return 'nginx stream module not installed: apt-get install libnginx-mod-stream';
  }
  return false;
}

const TEMPLATE = readFileSync(join(DEPLOY, 'nginx/nginx.conf.template'), 'utf8');

describe('nginx in front of Fapiao', { skip: skipReason() }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-nginx-'));
  const dataDir = join(dir, 'data');
  const env = { FAPIAO_DATA_DIR: dataDir };
  let s: Spawned;
  let nginx: ChildProcess;
  const logFile = join(dir, 'nginx.out');
  let conf: string;
  let https: number;
  let partner: number;
  let tenantId: string;
  let partnerCert: PemPair;
  let stranger: PemPair;
  let ca: string;
  let adminToken: string;

  const url = (u: string) => new URL(u);
  const nginxArgs = () => ['-c', conf, '-e', join(dir, 'error.log'), '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`];
  /** A client with its own loopback source address. */
  const from = (address: string, cert?: PemPair) =>
    new Agent({ localAddress: address, connect: { ca, servername: 'localhost', ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) } });

  before(async () => {
    mkdirSync(dataDir);
    assert.equal((await runCli(['init'], env)).code, 0);
    const created = await runCli(['tenant', 'create', '--name', '伙伴系统有限公司', '--tax-id', '9153000077859986X2', '--region', '44', '--json'], env);
    tenantId = (JSON.parse(created.stdout) as { tenant: { id: string } }).tenant.id;
    assert.equal((await runCli(['client-cert', '--tenant', tenantId], env)).code, 0);
    partnerCert = { certPem: readFileSync(join(dataDir, 'tls/clients', `${tenantId}.pem`), 'utf8'), keyPem: readFileSync(join(dataDir, 'tls/clients', `${tenantId}.key`), 'utf8') };
    ca = readFileSync(join(dataDir, 'tls/ca.pem'), 'utf8');
    stranger = await createClientCert({ certPem: ca, keyPem: readFileSync(join(dataDir, 'tls/ca.key'), 'utf8') }, 'not-a-tenant');
    adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    // As docs/operations.md ("Deploying") says for a proxy: trust its address, and exempt it from automatic bans
    // (through the passthrough it is the partner listener's only client address).
    const configFile = join(dir, 'fapiao.config.json');
    writeFileSync(configFile, JSON.stringify({ http: { trustedProxies: ['127.0.0.1'] }, abuse: { exemptCidrs: ['127.0.0.1'] } }));
    s = await spawnServer(dataDir, { FAPIAO_CONFIG: configFile });

    const hostPort = (name: string) => url(s.urls.get(name)!).host;
    [https, partner] = [await freePort(), await freePort()];
    conf = join(dir, 'nginx.conf');
    writeFileSync(conf, renderTemplate(TEMPLATE, {
      NGINX_HTTP_LISTEN: `127.0.0.1:${await freePort()}`,
      NGINX_HTTPS_LISTEN: `127.0.0.1:${https}`,
      NGINX_PARTNER_LISTEN: `127.0.0.1:${partner}`,
      NGINX_SERVER_NAME: 'localhost',
      NGINX_TLS_CERT: join(dataDir, 'tls/server.pem'),
      NGINX_TLS_KEY: join(dataDir, 'tls/server.key'),
      FAPIAO_API_UPSTREAM: hostPort('api'),
      FAPIAO_PUSH_UPSTREAM: hostPort('push'),
      FAPIAO_REDIRECT_UPSTREAM: hostPort('redirect'),
      FAPIAO_PARTNER_UPSTREAM: hostPort('partner'),
      FAPIAO_UPSTREAM_CA: join(dataDir, 'tls/ca.pem'),
      FAPIAO_UPSTREAM_NAME: 'localhost',
    }));
    // nginx opens /dev/stdout for its access log, which works on a file or a pipe but not on the socket pair Node
    // gives a child for 'pipe': its output goes to a file.
    const out = openSync(logFile, 'a');
    const t = spawnSync('nginx', ['-t', ...nginxArgs()], { stdio: ['ignore', out, out] });
    assert.equal(t.status, 0, `nginx -t refused the configuration:\n${readFileSync(logFile, 'utf8')}`);
    nginx = spawn('nginx', nginxArgs(), { stdio: ['ignore', out, out] });
    closeSync(out);
    for (let i = 0; ; i++) {
      const up = await request(`https://localhost:${https}/v1/keys`, { dispatcher: from('127.0.0.9') }).then((r) => r.body.dump().then(() => true), () => false);
      if (up) break;
      if (i > 50 || nginx.exitCode !== null) throw new Error(`nginx did not start:\n${readFileSync(logFile, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx.once('exit', r));
      nginx.kill('SIGQUIT');
      await exited;
    }
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers the listeners\' cipher policy: the same suites, TLS 1.2 and 1.3 only', () => {
    const rendered = readFileSync(conf, 'utf8');
    const tls12 = /^\s*ssl_ciphers\s+([^;]+);/m.exec(rendered)![1]!.split(':');
    const tls13 = /^\s*ssl_conf_command\s+Ciphersuites\s+([^;]+);/m.exec(rendered)![1]!.split(':');
    assert.deepEqual([...tls13, ...tls12].sort(), TLS_CIPHERS.split(':').sort());
    assert.match(rendered, /^\s*ssl_protocols\s+TLSv1\.2 TLSv1\.3;/m);
  });

  const handshake = (opts: { maxVersion?: 'TLSv1.2'; ciphers?: string }) =>
    new Promise<string>((resolve, reject) => {
      const sock = connect({ host: '127.0.0.1', port: https, servername: 'localhost', ca, ...opts }, () => {
        const name = sock.getCipher().standardName;
        sock.end();
        resolve(name);
      });
      sock.once('error', reject);
    });

  it('negotiates AEAD suites only and refuses a CBC suite', async () => {
    assert.equal(await handshake({}), 'TLS_AES_128_GCM_SHA256');
    assert.equal(await handshake({ maxVersion: 'TLSv1.2' }), 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
    await assert.rejects(handshake({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' }));
  });

  it('answers through the proxy with one HSTS header', async () => {
    const res = await request(`https://localhost:${https}/v1/keys`, { dispatcher: from('127.0.0.2') });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['strict-transport-security'], 'max-age=63072000; includeSubDomains');
    const keys = (await res.body.json()) as { keys: unknown[] };
    assert.ok(keys.keys.length > 0);
  });

  it('counts the public budget by the client address, not the proxy\'s', async () => {
    const remaining = async (address: string) => {
      const res = await request(`https://localhost:${https}/v1/keys`, { dispatcher: from(address) });
      await res.body.dump();
      assert.equal(res.statusCode, 200);
      return Number(/;r=(\d+)/.exec(String(res.headers.ratelimit))![1]);
    };
    const first = await remaining('127.0.0.3');
    assert.equal(await remaining('127.0.0.3'), first - 1);
    assert.equal(await remaining('127.0.0.3'), first - 2);
    // Another address has its own, untouched budget (a budget of the proxy's address would be shared).
    assert.equal(await remaining('127.0.0.4'), first);
  });

  it('bans the real client address, and a forged X-Forwarded-For does not dodge the ban', async () => {
    const probe = await request(`https://localhost:${https}/wp-login.php`, { dispatcher: from('127.0.0.5') });
    assert.equal(probe.statusCode, 403);
    assert.equal(((await probe.body.json()) as { code: string }).code, 'EXPLOIT_SIGNATURE');

    const bans = await request(`${s.urls.get('admin')}/admin/v1/bans`, { dispatcher: s.agent, headers: { authorization: `Bearer ${adminToken}` } });
    const targets = ((await bans.body.json()) as { items: { target: string }[] }).items.map((b) => b.target);
    assert.ok(targets.includes('127.0.0.5'), `bans: ${targets.join(', ')}`);
    assert.ok(!targets.includes('127.0.0.1'), 'the proxy itself must not be banned');

    for (const forged of ['203.0.113.7', '127.0.0.6, 203.0.113.7']) {
      const again = await request(`https://localhost:${https}/v1/keys`, { dispatcher: from('127.0.0.5'), headers: { 'x-forwarded-for': forged, 'x-real-ip': '203.0.113.7' } });
      assert.equal(again.statusCode, 403);
      assert.equal(((await again.body.json()) as { code: string }).code, 'BANNED');
    }
    const other = await request(`https://localhost:${https}/v1/keys`, { dispatcher: from('127.0.0.6') });
    await other.body.dump();
    assert.equal(other.statusCode, 200);
  });

  it('passes mutual TLS through to the partner listener', async () => {
    const dispatcher = from('127.0.0.7', partnerCert);
    const res = await request(`https://localhost:${partner}/v1/invoices`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()), dispatcher,
    });
    assert.equal(res.statusCode, 201);
    const inv = (await res.body.json()) as { seller: { name: string } };
    assert.equal(inv.seller.name, '伙伴系统有限公司');
    await dispatcher.close();
    const none = from('127.0.0.7');
    await assert.rejects(request(`https://localhost:${partner}/v1/invoices`, { dispatcher: none }));
    await none.close();
  });

  it('does not let refused partner certificates ban the proxy, and so every partner', async () => {
    // More refusals than the failed-authentication limit (10 in 5 minutes, docs/operations.md "Abuse control").
    for (let i = 0; i < 12; i++) {
      const bad = from('127.0.0.8', stranger);
      await assert.rejects(request(`https://localhost:${partner}/v1/invoices`, { dispatcher: bad }));
      await bad.close();
    }
    const good = from('127.0.0.7', partnerCert);
    const res = await request(`https://localhost:${partner}/v1/invoices?limit=1`, { dispatcher: good });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    await good.close();
  });
});
