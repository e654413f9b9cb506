// Invariant 1 (docs/design.md §4): a 2xx on issuance means durable — the invoice survives kill -9 right after the 201.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { spawnServer } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

describe('durability', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-e2e-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('still returns invoices acknowledged just before kill -9', async () => {
    const first = await spawnServer(dataDir);
    assert.ok(first.demoKey, 'serve prints the demo API key on first start');
    assert.ok(first.output.some((l) => /demo client certificate for the partner listener: .*\/tls\/clients\/t_[0-9a-f]{16}\.pem/.test(l)));
    const headers = { authorization: `Bearer ${first.demoKey}`, 'content-type': 'application/json' };
    const issued = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await request(`${first.url}/v1/invoices`, { method: 'POST', headers, body: JSON.stringify(sampleInvoice()), dispatcher: first.agent });
        assert.equal(res.statusCode, 201);
        return ((await res.body.json()) as { number: string }).number;
      }),
    );
    first.proc.kill('SIGKILL');
    await first.stop('SIGKILL');

    const second = await spawnServer(dataDir);
    try {
      assert.equal(second.demoKey, undefined, 'the demo tenant is created once');
      for (const number of issued) {
        const res = await request(`${second.url}/v1/invoices/${number}`, { headers, dispatcher: second.agent });
        assert.equal(res.statusCode, 200);
        assert.equal(((await res.body.json()) as { number: string }).number, number);
      }
      const health = await request(`${second.url}/v1/keys`, { dispatcher: second.agent });
      assert.equal(health.headers['strict-transport-security'], 'max-age=63072000; includeSubDomains');
      await health.body.dump();
    } finally {
      assert.equal(await second.stop('SIGTERM'), 0, 'SIGTERM shuts down cleanly');
    }
  });
});
