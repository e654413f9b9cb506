// Every listener on a real socket (api, partner with its client certificate, admin, push, metrics, redirect): what
// the framework or Node's HTTP parser refuses — an undecodable or over-long path, a bad Content-Length, no such path,
// a method not served, a body, header block or wait too long — is answered RFC 9457 problem+json with a code of the
// registry whose status it carries, never Fastify's own JSON. The raw target reaches abuse control: an exploit
// signature bans, refused targets count against the address's budget, and an encoded alias is what it stands for.
// Each case speaks from a loopback address of its own (127.0.0.0/8 is all local), so bans never cross cases.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer } from '../../src/container.ts';
import { listen, type Running } from '../../src/main.ts';
import { initDataDir } from '../../src/ops/setup.ts';
import { createClientCert, type PemPair } from '../../src/platform/crypto/dev-certs.ts';
import { ERRORS, type ErrorCode } from '../../src/shared/errors.ts';
import { SELLER } from '../helpers/test-app.ts';
import { httpStatusOf } from '../../src/platform/http/error-status.ts';

const LISTENERS = ['api', 'partner', 'admin', 'push', 'metrics', 'redirect'] as const;
type Listener = (typeof LISTENERS)[number];
const HEADERS_TIMEOUT_MS = 600;

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

describe('framework-level refusals on every listener (real sockets)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-framework-errors-'));
  let running: Running;
  let apiKey: string;
  let client: PemPair;
  let ca: string;

  before(async () => {
    const file = join(dataDir, 'fapiao.config.json');
    writeFileSync(file, JSON.stringify({
      http: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 1500, maxHeaderSize: 8192, bodyLimit: 2048 },
    }));
    const env: Record<string, string> = { FAPIAO_DATA_DIR: dataDir, FAPIAO_CONFIG: file, FAPIAO_SIGNER_THREADS: '0' };
    for (const l of LISTENERS) env[`FAPIAO_LISTEN_${l.toUpperCase()}`] = '127.0.0.1:0';
    const config = loadConfig(env, dataDir);
    await initDataDir(config);
    const app = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }) });
    const created = await app.services.tenants.create(SELLER, undefined, ['invoices:issue', 'invoices:read']);
    apiKey = created.apiKey;
    ca = readFileSync(join(dataDir, 'tls', 'ca.pem'), 'utf8');
    client = await createClientCert({ certPem: ca, keyPem: readFileSync(join(dataDir, 'tls', 'ca.key'), 'utf8') }, created.tenant.id);
    running = await listen(app);
  });
  after(async () => {
    await running?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A socket to the listener from `from`, TLS where the listener has it (with the client certificate on partner). */
  function connect(listener: Listener, from: string): net.Socket {
    const url = new URL(running.urls.get(listener)!);
    const port = Number(url.port);
    const tcp = net.connect({ host: '127.0.0.1', port, localAddress: from });
    if (url.protocol === 'http:') return tcp;
    return tls.connect({
      socket: tcp, ca, servername: 'localhost',
      ...(listener === 'partner' ? { cert: client.certPem, key: client.keyPem } : {}),
    });
  }

  /**
   * Writes `head` (request line and headers, without the blank line ending them unless `complete`) and `body`, then
   * reads until the server closes; bounded by 10 s, a liveness limit rather than a speed one.
   */
  function exchange(listener: Listener, from: string, head: string, opts: { body?: string; complete?: boolean } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const socket = connect(listener, from);
      let received = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${listener}: no answer to ${head.split('\r\n')[0]!.slice(0, 60)}`));
      }, 10_000);
      socket.once(listener === 'metrics' || listener === 'redirect' ? 'connect' : 'secureConnect', () => {
        // latin1: one byte per character, so a target carries exactly the bytes written here.
        socket.write(`${head}${opts.complete === false ? '' : '\r\n'}`, 'latin1');
        if (opts.body !== undefined) socket.write(opts.body);
      });
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (received += d));
      // The server may close before reading all we sent; what it answered first still counts.
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return reject(new Error(`${listener}: no HTTP answer (${JSON.stringify(received.slice(0, 80))})`));
        const [statusLine, ...lines] = received.slice(0, end).split('\r\n');
        const headers: Record<string, string> = {};
        for (const l of lines) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]), headers, body: received.slice(end + 4) });
      });
    });
  }

  const request = (method: string, target: string, headers: Record<string, string> = {}) =>
    [`${method} ${target} HTTP/1.1`, 'Host: localhost', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), ''].join('\r\n');

  /** A problem of the registry, with the status the registry gives its code. */
  function assertProblem(a: Answer, what: string, status?: number, code?: ErrorCode): void {
    if (status !== undefined) assert.equal(a.status, status, `${what}: ${a.body}`);
    assert.match(a.headers['content-type'] ?? '', /^application\/problem\+json/, what);
    assert.ok(!a.body.includes('FST_'), `${what}: no framework code`);
    const body = JSON.parse(a.body) as { code: string; status: number; type: string };
    assert.ok(Object.hasOwn(ERRORS, body.code), `${what}: ${body.code} is in the registry`);
    assert.equal(httpStatusOf(body.code as ErrorCode), a.status, `${what}: the status of ${body.code}`);
    assert.equal(body.status, a.status, what);
    if (code !== undefined) assert.equal(body.code, code, what);
  }

  const auth = (listener: Listener): Record<string, string> =>
    listener === 'api' || listener === 'push' ? { authorization: `Bearer ${apiKey}` } : {};

  LISTENERS.forEach((listener, n) => {
    // 127.<10+n>.<case>.1: one address per listener and case.
    const from = (k: number) => `127.${10 + n}.${k}.1`;

    it(`${listener}: bad and over-long paths, bad Content-Length, 404, 405`, async () => {
      assertProblem(await exchange(listener, from(1), request('GET', '/v1/invoices/%ED%A0%80')), `${listener} undecodable`, 400, 'URL_INVALID');
      assertProblem(await exchange(listener, from(1), request('GET', '/v1/invoices/%c3%28')), `${listener} not UTF-8`, 400, 'URL_INVALID');
      // Refused by Node's parser (a control character, raw UTF-8) or by the target check (not a path, a fragment).
      for (const target of ['/v1/\u0001', '/v1/\u00e4\u00b8\u00ad', '*', '/v1/keys#x']) {
        const a = await exchange(listener, from(1), request('GET', target));
        assertProblem(a, `${listener} ${JSON.stringify(target)}`, 400, 'URL_INVALID');
      }
      assertProblem(await exchange(listener, from(2), request('GET', `/v1/invoices/${'1'.repeat(101)}`)), `${listener} long segment`, 414, 'URI_TOO_LONG');
      const badLength = await exchange(listener, from(3), request('POST', '/v1/verify', { 'content-type': 'application/json', 'content-length': 'abc' }), { body: '{}' });
      assertProblem(badLength, `${listener} bad Content-Length`, 400);
      if (listener !== 'redirect') {
        assertProblem(await exchange(listener, from(4), request('GET', '/no/such/path', auth(listener))), `${listener} 404`, 404, 'NOT_FOUND');
      }
      const trace = await exchange(listener, from(5), request('TRACE', '/'));
      assertProblem(trace, `${listener} TRACE`, 405, 'METHOD_NOT_ALLOWED');
    });

    it(`${listener}: body, headers and wait too long`, async () => {
      const body = JSON.stringify({ number: '1'.repeat(4000) });
      const path = listener === 'partner' ? '/v1/invoices' : '/v1/verify';
      const big = await exchange(listener, from(6), request('POST', path, { 'content-type': 'application/json', 'content-length': String(body.length) }), { body });
      if (listener === 'api' || listener === 'partner' || listener === 'redirect') assertProblem(big, `${listener} 413`, 413, 'PAYLOAD_TOO_LARGE');
      else assertProblem(big, `${listener} big body`);
      assertProblem(await exchange(listener, from(7), request('GET', '/', { 'x-big': 'a'.repeat(10_000) })), `${listener} 431`, 431, 'HEADERS_TOO_LARGE');
      // The request line over maxHeaderSize is refused by the parser as well.
      assertProblem(await exchange(listener, from(7), request('GET', `/${'a/'.repeat(5000)}`)), `${listener} long line`, 431, 'HEADERS_TOO_LARGE');
      const slow = await exchange(listener, from(8), 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: a', { complete: false });
      assertProblem(slow, `${listener} 408`, 408, 'REQUEST_TIMEOUT');
    });

    it(`${listener}: exploit signatures are read on the raw target`, async () => {
      assertProblem(await exchange(listener, from(9), request('GET', '/%c0%ae%c0%ae/etc/passwd')), `${listener} overlong traversal`, 403, 'EXPLOIT_SIGNATURE');
      const next = await exchange(listener, from(9), request('GET', listener === 'metrics' ? '/healthz' : '/v1/keys'));
      if (listener === 'admin' || listener === 'metrics') {
        // The operator's doors add nothing to the ban list (test/http/operator-listeners.test.ts).
        assert.notEqual(next.status, 403, `${listener}: ${next.body}`);
      } else {
        assertProblem(next, `${listener} banned after the probe`, 403, 'BANNED');
      }
    });
  });

  it('api: refused targets count against the address\'s public budget', async () => {
    for (let i = 0; i < 50; i++) assert.equal((await exchange('api', '127.30.0.1', request('GET', '/v1/%ED%A0%80'))).status, 400);
    assertProblem(await exchange('api', '127.30.0.1', request('GET', '/v1/%ED%A0%80')), 'the 51st', 429, 'RATE_LIMITED');
    assertProblem(await exchange('api', '127.30.0.1', request('GET', '/v1/keys')), 'banned after', 429, 'RATE_LIMITED');
  });

  it('an encoded alias is its canonical path: served on api, refused on redirect', async () => {
    const served = await exchange('api', '127.31.0.1', request('GET', '/%76%31/keys'));
    assert.equal(served.status, 200, served.body);
    assert.match(served.body, /"keys":\[/);
    assertProblem(await exchange('redirect', '127.31.0.1', request('GET', '/%76%31/keys')), 'redirect alias', 403, 'HTTPS_REQUIRED');
    const page = await exchange('redirect', '127.31.0.1', request('GET', '/%76erify'));
    assert.equal(page.status, 301);
    assert.match(page.headers.location ?? '', /^https:\/\/[^/]+\/verify$/);
  });
});
