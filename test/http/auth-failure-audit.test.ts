// Every failed authentication leaves one audit entry (who, what, when, where from, outcome), on the api listener
// (API keys), the admin listener (admin token) and the partner listener (client certificates, refused in the TLS
// handshake or right after it), without ever recording a secret; a flood of them costs a few transactions.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer, type ContainerOptions, type ServerContainer } from '../../src/container.ts';
import { initDataDir } from '../../src/ops/setup.ts';
import { createClientCert, createDevPki, type PemPair } from '../../src/platform/crypto/dev-certs.ts';
import type { AuditEntry } from '../../src/modules/audit/storage/audit-contract.ts';
import { SELLER, sampleInvoice } from '../helpers/test-app.ts';
import { runCli } from '../helpers/spawn-server.ts';
import { interceptTransactions, type Interception } from '../helpers/uow-c.ts';

/** A real app on `dataDir` with `fileConfig` as its config file and only the named listeners on (127.0.0.1:0). */
async function appWith(dataDir: string, fileConfig: object, on: string[], opts: ContainerOptions = {}): Promise<ServerContainer> {
  const file = join(dataDir, 'fapiao.config.json');
  writeFileSync(file, JSON.stringify(fileConfig));
  const listen = (name: string) => (on.includes(name) ? '127.0.0.1:0' : 'off');
  const config = loadConfig({
    FAPIAO_DATA_DIR: dataDir, FAPIAO_CONFIG: file, FAPIAO_SIGNER_THREADS: '0',
    FAPIAO_LISTEN_API: listen('api'), FAPIAO_LISTEN_PARTNER: listen('partner'), FAPIAO_LISTEN_ADMIN: listen('admin'),
    FAPIAO_LISTEN_PUSH: listen('push'), FAPIAO_LISTEN_METRICS: listen('metrics'), FAPIAO_LISTEN_REDIRECT: listen('redirect'),
  }, dataDir);
  await initDataDir(config);
  const app = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }), ...opts });
  await app.start();
  return app;
}

