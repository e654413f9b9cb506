// A request that reaches a listener while it drains (pipelined on a keep-alive connection that was busy when the
// shutdown began) is refused 503 as problem+json from the registry with `Connection: close`, like every other answer,
// not with Fastify's own JSON.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';

describe('draining listener', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('answers a request arriving during shutdown with 503 SERVICE_UNAVAILABLE problem+json', async () => {
    const redirect = t.servers.get('redirect')!;
    await redirect.listen({ host: '127.0.0.1', port: 0 });
    const socket = net.connect((redirect.server.address() as AddressInfo).port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await new Promise((resolve) => socket.once('connect', resolve));
    // The first request is in flight (its body not complete) when the shutdown begins, so the connection is busy and
    // stays open; the second comes pipelined behind it.
    const arrived = new Promise((resolve) => redirect.server.once('request', resolve));
    socket.write('POST /page HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{');
    await arrived;
    const closing = redirect.close();
    while (redirect.server.listening) await new Promise((r) => setImmediate(r));
    socket.write('}GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await closed;
    await closing;
    const answers = received.split(/(?=HTTP\/1\.1 )/);
    assert.equal(answers.length, 2, received);
    assert.match(answers[0]!, /^HTTP\/1\.1 403 /, 'the first request is served (HTTPS_REQUIRED for a POST)');
    const second = answers[1]!;
    assert.match(second, /^HTTP\/1\.1 503 /);
    assert.match(second, /\r\ncontent-type: application\/problem\+json/i);
    assert.match(second, /\r\nconnection: close/i);
    const body = JSON.parse(second.slice(second.indexOf('\r\n\r\n') + 4)) as { code: string; status: number };
    assert.equal(body.code, 'SERVICE_UNAVAILABLE');
    assert.equal(body.status, 503);
  });
});

// The shutdown delay (http.shutdownDelayMs), before the listeners close: readiness off, requests still served, each
// answer ending its keep-alive connection, so a load balancer moves the clients elsewhere with no request refused.
describe('a node leaving', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ FAPIAO_LISTEN_METRICS: '127.0.0.1:0' });
  });
  after(async () => {
    await t.close();
  });

  it('answers /readyz 503 and serves with Connection: close once leaving begins', async () => {
    const metrics = t.servers.get('metrics')!;
    const ready = await metrics.inject({ url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.notEqual(ready.headers.connection, 'close');
    t.app.services.leaving.begin();
    assert.equal((await metrics.inject({ url: '/readyz' })).statusCode, 503);
    const keys = await t.api.inject({ url: '/v1/keys' });
    assert.equal(keys.statusCode, 200, 'still served');
    assert.equal(keys.headers.connection, 'close');
  });
});
