// `fapiao verify` accepts the files the server hands out and rejects one with a changed amount.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runCli, spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

describe('fapiao verify (offline)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-verify-'));
  const files = mkdtempSync(join(tmpdir(), 'fapiao-files-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  let server: Spawned;
  let number: string;

  before(async () => {
    server = await spawnServer(dataDir);
    const headers = { authorization: `Bearer ${server.demoKey}` };
    const res = await request(`${server.url}/v1/invoices`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()), dispatcher: server.agent,
    });
    number = ((await res.body.json()) as { number: string }).number;
    for (const format of ['json', 'xml', 'pdf']) {
      const r = await request(`${server.url}/v1/invoices/${number}?format=${format}`, { headers, dispatcher: server.agent });
      writeFileSync(join(files, `invoice.${format}`), Buffer.from(await r.body.arrayBuffer()));
    }
    const keys = await request(`${server.url}/v1/keys`, { dispatcher: server.agent });
    writeFileSync(join(files, 'keys.json'), await keys.body.text());
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  for (const format of ['json', 'xml', 'pdf']) {
    it(`accepts the ${format} file with keys fetched from the server`, async () => {
      const res = await runCli(['verify', join(files, `invoice.${format}`), '--server', server.url.replace('127.0.0.1', 'localhost'), '--ca', join(dataDir, 'tls', 'ca.pem')], env);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.match(res.stdout, /ok\s+hash/);
      assert.match(res.stdout, /ok\s+signature/);
      assert.match(res.stdout, /ok\s+qr/);
    });
  }

  it('rejects a file with one changed amount, naming what failed', async () => {
    const xml = readFileSync(join(files, 'invoice.xml'), 'utf8');
    const changed = xml.replace('<TotalTax-includedAmount>113.00<', '<TotalTax-includedAmount>118.00<');
    assert.notEqual(changed, xml);
    writeFileSync(join(files, 'changed.xml'), changed);
    const res = await runCli(['verify', join(files, 'changed.xml'), '--key', join(files, 'keys.json')], env);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /FAIL\s+hash/);
    assert.match(res.stdout, /FAIL\s+signature/);
  });

  it('checks an invoice in the local database by number', async () => {
    await server.stop();
    const res = await runCli(['verify', number], env);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /local database/);
  });

  it('fails clearly on a file that is not an invoice', async () => {
    writeFileSync(join(files, 'junk.txt'), 'hello');
    const res = await runCli(['verify', join(files, 'junk.txt')], env);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /not a JSON, XML or PDF invoice/);
  });
});
