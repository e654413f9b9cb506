// Request hardening on real listeners (TLS api, plain metrics) with short configured limits: a slowloris socket is
// closed once its headers timeout passes, oversized headers get 431, an oversized body 413 problem+json; none is a
// 500 and the listener keeps serving everyone else. Waits are bounded; nothing here measures speed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer } from '../../src/container.ts';
import { listen, type Running } from '../../src/main.ts';
import { initDataDir } from '../../src/ops/setup.ts';

const HEADERS_TIMEOUT_MS = 600;

describe('request limits on real listeners', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-limits-'));
  let running: Running;
  let api: URL;
  let metrics: URL;

  before(async () => {
    const file = join(dataDir, 'fapiao.config.json');
    writeFileSync(file, JSON.stringify({
      http: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 1500, maxHeaderSize: 8192, bodyLimit: 2048 },
    }));
    const config = loadConfig({
      FAPIAO_DATA_DIR: dataDir, FAPIAO_CONFIG: file, FAPIAO_SIGNER_THREADS: '0',
      FAPIAO_LISTEN_API: '127.0.0.1:0', FAPIAO_LISTEN_METRICS: '127.0.0.1:0', FAPIAO_LISTEN_PARTNER: 'off',
      FAPIAO_LISTEN_ADMIN: 'off', FAPIAO_LISTEN_PUSH: 'off', FAPIAO_LISTEN_REDIRECT: 'off',
    }, dataDir);
    await initDataDir(config);
    running = await listen(await buildContainer(config, 'server', { logger: pino({ level: 'silent' }) }));
    api = new URL(running.urls.get('api')!);
    metrics = new URL(running.urls.get('metrics')!);
  });
  after(async () => {
    await running?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Sends a request line and then one header byte every 100 ms, never finishing; resolves with what came back. */
  function slowloris(url: URL): Promise<{ closed: boolean; answer: string }> {
    return new Promise((resolve) => {
      const port = Number(url.port);
      const socket: net.Socket = url.protocol === 'https:'
        ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
        : net.connect(port, '127.0.0.1');
      let answer = '';
      socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
        socket.write('GET /v1/keys HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
      });
      const drip = setInterval(() => socket.writable && socket.write('a'), 100);
      // Generous: the headers timeout plus Node's checking interval, many times over.
      const giveUp = setTimeout(() => finish(false), 15_000);
      socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => finish(true));
      function finish(closed: boolean) {
        clearInterval(drip);
        clearTimeout(giveUp);
        socket.destroy();
        resolve({ closed, answer });
      }
    });
  }

  function get(url: URL, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; type: string; body: string }> {
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(new URL(path, url), {
        method: body === undefined ? 'GET' : 'POST', headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        rejectUnauthorized: false, timeout: 10_000,
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: text }));
      });
      req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', reject);
      req.end(body);
    });
  }

  for (const [name, url, path] of [['api (TLS)', () => api, '/v1/keys'], ['metrics (plain)', () => metrics, '/healthz']] as const) {
    it(`${name}: a slowloris socket is closed after the headers timeout while others are served`, async () => {
      const pending = slowloris(url());
      // Served meanwhile, on another connection.
      assert.equal((await get(url(), path)).status, 200);
      const r = await pending;
      assert.ok(r.closed, 'the server closed the socket');
      if (r.answer) assert.match(r.answer, /^HTTP\/1\.1 408 [\s\S]*"code":"REQUEST_TIMEOUT"/);
      assert.equal((await get(url(), path)).status, 200);
    });

    it(`${name}: oversized headers are answered 431`, async () => {
      const r = await get(url(), path, { 'x-big': 'a'.repeat(10_000) });
      assert.equal(r.status, 431);
      assert.match(r.type, /^application\/problem\+json/);
      assert.equal((JSON.parse(r.body) as { code: string }).code, 'HEADERS_TOO_LARGE');
      assert.equal((await get(url(), path)).status, 200);
    });
  }

  it('an oversized body is answered 413 problem+json', async () => {
    const r = await get(api, '/v1/verify', {}, JSON.stringify({ number: '1'.repeat(4000), issueDate: '2026-01-01', total: '1.00' }));
    assert.equal(r.status, 413);
    assert.match(r.type, /^application\/problem\+json/);
    assert.equal((JSON.parse(r.body) as { code: string }).code, 'PAYLOAD_TOO_LARGE');
    assert.equal((await get(api, '/v1/keys')).status, 200);
  });
});
