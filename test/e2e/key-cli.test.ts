// `fapiao keys rotate-data|rotate-master|status` against a real data directory and a real server: rotate a data key
// and re-encrypt with progress, rotate the master key, then restart the server with only the new master key and read
// and search everything (signing key included).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, type Dispatcher } from 'undici';
import { runCli, spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

const PHONE = '13912345678';
const K1 = randomBytes(32).toString('base64');
const K2 = randomBytes(32).toString('base64');

interface Status {
  tenantId: string;
  keys: { version: number; alg: string; status: string; masterVersion: number }[];
  pending: number;
}

describe('fapiao keys', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-keys-'));
  const v1 = { FAPIAO_DATA_DIR: dataDir, FAPIAO_MASTER_KEY: K1, FAPIAO_FIELD_ALGORITHM: 'sm4-gcm' };
  const v2 = { FAPIAO_DATA_DIR: dataDir, FAPIAO_MASTER_KEY: K2, FAPIAO_MASTER_KEY_VERSION: '2' };
  let server: Spawned | undefined;
  let apiKey: string;
  let tenantId: string;
  const numbers: string[] = [];

  before(async () => {
    server = await spawnServer(dataDir, v1);
    apiKey = server.demoKey!;
    for (let i = 0; i < 3; i++) {
      const res: Dispatcher.ResponseData = await request(`${server.url}/v1/invoices`, {
        method: 'POST', dispatcher: server.agent,
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': `cli-${i}` },
        body: JSON.stringify(sampleInvoice({ buyer: { name: '李四', phone: PHONE } })),
      });
      assert.equal(res.statusCode, 201);
      numbers.push(((await res.body.json()) as { number: string }).number);
    }
    await server.stop();
    server = undefined;
    const status = await runCli(['keys', 'status', '--json'], v1);
    assert.equal(status.code, 0, status.stderr);
    tenantId = (JSON.parse(status.stdout) as Status[])[0]!.tenantId;
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  void it('rotates a data key and re-encrypts in the foreground with progress', async () => {
    const res = await runCli(['keys', 'rotate-data', '--tenant', tenantId, '--algorithm', 'aes-256-gcm', '--wait'], v1);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`^${tenantId}  now v2 \\(aes-256-gcm\\)\\n$`));
    assert.match(res.stderr, /re-encrypted \d+ rows/);
    assert.match(res.stderr, /re-encryption done: 6 rows moved, 0 did not open/);
    const status = await runCli(['keys', 'status', '--tenant', tenantId, '--json'], v1);
    const [s] = JSON.parse(status.stdout) as Status[];
    assert.equal(s!.pending, 0);
    assert.deepEqual(s!.keys.map((k) => [k.version, k.alg, k.status]), [[1, 'sm4-gcm', 'retiring'], [2, 'aes-256-gcm', 'active']]);
    const text = await runCli(['keys', 'status'], v1);
    assert.match(text.stdout, /v1\s+sm4-gcm\s+retiring\s+master v1 .* rows 0 invoices, 0 idempotency/);
    const all = await runCli(['keys', 'rotate-data', '--all'], v1);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /now v3 \(sm4-gcm\)/);
    assert.match(all.stderr, /rotated 1\/1 tenants/);
  });

  void it('refuses wrong usage and a missing master key without printing a key', async () => {
    const neither = await runCli(['keys', 'rotate-data'], v1);
    assert.equal(neither.code, 1);
    assert.match(neither.stderr, /exactly one of --tenant <id> and --all/);
    const unknown = await runCli(['keys', 'rotate-data', '--tenant', 't_0000000000000000'], v1);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /TENANT_NOT_FOUND/);
    // A new master key without the old one configured cannot re-wrap anything.
    const k3 = { ...v2, FAPIAO_MASTER_KEY: randomBytes(32).toString('base64'), FAPIAO_MASTER_KEY_VERSION: '3' };
    const missing = await runCli(['keys', 'rotate-master'], k3);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /MASTER_KEY_UNAVAILABLE/);
    assert.ok(!missing.stderr.includes(K1) && !missing.stderr.includes(k3.FAPIAO_MASTER_KEY));
  });

  void it('rotates the master key; the server restarts with only the new key and reads and searches everything', async () => {
    const res = await runCli(['keys', 'rotate-master'], { ...v2, FAPIAO_MASTER_KEY_PREVIOUS: `1:${K1}` });
    assert.equal(res.code, 0, res.stderr);
    // The invoice signing key and the ledger's log key.
    assert.match(res.stdout, /^master v2: re-wrapped 3 data keys, 1 index keys, 2 signing keys\n$/);
    const status = await runCli(['keys', 'status', '--json'], v2);
    assert.ok((JSON.parse(status.stdout) as Status[])[0]!.keys.every((k) => k.masterVersion === 2));
    server = await spawnServer(dataDir, v2);
    const headers = { authorization: `Bearer ${apiKey}` };
    for (const number of numbers) {
      const r: Dispatcher.ResponseData = await request(`${server.url}/v1/invoices/${number}`, { headers, dispatcher: server.agent });
      assert.equal(r.statusCode, 200);
      assert.equal(((await r.body.json()) as { buyer: { phone: string } }).buyer.phone, PHONE);
    }
    const found = await request(`${server.url}/v1/invoices?buyerPhone=${encodeURIComponent('139 1234 5678')}`, { headers, dispatcher: server.agent });
    assert.equal(((await found.body.json()) as { items: unknown[] }).items.length, 3);
    // A new invoice is signed with the re-sealed signing key.
    const issued = await request(`${server.url}/v1/invoices`, {
      method: 'POST', dispatcher: server.agent, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()),
    });
    assert.equal(issued.statusCode, 201);
    const audit = await runCli(['audit', 'list', '--action', 'masterkey.rotate'], v2);
    assert.match(audit.stdout, /masterkey\.rotate {2}master-v2 {2}cli:/);
  });
});
