// Route groups move between listeners by configuration: here issuing stays on `api` while queries get a port of
// their own, and a listener whose allowlist excludes loopback drops the connection before TLS.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { request } from 'undici';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { sampleInvoice } from '../helpers/test-app.ts';

describe('route groups on configured listeners', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-groups-'));
  const configFile = join(dataDir, 'fapiao.config.json');
  let s: Spawned;

  before(async () => {
    writeFileSync(configFile, JSON.stringify({
      listeners: {
        api: { groups: ['issue', 'public'] },
        reports: { host: '127.0.0.1', port: 0, groups: ['query'] },
        locked: { host: '127.0.0.1', port: 0, groups: ['health'], allow: ['10.0.0.0/8'] },
      },
    }));
    s = await spawnServer(dataDir, { FAPIAO_CONFIG: configFile });
  });
  after(async () => {
    await s?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs a listening line for every listener', () => {
    assert.deepEqual([...s.urls.keys()].sort(), ['admin', 'api', 'locked', 'metrics', 'partner', 'push', 'redirect', 'reports']);
    assert.match(s.urls.get('metrics')!, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(s.urls.get('redirect')!, /^http:/);
    assert.match(s.urls.get('reports')!, /^https:/);
  });

  it('issues on api and answers queries only on the reports port', async () => {
    const headers = { authorization: `Bearer ${s.demoKey}` };
    const issued = await request(`${s.url}/v1/invoices`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(sampleInvoice()), dispatcher: s.agent,
    });
    assert.equal(issued.statusCode, 201);
    const { number } = (await issued.body.json()) as { number: string };
    const onApi = await request(`${s.url}/v1/invoices/${number}`, { headers, dispatcher: s.agent });
    assert.equal(onApi.statusCode, 404);
    await onApi.body.dump();
    const onReports = await request(`${s.urls.get('reports')!}/v1/invoices/${number}`, { headers, dispatcher: s.agent });
    assert.equal(onReports.statusCode, 200);
    assert.equal(((await onReports.body.json()) as { number: string }).number, number);
  });

  it('drops connections from outside the allowlist before the TLS handshake', async () => {
    const port = Number(new URL(s.urls.get('locked')!).port);
    const err = await new Promise<Error>((resolve) => {
      const sock = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(new Error('handshake completed')));
      sock.on('error', resolve);
    });
    assert.match(err.message, /socket disconnected|ECONNRESET|EPIPE/);
  });
});
