// The SSRF guard and timeouts of one webhook POST against real sockets on loopback: refused unless allowed, at
// connection time for names (localhost resolves to loopback), before any byte is sent.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { CidrSet } from '../../../shared/cidr.ts';
import { refusedTarget } from '../domain/target-guard.ts';
import { sendWebhook, urlProblem, type SendOptions } from './webhook-sender.ts';

const opts = (allow: string[] = []): SendOptions => ({
  allowedTargets: new CidrSet(allow), allowHttp: true, connectTimeoutMs: 1000, responseTimeoutMs: 300, userAgent: 'test',
});

describe('webhook sender', () => {
  it('classifies loopback, private, link-local and metadata addresses', () => {
    const none = new CidrSet([]);
    for (const [a, why] of [
      ['127.0.0.1', 'loopback'], ['::1', 'loopback'], ['10.0.0.8', 'private'], ['172.20.1.1', 'private'], ['192.168.0.1', 'private'],
      ['fd12::1', 'private'], ['169.254.169.254', 'metadata'], ['100.100.100.200', 'metadata'], ['169.254.3.4', 'link-local'],
      ['fe80::1', 'link-local'], ['::ffff:127.0.0.1', 'loopback'], ['0.0.0.0', 'unspecified'],
    ] as const) assert.equal(refusedTarget(a, none), why, a);
    assert.equal(refusedTarget('93.184.216.34', none), undefined);
    assert.equal(refusedTarget('2606:4700::1111', none), undefined);
    assert.equal(refusedTarget('127.0.0.1', new CidrSet(['127.0.0.1'])), undefined);
  });

  it('refuses loopback targets unless allowed, by address and by name, sending nothing', async () => {
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      assert.match(urlProblem(`http://127.0.0.1:${port}/`, opts())!, /loopback/);
      assert.match((await sendWebhook({ url: `http://127.0.0.1:${port}/`, headers: {}, body: '{}' }, opts())).error!, /refused/);
      // A name is checked on what it resolves to, when connecting.
      const byName = await sendWebhook({ url: `http://localhost:${port}/`, headers: {}, body: '{}' }, opts());
      assert.equal(byName.statusCode, null);
      assert.match(byName.error!, /refused/);
      assert.equal(connections, 0);
      const allowed = await sendWebhook({ url: `http://127.0.0.1:${port}/`, headers: {}, body: '{}' }, opts(['127.0.0.0/8', '::1']));
      assert.equal(allowed.statusCode, 200);
      assert.equal(connections, 1);
      assert.match(urlProblem('http://example.com/', { ...opts(), allowHttp: false })!, /https/);
    } finally {
      server.close();
    }
  });

  it('gives up on an answer that does not come within the response timeout', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const server = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const r = await sendWebhook({ url: `http://127.0.0.1:${port}/`, headers: {}, body: '{}' }, opts(['127.0.0.1']));
      assert.equal(r.statusCode, null);
      assert.match(r.error!, /no complete answer/);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
