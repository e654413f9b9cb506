// `fapiao serve` as a real process: the push listener comes up with the others (TLS, its own port), streams an
// invoice issued on the api listener, and SIGTERM ends the open stream instead of waiting for the client.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { openSse } from '../helpers/sse-client.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

describe('push listener of a running server', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-push-e2e-'));
  let server: Spawned;
  before(async () => {
    server = await spawnServer(dataDir);
  });
  after(async () => {
    await server?.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs listening with its https URL and streams a new invoice; SIGTERM ends the stream', async () => {
    const pushUrl = server.urls.get('push');
    assert.match(pushUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(pushUrl, server.url, 'a port of its own');
    const stream = await openSse(`${pushUrl}/v1/events`, {
      ca: readFileSync(join(dataDir, 'tls', 'ca.pem')), headers: { authorization: `Bearer ${server.demoKey}` },
    });
    assert.equal(stream.status, 200);
    const res = await request(`${server.url}/v1/invoices`, {
      method: 'POST', dispatcher: server.agent, body: JSON.stringify(sampleInvoice()),
      headers: { authorization: `Bearer ${server.demoKey}`, 'content-type': 'application/json' },
    });
    assert.equal(res.statusCode, 201);
    const { number } = (await res.body.json()) as { number: string };
    const [event] = await stream.waitFor(1);
    assert.equal(event!.event, 'invoice.issued');
    assert.equal(JSON.parse(event!.data).number, number);

    const code = await server.stop('SIGTERM');
    await stream.ended;
    assert.equal(code, 0, 'a clean shutdown, not held up by the open stream');
  });
});
