// The international profile end to end, over a real `fapiao serve`: a tenant signing with ECDSA-P256 and one switched
// to Ed25519 beside the SM2 demo tenant on the same server. Each invoice is checked the ways its recipients would:
// OpenSSL and @noble/curves from the key GET /v1/keys publishes and the message rebuilt from the QR alone, POST
// /v1/verify, and `fapiao verify` on the downloaded JSON, XML, PDF, OFD and UBL; a changed byte fails. Then a server whose
// `signing.algorithm` is ECDSA-P256 signs its tenants' invoices with it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { p256 } from '@noble/curves/p256';
import { ed25519 } from '@noble/curves/ed25519';
import { runCli, spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';
import { parseQr } from '../../src/modules/invoicing/domain/qr-payload.ts';
import { rawToDer } from '../../src/platform/crypto/sm2-encoding.ts';

interface Key { keyId: string; alg: string; publicKey: string; spki: string; status: string }
interface IssuedInvoice { number: string; issueDate: string; totals: { total: string }; hash: string; qr: string; signature: { alg: string; keyId: string; value: string } }

const FORMATS = ['json', 'xml', 'pdf', 'ofd', 'ubl'] as const;
const pem = (spkiB64: string): string => `-----BEGIN PUBLIC KEY-----\n${spkiB64.replace(/.{1,64}/g, '$&\n')}-----END PUBLIC KEY-----\n`;

describe('international profile (ECDSA-P256, Ed25519) beside SM2 on one server', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-intl-'));
  const files = mkdtempSync(join(tmpdir(), 'fapiao-intl-files-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  let server: Spawned;
  let adminUrl: string;
  let adminToken: string;
  const invoices = new Map<string, IssuedInvoice>();
  let keys: Key[] = [];

  const admin = async (method: 'POST' | 'PATCH', path: string, body: unknown) => {
    const res = await request(`${adminUrl}${path}`, {
      method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body), dispatcher: server.agent,
    });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
  const issue = async (apiKey: string): Promise<IssuedInvoice> => {
    const res = await request(`${server.url}/v1/invoices`, {
      method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()), dispatcher: server.agent,
    });
    const body = (await res.body.json()) as IssuedInvoice;
    assert.equal(res.statusCode, 201, JSON.stringify(body));
    return body;
  };

  before(async () => {
    server = await spawnServer(dataDir);
    adminUrl = server.urls.get('admin')!;
    adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const p = await admin('POST', '/admin/v1/tenants', { name: 'Shanghai Export Ltd', taxId: '91110000600037341L', regionCode: '11', signingAlgorithm: 'ECDSA-P256' });
    assert.equal(p.status, 201, JSON.stringify(p.body));
    const e = await admin('POST', '/admin/v1/tenants', { name: 'Shenzhen Overseas Ltd', taxId: '9153000077859986X2', regionCode: '53' });
    assert.equal(e.status, 201, JSON.stringify(e.body));
    const eId = (e.body.tenant as { id: string }).id;
    const patched = await admin('PATCH', `/admin/v1/tenants/${eId}`, { signingAlgorithm: 'Ed25519' });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.signingAlgorithm, 'Ed25519');
    const keysOf = { SM2: server.demoKey!, 'ECDSA-P256': p.body.apiKey as string, Ed25519: e.body.apiKey as string };
    for (const [alg, apiKey] of Object.entries(keysOf)) {
      const inv = await issue(apiKey);
      invoices.set(alg, inv);
      for (const format of FORMATS) {
        const r = await request(`${server.url}/v1/invoices/${inv.number}?format=${format}`, { headers: { authorization: `Bearer ${apiKey}` }, dispatcher: server.agent });
        assert.equal(r.statusCode, 200);
        writeFileSync(join(files, `${alg}.${format}`), Buffer.from(await r.body.arrayBuffer()));
      }
    }
    const res = await request(`${server.url}/v1/keys`, { dispatcher: server.agent });
    const text = await res.body.text();
    writeFileSync(join(files, 'keys.json'), text);
    keys = (JSON.parse(text) as { keys: Key[] }).keys;
  });
  after(async () => {
    await server?.stop();
    await server?.agent.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  it('refuses a signing algorithm that is not one of the three (400 problem, the CLI names the choices)', async () => {
    const created = await admin('POST', '/admin/v1/tenants', { name: 'Bad Alg Ltd', taxId: '91310000775785552L', regionCode: '31', signingAlgorithm: 'RSA' });
    assert.equal(created.status, 400);
    assert.equal(created.body.code, 'VALIDATION_FAILED');
    const tenantId = (await admin('POST', '/admin/v1/tenants', { name: 'Good Alg Ltd', taxId: '91310000775785552L', regionCode: '31' })).body.tenant as { id: string };
    const patched = await admin('PATCH', `/admin/v1/tenants/${tenantId.id}`, { signingAlgorithm: 'ecdsa-p256' });
    assert.equal(patched.status, 400);
    assert.equal(patched.body.code, 'VALIDATION_FAILED');
    const cli = await runCli(['tenant', 'update', tenantId.id, '--signing-algorithm', 'P-256'], env);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /Allowed choices are SM2, ECDSA-P256, Ed25519, default/);
  });

  it('publishes one key per algorithm with its alg and SPKI; each invoice names the key and scheme of its tenant', () => {
    const expected = { SM2: ['SM2-SM3', /^sm2-[0-9a-f]{16}$/], 'ECDSA-P256': ['ECDSA-P256-SHA256', /^p256-[0-9a-f]{16}$/], Ed25519: ['Ed25519', /^ed25519-[0-9a-f]{16}$/] } as const;
    assert.deepEqual(keys.map((k) => k.alg).sort(), ['ECDSA-P256', 'Ed25519', 'SM2']);
    for (const [alg, [scheme, id]] of Object.entries(expected)) {
      const inv = invoices.get(alg)!;
      assert.equal(inv.signature.alg, scheme);
      assert.match(inv.signature.keyId, id);
      const key = keys.find((k) => k.keyId === inv.signature.keyId)!;
      assert.equal(key.alg, alg);
      assert.equal(key.status, 'active');
      const parsed = parseQr(inv.qr)!;
      assert.equal(parsed.alg, scheme);
      // SM2 QR texts are as before: ten fields, no algorithm; the others name theirs in an eleventh.
      const fields = new URL(inv.qr).searchParams.get('qr')!.split('*');
      assert.equal(fields.length, alg === 'SM2' ? 10 : 11);
      if (alg !== 'SM2') assert.equal(fields[10], alg === 'Ed25519' ? 'ED25519' : 'P256');
    }
  });

  for (const alg of ['ECDSA-P256', 'Ed25519'] as const) {
    it(`${alg}: OpenSSL and @noble/curves verify the invoice from the published key and the QR alone; one changed byte fails`, () => {
      const inv = invoices.get(alg)!;
      const key = keys.find((k) => k.keyId === inv.signature.keyId)!;
      const qr = parseQr(inv.qr)!;
      assert.equal(qr.hash, inv.hash);
      const message = Buffer.from(`${qr.base},${qr.hash}`, 'utf8');
      const stored = Buffer.from(inv.signature.value, 'base64');
      const raw = Buffer.from(qr.signature, 'base64url');
      const pub = join(files, `${alg}.pub.pem`);
      writeFileSync(pub, pem(key.spki));
      const opensslVerifies = (msg: Uint8Array, sig: Uint8Array): boolean => {
        writeFileSync(join(files, 'msg'), msg);
        writeFileSync(join(files, 'sig'), sig);
        const args = alg === 'ECDSA-P256'
          ? ['dgst', '-sha256', '-verify', pub, '-signature', join(files, 'sig'), join(files, 'msg')]
          : ['pkeyutl', '-verify', '-rawin', '-pubin', '-inkey', pub, '-in', join(files, 'msg'), '-sigfile', join(files, 'sig')];
        const r = spawnSync('openssl', args, { encoding: 'utf8' });
        return r.status === 0 && /Verified OK|Signature Verified Successfully/.test(r.stdout);
      };
      const nobleVerifies = (msg: Uint8Array, sig: Uint8Array): boolean => {
        try {
          return alg === 'ECDSA-P256'
            ? p256.verify(sig, msg, Buffer.from(key.publicKey, 'hex'), { prehash: true, format: 'der' })
            : ed25519.verify(sig, msg, Buffer.from(key.publicKey, 'hex'));
        } catch {
          return false;
        }
      };
      // The QR carries the raw form (r‖s, or Ed25519's R‖S); the invoice the stored one (DER, or the same 64 bytes).
      const fromQr = alg === 'ECDSA-P256' ? Buffer.from(rawToDer(raw)) : raw;
      assert.deepEqual(fromQr, stored);
      assert.ok(opensslVerifies(message, stored), 'openssl');
      assert.ok(nobleVerifies(message, stored), '@noble/curves');
      const changed = Buffer.from(message);
      changed[changed.length - 1]! ^= 0x01;
      assert.equal(opensslVerifies(changed, stored), false, 'openssl, changed message');
      assert.equal(nobleVerifies(changed, stored), false, '@noble/curves, changed message');
      const badSig = Buffer.from(stored);
      badSig[badSig.length - 3]! ^= 0x01;
      assert.equal(opensslVerifies(message, badSig), false, 'openssl, changed signature');
      assert.equal(nobleVerifies(message, badSig), false, '@noble/curves, changed signature');
    });
  }

  for (const alg of ['SM2', 'ECDSA-P256', 'Ed25519'] as const) {
    it(`${alg}: 查验 answers authentic with the invoice's scheme and key`, async () => {
      const inv = invoices.get(alg)!;
      const res = await request(`${server.url}/v1/verify`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, dispatcher: server.agent,
        body: JSON.stringify({ number: inv.number, issueDate: inv.issueDate, total: inv.totals.total }),
      });
      const body = (await res.body.json()) as { result: string; signature: { alg: string; keyId: string; valid: boolean } };
      assert.equal(res.statusCode, 200);
      assert.equal(body.result, 'authentic');
      assert.deepEqual(body.signature, { alg: inv.signature.alg, keyId: inv.signature.keyId, valid: true });
    });

    for (const format of FORMATS) {
      it(`${alg}: fapiao verify accepts the ${format} file (keys from the server)`, async () => {
        const res = await runCli(['verify', join(files, `${alg}.${format}`), '--server', server.url.replace('127.0.0.1', 'localhost'), '--ca', join(dataDir, 'tls', 'ca.pem')], env);
        assert.equal(res.code, 0, res.stdout + res.stderr);
        assert.match(res.stdout, new RegExp(`ok\\s+signature\\s+${invoices.get(alg)!.signature.alg} under key`));
        assert.match(res.stdout, /ok\s+hash/);
        assert.match(res.stdout, /ok\s+qr/);
        if (format === 'ubl') assert.match(res.stdout, new RegExp(`ok\\s+ubl\\s+signature algorithm ${invoices.get(alg)!.signature.alg} as signed`));
        // The OFD package signature is SM2 (GB/T 38540) by the SM2 key, whatever the invoice inside is signed with.
        if (format === 'ofd') assert.match(res.stdout, /ok\s+ofd-signature\s+SM2 signature of \S+ verifies under key sm2-/);
      });
    }
  }

  it('fapiao verify fails a changed international invoice: one byte of the signature, the amount, the algorithm named', async () => {
    const keyFile = join(files, 'keys.json');
    for (const alg of ['ECDSA-P256', 'Ed25519'] as const) {
      const inv = JSON.parse(readFileSync(join(files, `${alg}.json`), 'utf8')) as IssuedInvoice & { buyer: { name: string } };
      assert.equal((await runCli(['verify', join(files, `${alg}.json`), '--key', keyFile], env)).code, 0);
      const sig = Buffer.from(inv.signature.value, 'base64');
      sig[sig.length - 3]! ^= 0x01;
      const cases: [string, unknown][] = [
        ['signature', { ...inv, signature: { ...inv.signature, value: sig.toString('base64') } }],
        ['buyer', { ...inv, buyer: { ...inv.buyer, name: `${inv.buyer.name}X` } }],
        ['scheme', { ...inv, signature: { ...inv.signature, alg: 'SM2-SM3' } }],
      ];
      for (const [what, changed] of cases) {
        const path = join(files, `${alg}-${what}.json`);
        writeFileSync(path, JSON.stringify(changed));
        const res = await runCli(['verify', path, '--key', keyFile], env);
        assert.equal(res.code, 1, `${alg} ${what}: ${res.stdout}`);
        assert.match(res.stdout, what === 'buyer' ? /FAIL\s+hash/ : /FAIL\s+signature/);
      }
      // The UBL that names another algorithm than the signed invoice it carries.
      const ubl = readFileSync(join(files, `${alg}.ubl`), 'utf8');
      const relabelled = ubl.replace(` alg="${inv.signature.alg}"`, ' alg="SM2-SM3"');
      assert.notEqual(relabelled, ubl);
      writeFileSync(join(files, `${alg}-relabelled.ubl`), relabelled);
      const res = await runCli(['verify', join(files, `${alg}-relabelled.ubl`), '--key', keyFile], env);
      assert.equal(res.code, 1, res.stdout);
      assert.match(res.stdout, /FAIL\s+ubl\s+signature algorithm/);
    }
  });

  it('a PEM public key is enough for fapiao verify', async () => {
    const inv = invoices.get('Ed25519')!;
    const key = keys.find((k) => k.keyId === inv.signature.keyId)!;
    writeFileSync(join(files, 'ed.pem'), pem(key.spki));
    const res = await runCli(['verify', join(files, 'Ed25519.xml'), '--key', join(files, 'ed.pem')], env);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /ok\s+signature\s+Ed25519/);
  });

  it('fapiao keys rotate --alg rotates that algorithm alone; the retired key stays published', async () => {
    const before = keys.filter((k) => k.alg === 'ECDSA-P256' && k.status === 'active').map((k) => k.keyId);
    const r = await runCli(['keys', 'rotate', '--alg', 'ECDSA-P256', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { keyId: string; alg: string; retired: string[] };
    assert.equal(out.alg, 'ECDSA-P256');
    assert.deepEqual(out.retired, before);
    const res = await request(`${server.url}/v1/keys`, { dispatcher: server.agent });
    const now = ((await res.body.json()) as { keys: Key[] }).keys;
    const status = new Map(now.map((k) => [k.keyId, k.status]));
    assert.equal(status.get(out.keyId), 'active');
    for (const id of before) assert.equal(status.get(id), 'retired');
    for (const alg of ['SM2', 'Ed25519']) assert.equal(status.get(invoices.get(alg)!.signature.keyId), 'active', `${alg} untouched`);
  });
});

describe('a server whose signing.algorithm is ECDSA-P256', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-p256-'));
  let server: Spawned;
  before(async () => {
    const init = await runCli(['init'], { FAPIAO_DATA_DIR: dataDir, FAPIAO_SIGNING_ALGORITHM: 'ECDSA-P256' });
    assert.equal(init.code, 0, init.stderr);
    server = await spawnServer(dataDir, { FAPIAO_SIGNING_ALGORITHM: 'ECDSA-P256' });
  });
  after(async () => {
    await server?.stop();
    await server?.agent.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs the tenants that name no algorithm with it, and 查验 checks them', async () => {
    const res = await request(`${server.url}/v1/invoices`, {
      method: 'POST', headers: { authorization: `Bearer ${server.demoKey}`, 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()), dispatcher: server.agent,
    });
    const inv = (await res.body.json()) as IssuedInvoice;
    assert.equal(res.statusCode, 201);
    assert.equal(inv.signature.alg, 'ECDSA-P256-SHA256');
    const verified = await request(`${server.url}/v1/verify`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, dispatcher: server.agent,
      body: JSON.stringify({ number: inv.number, issueDate: inv.issueDate, total: inv.totals.total }),
    });
    assert.equal(((await verified.body.json()) as { result: string }).result, 'authentic');
    const keys = ((await (await request(`${server.url}/v1/keys`, { dispatcher: server.agent })).body.json()) as { keys: Key[] }).keys;
    // init made both: SM2 (OFD packages) and the configured algorithm's.
    assert.deepEqual(keys.map((k) => k.alg).sort(), ['ECDSA-P256', 'SM2']);
  });
});