/** Opens a TLS connection to `port` (with a client certificate if given) and waits (bounded) until it is closed. */
function tlsRoundTrip(port: number, ca: string, client?: PemPair): Promise<void> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: '127.0.0.1', port, ca, servername: 'localhost',
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    }, () => s.write('GET /v1/invoices HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    s.on('error', () => undefined);
    s.resume();
    const timer = setTimeout(() => s.destroy(), 5000);
    s.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('audit entries for failed authentications', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-authfail-'));
  let app: ServerContainer;
  let servers: Map<string, FastifyInstance>;
  let api: FastifyInstance;
  let adminToken: string;
  let apiKey: string;
  let tenantId: string;
  let partnerPort: number;
  let devCa: PemPair;
  /** Counts the transactions of the app's unit of work (the audit of failed authentications appends through it). */
  let transactions: Interception | undefined;
  let mark = 0;
  const auditHead = async () => (await app.uow.read.audit.head()).seq;

  before(async () => {
    // Loopback is exempt from auth-failure bans here, so the flood below is answered 401 throughout. A flush interval
    // far longer than the test: batches are cut by size (200) and by flush() alone, so the number of transactions
    // below does not depend on how fast this machine is.
    app = await appWith(dataDir, { abuse: { exemptCidrs: ['127.0.0.0/8', '::1'] } }, ['api', 'partner', 'admin'], {
      authFailureBatch: { flushMs: 600_000, maxBatch: 200 },
    });
    transactions = interceptTransactions(app.uow);
    servers = await app.buildListeners();
    api = servers.get('api')!;
    for (const s of servers.values()) await s.ready();
    await servers.get('partner')!.listen({ host: '127.0.0.1', port: 0 });
    partnerPort = (servers.get('partner')!.server.address() as AddressInfo).port;
    const created = await app.services.tenants.create(SELLER);
    apiKey = created.apiKey;
    tenantId = created.tenant.id;
    adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    devCa = { certPem: readFileSync(join(dataDir, 'tls/ca.pem'), 'utf8'), keyPem: readFileSync(join(dataDir, 'tls/ca.key'), 'utf8') };
    mark = await auditHead();
  });

  after(async () => {
    transactions?.restore();
    for (const s of servers?.values() ?? []) await s.close();
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** The auth.fail entries written since the last call (after a flush). */
  async function newFailures(): Promise<AuditEntry[]> {
    await app.services.authFailures.flush();
    const entries = await app.services.audit.search({ action: 'auth.fail', afterSeq: mark, limit: 1000 });
    mark = await auditHead();
    return entries;
  }

  function only(entries: AuditEntry[]): AuditEntry & { d: Record<string, unknown> } {
    assert.equal(entries.length, 1, JSON.stringify(entries));
    const e = entries[0]!;
    assert.equal(e.action, 'auth.fail');
    assert.equal(e.outcome, 'denied');
    assert.match(e.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'UTC');
    return { ...e, d: JSON.parse(e.details ?? '{}') as Record<string, unknown> };
  }

  const issue = (authorization?: string) => api.inject({
    method: 'POST', url: '/v1/invoices', payload: sampleInvoice(),
    headers: authorization === undefined ? {} : { authorization },
  });

  it('a missing key, a malformed one and a well-formed unknown one: one entry each, never the secret', async () => {
    assert.equal((await issue()).statusCode, 401);
    let e = only(await newFailures());
    assert.deepEqual([e.actor, e.target, e.ip, e.d.reason, e.d.listener], ['anonymous', 'POST /v1/invoices', '127.0.0.1', 'missing', 'api']);

    assert.equal((await issue('Bearer not-a-key')).statusCode, 401);
    e = only(await newFailures());
    assert.deepEqual([e.actor, e.d.reason], ['anonymous', 'malformed']);
    assert.doesNotMatch(JSON.stringify(e), /not-a-key/);

    const wrong = `${apiKey.slice(0, -4)}AAAA`;
    assert.equal((await issue(`Bearer ${wrong}`)).statusCode, 401);
    e = only(await newFailures());
    assert.equal(e.actor, apiKey.split('_').slice(0, 3).join('_'), 'the public prefix fp_live_<id>');
    assert.equal(e.d.reason, 'unknown');
    assert.doesNotMatch(JSON.stringify(e), new RegExp(wrong.split('_')[3]!));
  });

  it('a revoked key and an expired key: named as such, with their tenant', async () => {
    const revoked = await app.services.tenants.createApiKey(tenantId);
    await app.services.tenants.revokeApiKey(tenantId, revoked.record.id);
    mark = await auditHead();
    assert.equal((await issue(`Bearer ${revoked.secret}`)).statusCode, 401);
    let e = only(await newFailures());
    assert.deepEqual([e.actor, e.tenantId, e.d.reason], [revoked.record.prefix, tenantId, 'revoked']);
    assert.doesNotMatch(JSON.stringify(e), new RegExp(revoked.secret));

    const expired = await app.services.tenants.createApiKey(tenantId, { expiresAt: '2020-01-01T00:00:00Z' });
    mark = await auditHead();
    assert.equal((await issue(`Bearer ${expired.secret}`)).statusCode, 401);
    e = only(await newFailures());
    assert.deepEqual([e.actor, e.d.reason], [expired.record.prefix, 'expired']);
  });

  it('a wrong admin token', async () => {
    const admin = servers.get('admin')!;
    const res = await admin.inject({ method: 'GET', url: '/admin/v1/bans', headers: { authorization: 'Bearer wrong-admin-token' } });
    assert.equal(res.statusCode, 401);
    const e = only(await newFailures());
    assert.deepEqual([e.actor, e.target, e.d.reason, e.d.listener], ['anonymous', 'GET /admin/v1/bans', 'bad-admin-token', 'admin']);
    assert.doesNotMatch(JSON.stringify(e), /wrong-admin-token/);
    const ok = await admin.inject({ method: 'GET', url: '/admin/v1/bans', headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal(ok.statusCode, 200);
    assert.equal((await newFailures()).length, 0);
  });

  const handshake = (client?: PemPair) => tlsRoundTrip(partnerPort, devCa.certPem, client);

  it('refused client certificates: foreign CA, no tenant, revoked by none, missing', async () => {
    const foreign = await createClientCert((await createDevPki()).ca, tenantId);
    await handshake(foreign);
    let e = only(await newFailures());
    assert.deepEqual([e.actor, e.target, e.ip, e.d.reason, e.d.listener], ['anonymous', 'tls', '127.0.0.1', 'bad-certificate', 'partner']);
    assert.match(String(e.d.error), /VERIFY|CERT|SIGNATURE/);

    const stranger = await createClientCert(devCa, 'not-a-tenant');
    await handshake(stranger);
    e = only(await newFailures());
    assert.deepEqual([e.d.reason, e.d.error], ['bad-certificate', 'no-tenant']);
    assert.match(String(e.d.certificate), /^[0-9A-F]{64}$/);

    await handshake();
    e = only(await newFailures());
    assert.deepEqual([e.target, e.d.reason, e.d.listener], ['tls', 'missing', 'partner']);

    // The tenant's own certificate is served and audits nothing.
    await handshake(await createClientCert(devCa, tenantId));
    assert.equal((await newFailures()).length, 0);
  });

  it('500 bad keys: 500 entries in at most 3 transactions, and the chain verifies', async () => {
    await newFailures();
    const before = transactions!.count;
    for (let i = 0; i < 5; i++) {
      const answers = await Promise.all(Array.from({ length: 100 }, (_, j) => issue(`Bearer fp_live_0000000000${String(i).padStart(2, '0')}_${'x'.repeat(29)}${String(j).padStart(3, '0')}`)));
      assert.ok(answers.every((r) => r.statusCode === 401));
    }
    const entries = await newFailures();
    assert.equal(entries.length, 500);
    const spent = transactions!.count - before;
    assert.ok(spent <= 3, `${spent} transactions`);
    assert.ok(new Set(entries.map((e) => e.at)).size <= 3, 'one timestamp per batch');
    assert.deepEqual((await app.services.audit.verifyChain()).ok, true);
  });

  it('fapiao audit verify passes on the data directory', async () => {
    const r = await runCli(['audit', 'verify'], { FAPIAO_DATA_DIR: dataDir, FAPIAO_CONFIG: join(dataDir, 'fapiao.config.json') });
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
});

describe('refused client certificates count towards the auth-failure ban', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-authfail-ban-'));
  let app: ServerContainer;
  let servers: Map<string, FastifyInstance>;

  before(async () => {
    // No loopback exemption, and a low limit: the third refused handshake bans the address.
    app = await appWith(dataDir, { abuse: { authFailures: { limit: 2, windowSec: 300, banSec: 900 } } }, ['partner']);
    servers = await app.buildListeners();
    await servers.get('partner')!.listen({ host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    for (const s of servers?.values() ?? []) await s.close();
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('bans the address after more refused handshakes than the limit', async () => {
    const port = (servers.get('partner')!.server.address() as AddressInfo).port;
    const ca = readFileSync(join(dataDir, 'tls/ca.pem'), 'utf8');
    const foreign = await createClientCert((await createDevPki()).ca, 't_0000000000000000');
    for (let i = 0; i < 3; i++) await tlsRoundTrip(port, ca, foreign);
    let ban;
    for (let i = 0; i < 100 && !ban; i++) {
      ban = await app.services.bans.check('127.0.0.1');
      if (!ban) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(ban?.reason, 'auth-failures');
  });
});
