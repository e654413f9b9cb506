// The partner listener: mutual TLS is the credential. A certificate of a known tenant is served; missing, unknown,
// foreign and revoked certificates are refused before any HTTP handling.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { runCli, spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';
import { createClientCert, createDevPki, type PemPair } from '../../src/platform/crypto/dev-certs.ts';

describe('partner listener (mutual TLS)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-mtls-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  let s: Spawned;
  let tenantId: string;
  let good: PemPair;
  let revoked: PemPair;
  let stranger: PemPair;
  let foreign: PemPair;
  let ca: Buffer;

  before(async () => {
    assert.equal((await runCli(['init'], env)).code, 0);
    const created = await runCli(['tenant', 'create', '--name', '伙伴系统有限公司', '--tax-id', '915300007194052520', '--region', '44', '--json'], env);
    tenantId = (JSON.parse(created.stdout) as { tenant: { id: string } }).tenant.id;
    const issued = await runCli(['client-cert', '--tenant', tenantId], env);
    assert.equal(issued.code, 0, issued.stderr);
    good = { certPem: readFileSync(join(dataDir, 'tls/clients', `${tenantId}.pem`), 'utf8'), keyPem: readFileSync(join(dataDir, 'tls/clients', `${tenantId}.key`), 'utf8') };
    const devCa = { certPem: readFileSync(join(dataDir, 'tls/ca.pem'), 'utf8'), keyPem: readFileSync(join(dataDir, 'tls/ca.key'), 'utf8') };
    ca = Buffer.from(devCa.certPem);
    revoked = await createClientCert(devCa, tenantId);
    stranger = await createClientCert(devCa, 'not-a-tenant');
    const other = await createDevPki();
    foreign = await createClientCert(other.ca, tenantId);
    const configFile = join(dataDir, 'fapiao.config.json');
    writeFileSync(configFile, JSON.stringify({
      listeners: { partner: { mtls: { revokedFingerprints: [new X509Certificate(revoked.certPem).fingerprint256] } } },
    }));
    s = await spawnServer(dataDir, { FAPIAO_CONFIG: configFile });
  });
  after(async () => {
    await s?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const partner = () => s.urls.get('partner')!;
  const agent = (client?: PemPair) =>
    new Agent({ connect: { ca, servername: 'localhost', ...(client ? { cert: client.certPem, key: client.keyPem } : {}) } });

  it('issues and reads invoices for the tenant the certificate names', async () => {
    const dispatcher = agent(good);
    const res = await request(`${partner()}/v1/invoices`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()), dispatcher,
    });
    assert.equal(res.statusCode, 201);
    const inv = (await res.body.json()) as { number: string; seller: { name: string } };
    assert.equal(inv.seller.name, '伙伴系统有限公司');
    assert.match(inv.number, /^\d{2}44/);
    const got = await request(`${partner()}/v1/invoices/${inv.number}`, { dispatcher });
    assert.equal(got.statusCode, 200);
    await got.body.dump();
    await dispatcher.close();
  });

  for (const [name, client] of [['no', undefined], ['a revoked', () => revoked], ['an unknown-subject', () => stranger], ['a foreign-CA', () => foreign]] as const) {
    it(`refuses ${name} certificate before any HTTP`, async () => {
      const dispatcher = agent(typeof client === 'function' ? client() : undefined);
      await assert.rejects(request(`${partner()}/v1/invoices`, { dispatcher, headers: { authorization: 'Bearer whatever' } }));
      await dispatcher.close();
    });
  }
});
