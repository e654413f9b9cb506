// `fapiao keys rotate` against a real data directory and server: the new SM2 key signs what is issued after the
// restart, the retired one stays published so what it signed still verifies (查验 and `fapiao verify`), and an OFD of an
// invoice signed by the retired key is signed by the active key, which the package names (签章密钥) and verify uses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { request } from 'undici';
import { runCli, spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

interface Key { keyId: string; status: string; publicKey: string }

describe('fapiao keys rotate (the invoice signing key)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-sigrot-'));
  const files = mkdtempSync(join(tmpdir(), 'fapiao-sigrot-files-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  let server: Spawned | undefined;
  let apiKey: string;
  const call = async (path: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await request(`${server!.url}${path}`, {
      method: (init.method ?? 'GET') as 'GET', dispatcher: server!.agent,
      headers: { authorization: `Bearer ${apiKey}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    return { status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) };
  };
  const issue = async () => {
    const r = await call('/v1/invoices', { method: 'POST', body: sampleInvoice() });
    assert.equal(r.status, 201, r.body.toString());
    return JSON.parse(r.body.toString()) as { number: string; issueDate: string; totals: { total: string }; signature: { keyId: string } };
  };
  const keys = async () => (JSON.parse((await call('/v1/keys')).body.toString()) as { keys: Key[] }).keys;

  before(async () => {
    server = await spawnServer(dataDir);
    apiKey = server.demoKey!;
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  it('rotates; after the restart new invoices carry the new key and old ones still verify everywhere', async () => {
    const old = await issue();
    const [first] = await keys();
    assert.equal(old.signature.keyId, first!.keyId);
    await server!.stop();
    server = undefined;

    const rotated = await runCli(['keys', 'rotate'], env);
    assert.equal(rotated.code, 0, rotated.stderr);
    const m = /^signing key (sm2-[^ ]+) is active; retired (sm2-[^ ;]+); restart the servers to sign with it\n$/.exec(rotated.stdout);
    assert.ok(m, rotated.stdout);
    assert.equal(m[2], first!.keyId);
    const audit = await runCli(['audit', 'list', '--action', 'signingkey.rotate'], env);
    assert.match(audit.stdout, new RegExp(`signingkey\\.rotate {2}${m[1]}`));

    server = await spawnServer(dataDir);
    const published = await keys();
    assert.deepEqual(published.map((k) => [k.keyId, k.status]), [[first!.keyId, 'retired'], [m[1], 'active']]);
    const fresh = await issue();
    assert.equal(fresh.signature.keyId, m[1]);

    // 查验 of the invoice the retired key signed.
    const v = await request(`${server.url}/v1/verify`, {
      method: 'POST', dispatcher: server.agent, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ number: old.number, issueDate: old.issueDate, total: old.totals.total }),
    });
    const answer = (await v.body.json()) as { result: string; signature: { keyId: string; valid: boolean } };
    assert.equal(answer.result, 'authentic');
    assert.deepEqual([answer.signature.keyId, answer.signature.valid], [first!.keyId, true]);

    // Its OFD: the package is signed by the active key and names it; the new invoice's OFD names none.
    const ofd = (await call(`/v1/invoices/${old.number}?format=ofd`)).body;
    const root = new TextDecoder().decode(unzipSync(ofd)['OFD.xml']);
    assert.ok(root.includes(`<ofd:CustomData Name="签章密钥">${m[1]}</ofd:CustomData>`), root);
    const freshOfd = (await call(`/v1/invoices/${fresh.number}?format=ofd`)).body;
    assert.ok(!new TextDecoder().decode(unzipSync(freshOfd)['OFD.xml']).includes('签章密钥'));
    writeFileSync(join(files, 'old.ofd'), ofd);
    writeFileSync(join(files, 'old.pdf'), (await call(`/v1/invoices/${old.number}?format=pdf`)).body);
    const serverArgs = ['--server', server.url.replace('127.0.0.1', 'localhost'), '--ca', join(dataDir, 'tls', 'ca.pem')];
    for (const f of ['old.ofd', 'old.pdf']) {
      const r = await runCli(['verify', join(files, f), ...serverArgs], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`ok\\s+signature\\s+SM2-SM3 under key ${first!.keyId}`));
      if (f === 'old.ofd') assert.match(r.stdout, new RegExp(`ok\\s+ofd-signature\\s+SM2 signature of Doc_0/Signs/Sign_0/Signature.xml verifies under key ${m[1]}`));
    }
    // With only the retired key given, the package's key is not there: verify says so and fails.
    writeFileSync(join(files, 'old-key.json'), JSON.stringify({ keys: published.filter((k) => k.status === 'retired') }));
    const partial = await runCli(['verify', join(files, 'old.ofd'), '--key', join(files, 'old-key.json')], env);
    assert.equal(partial.code, 1, partial.stdout);
    assert.match(partial.stdout, new RegExp(`FAIL\\s+ofd-signature\\s+the package is signed by key ${m[1]}, which is not among the published keys`));
  });
});
