// What inject() cannot send: bytes on real sockets to real listeners (TLS api, admin and push; plain metrics and
// redirect). Request-line and framing attacks (RFC 9112 §2.2 bare CR/LF, §3 request line, §5.2 obs-fold, §6.1 and
// §6.3 Transfer-Encoding with Content-Length, duplicate Content-Length, bad chunked encoding, pipelining), oversized
// heads, slow partial requests that must be cut off in bounded time, and a sample of the generated fuzz requests
// written verbatim (no URL normalisation, unlike inject()). Every answer keeps the invariants of harness.ts; the
// listeners keep serving afterwards. FAPIAO_FUZZ_SOCKET_REQUESTS sets the sample size (default 1,000).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envInt, FUZZ_SEED, generateRequest, loadOperations, requestSeed, Rng, type FuzzRequest, type Listener } from './generators.ts';
import {
  ALL_INVARIANTS, checkAnswer, createFuzzApp, describeStats, FailureBook, HangGuard, INVARIANT_TITLES, logLeakReport, rawSend, runRequests, serialise, toAnswer, visible,
  type Answer, type FuzzApp, type RawExchange, type RawTarget, type RunStats,
} from './harness.ts';

const SOCKET_REQUESTS = envInt('FAPIAO_FUZZ_SOCKET_REQUESTS', 1000);
const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 2000;
/** How long a slow client may hold a connection: the timeouts, Node's checking interval, and much slack for CI. */
const SLOW_BOUND_MS = REQUEST_TIMEOUT_MS + 6000;

type Expect = 'problem' | 'answer' | 'close' | 'any';

interface Attack {
  name: string;
  listener: Listener;
  chunks: (string | Buffer)[];
  delayMs?: number;
  /**
   * problem: a 4xx problem+json answer; answer: any answer (each keeping the invariants); close: the connection is
   * dropped without an HTTP answer; any: answers keep the invariants if there are any.
   */
  expect: Expect;
  /** Answers expected (pipelining). */
  count?: number;
  heads?: boolean[];
  /** The connection must be over by then (slow clients); default: answered well within the exchange deadline. */
  boundMs?: number;
  /** Connect with TCP to a TLS port. */
  plainToTls?: boolean;
}

const H = 'Host: localhost\r\n';
const verifyBody = '{"number":"26311000000000000001","issueDate":"2026-11-24","total":"113.00"}';

function attacks(): Attack[] {
  const a: Attack[] = [
    // Request lines (RFC 9112 §3).
    { name: 'no Host header (HTTP/1.1)', listener: 'api', chunks: ['GET /v1/keys HTTP/1.1\r\n\r\n'], expect: 'problem' },
    { name: 'HTTP/1.0 without Host', listener: 'api', chunks: ['GET /v1/keys HTTP/1.0\r\n\r\n'], expect: 'answer' },
    { name: 'no HTTP version', listener: 'api', chunks: ['GET /v1/keys\r\n\r\n'], expect: 'any' },
    { name: 'extra token in the request line', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1 x\r\n${H}\r\n`], expect: 'problem' },
    { name: 'HTTP/9.9', listener: 'api', chunks: [`GET /v1/keys HTTP/9.9\r\n${H}\r\n`], expect: 'problem' },
    { name: 'HTTP/2.0 in an HTTP/1 request line', listener: 'api', chunks: [`GET /v1/keys HTTP/2.0\r\n${H}\r\n`], expect: 'any' },
    { name: 'lower-case method', listener: 'api', chunks: [`get /v1/keys HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'unknown method', listener: 'api', chunks: [`FROB /v1/keys HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'TRACE', listener: 'api', chunks: [`TRACE /v1/keys HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'CONNECT authority-form', listener: 'api', chunks: [`CONNECT localhost:443 HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'OPTIONS asterisk-form', listener: 'api', chunks: [`OPTIONS * HTTP/1.1\r\n${H}\r\n`], expect: 'answer' },
    { name: 'absolute-form target', listener: 'api', chunks: [`GET https://evil.example/v1/keys HTTP/1.1\r\n${H}\r\n`], expect: 'answer' },
    { name: 'space inside the target', listener: 'api', chunks: [`GET /v1/ke ys HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'raw UTF-8 in the target', listener: 'api', chunks: [Buffer.from(`GET /v1/invoices/票 HTTP/1.1\r\n${H}\r\n`, 'utf8')], expect: 'any' },
    { name: 'raw 0xFF in the target', listener: 'api', chunks: [Buffer.concat([Buffer.from('GET /v1/'), Buffer.from([0xff, 0xfe]), Buffer.from(` HTTP/1.1\r\n${H}\r\n`)])], expect: 'any' },
    { name: 'NUL in the target', listener: 'api', chunks: [`GET /v1/keys\u0000 HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'binary garbage', listener: 'api', chunks: [Buffer.from([0x00, 0x01, 0x02, 0xff, 0x0d, 0x0a, 0x0d, 0x0a])], expect: 'any' },
    { name: 'HTTP/2 connection preface', listener: 'api', chunks: ['PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'], expect: 'any' },
    { name: 'encoded surrogate target', listener: 'api', chunks: [`GET /v1/invoices/%ED%A0%80 HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'overlong UTF-8 dots', listener: 'api', chunks: [`GET /%c0%ae%c0%ae/%c0%ae%c0%ae/v1/keys HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'encoded v1 alias', listener: 'api', chunks: [`GET /%76%31/keys HTTP/1.1\r\n${H}\r\n`], expect: 'answer' },
    { name: 'backslash target', listener: 'api', chunks: [`GET \\v1\\keys HTTP/1.1\r\n${H}\r\n`], expect: 'any' },
    { name: 'fragment in the target', listener: 'api', chunks: [`GET /v1/keys#frag HTTP/1.1\r\n${H}\r\n`], expect: 'any' },
    { name: 'very long target (20 KB)', listener: 'api', chunks: [`GET /${'a'.repeat(20_000)} HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },

    // Framing (RFC 9112 §6).
    { name: 'duplicate Content-Length, same value', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: ${verifyBody.length}\r\nContent-Length: ${verifyBody.length}\r\n\r\n${verifyBody}`], expect: 'answer' },
    { name: 'duplicate Content-Length, different values', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: ${verifyBody.length}\r\n\r\n${verifyBody}`], expect: 'problem' },
    { name: 'Content-Length list', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 2, 3\r\n\r\n{}`], expect: 'problem' },
    { name: 'negative Content-Length', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: -1\r\n\r\n{}`], expect: 'problem' },
    { name: 'Content-Length with a plus sign', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: +2\r\n\r\n{}`], expect: 'problem' },
    { name: 'Content-Length beyond 2^64', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n{}`], expect: 'problem' },
    { name: 'Content-Length over the body limit', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{}`], expect: 'problem' },
    { name: 'Content-Length and Transfer-Encoding', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'Transfer-Encoding and Content-Length (reversed)', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2\r\n{}\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'valid chunked body', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${verifyBody.length.toString(16)}\r\n${verifyBody}\r\n0\r\n\r\n`], expect: 'answer' },
    { name: 'chunk size not hex', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'negative chunk size', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'chunk size overflowing 64 bits', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${'F'.repeat(20)}\r\n{}\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'chunk longer than its size', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'NUL in a chunk extension', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2;a=\u0000\r\n{}\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'chunked, then identity', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'Transfer-Encoding: xchunked', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'Transfer-Encoding twice', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`], expect: 'any' },
    { name: 'Transfer-Encoding folded (obs-fold)', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding:\r\n chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'header folding (obs-fold)', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`], expect: 'problem' },
    { name: 'bare LF line endings', listener: 'api', chunks: ['GET /v1/keys HTTP/1.1\nHost: localhost\n\n'], expect: 'any' },
    { name: 'bare CR line endings', listener: 'api', chunks: ['GET /v1/keys HTTP/1.1\rHost: localhost\r\r'], expect: 'any' },
    { name: 'space before the colon', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\nHost : localhost\r\n\r\n`], expect: 'problem' },
    { name: 'header line without colon', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}NoColon\r\n\r\n`], expect: 'problem' },
    { name: 'NUL in a header value', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}X-A: a\u0000b\r\n\r\n`], expect: 'problem' },
    { name: 'bare CR in a header value', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`], expect: 'problem' },
    { name: 'UTF-8 in a header value', listener: 'api', chunks: [Buffer.from(`GET /v1/keys HTTP/1.1\r\n${H}X-A: 发票\r\n\r\n`, 'utf8')], expect: 'answer' },
    { name: 'very long header (20 KB)', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}X-Long: ${'a'.repeat(20_000)}\r\n\r\n`], expect: 'problem' },
    // Node counts the bytes of names and values against maxHeaderSize, not the separators.
    { name: 'very many tiny headers (under the size limit)', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}${'X-N: v\r\n'.repeat(3000)}\r\n`], expect: 'answer' },
    { name: 'very many headers (over the size limit)', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}${'X-Header-Number: value-value-value\r\n'.repeat(1000)}\r\n`], expect: 'problem' },
    { name: 'very long header name', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}${'N'.repeat(17_000)}: v\r\n\r\n`], expect: 'problem' },
    { name: 'Expect: 100-continue', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${verifyBody.length}\r\n\r\n`, verifyBody], delayMs: 50, expect: 'answer' },
    // 417 EXPECTATION_FAILED, written by the server's 'checkExpectation' listener (client-error.ts).
    { name: 'Expect: something else', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}Expect: 200-ok\r\n\r\n`], expect: 'problem' },
    { name: 'Upgrade: websocket', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`], expect: 'any' },
    { name: 'Upgrade: h2c', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n`], expect: 'any' },

    // Pipelining and smuggling: what follows a body is a request of its own, answered as such.
    { name: 'two pipelined GETs', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}\r\nGET /v1/keys HTTP/1.1\r\n${H}Connection: close\r\n\r\n`], expect: 'answer', count: 2 },
    { name: 'request smuggled after a Content-Length body', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}GET /admin/v1/tenants HTTP/1.1\r\n${H}Connection: close\r\n\r\n`], expect: 'answer', count: 2 },
    { name: 'HEAD then GET pipelined', listener: 'api', chunks: [`HEAD /v1/keys HTTP/1.1\r\n${H}\r\nGET /v1/keys HTTP/1.1\r\n${H}Connection: close\r\n\r\n`], expect: 'answer', count: 2, heads: [true, false] },
    { name: '100 pipelined requests', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}\r\n`.repeat(99) + `GET /v1/keys HTTP/1.1\r\n${H}Connection: close\r\n\r\n`], expect: 'answer', count: 100 },

    // Other listeners: plain text ones parse the same bytes without TLS in front.
    { name: 'metrics: CL + TE', listener: 'metrics', chunks: [`POST /healthz HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'metrics: obs-fold', listener: 'metrics', chunks: [`GET /healthz HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`], expect: 'problem' },
    { name: 'metrics: encoded surrogate', listener: 'metrics', chunks: [`GET /%ED%A0%80 HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'metrics: bad request line', listener: 'metrics', chunks: ['GET\r\n\r\n'], expect: 'any' },
    { name: 'redirect: encoded surrogate', listener: 'redirect', chunks: [`GET /%ED%A0%80 HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'redirect: overlong dots', listener: 'redirect', chunks: [`GET /%c0%ae%c0%ae/ HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'redirect: encoded v1 alias', listener: 'redirect', chunks: [`GET /%76%31/invoices HTTP/1.1\r\n${H}\r\n`], expect: 'answer' },
    { name: 'redirect: CRLF in the target', listener: 'redirect', chunks: [`GET /a%0d%0aLocation:%20https://evil.example HTTP/1.1\r\n${H}\r\n`], expect: 'answer' },
    { name: 'redirect: absolute-form', listener: 'redirect', chunks: [`GET http://evil.example/ HTTP/1.1\r\n${H}\r\n`], expect: 'answer' },
    { name: 'redirect: duplicate Content-Length', listener: 'redirect', chunks: [`POST / HTTP/1.1\r\n${H}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab`], expect: 'problem' },
    { name: 'admin: CL + TE', listener: 'admin', chunks: [`POST /admin/v1/bans HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`], expect: 'problem' },
    { name: 'admin: encoded surrogate', listener: 'admin', chunks: [`GET /admin/v1/tenants/%ED%A0%80 HTTP/1.1\r\n${H}\r\n`], expect: 'problem' },
    { name: 'push: HEAD /v1/events without a key', listener: 'push', chunks: [`HEAD /v1/events HTTP/1.1\r\n${H}Connection: close\r\n\r\n`], expect: 'problem', heads: [true] },
    { name: 'push: chunked GET', listener: 'push', chunks: [`GET /v1/events HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n`], expect: 'problem' },

    // TLS: plain text on a TLS port is no HTTP at all.
    { name: 'plain HTTP to the TLS port', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}\r\n`], expect: 'any', plainToTls: true },
    { name: 'partner without a client certificate', listener: 'partner', chunks: [`GET /v1/invoices HTTP/1.1\r\n${H}\r\n`], expect: 'close' },

    // Slow partial requests: cut off within the configured timeouts (plus the checking interval), never held open.
    { name: 'slow: TLS handshake, then nothing', listener: 'api', chunks: [], expect: 'any', boundMs: SLOW_BOUND_MS },
    { name: 'slow: half a request line', listener: 'api', chunks: ['GET /v1/ke'], expect: 'any', boundMs: SLOW_BOUND_MS },
    { name: 'slow: headers never finished', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}X-Slow: a`], expect: 'any', boundMs: SLOW_BOUND_MS },
    { name: 'slow: one header byte every 200 ms', listener: 'api', chunks: [`GET /v1/keys HTTP/1.1\r\n${H}X-Slow: `, ...Array.from({ length: 60 }, () => 'a')], delayMs: 200, expect: 'any', boundMs: SLOW_BOUND_MS },
    { name: 'slow: body shorter than its Content-Length', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"number":`], expect: 'any', boundMs: SLOW_BOUND_MS },
    { name: 'slow: body one byte every 200 ms', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n`, ...Array.from({ length: 60 }, () => ' ')], delayMs: 200, expect: 'any', boundMs: SLOW_BOUND_MS },
    { name: 'slow: chunked body without its last chunk', listener: 'api', chunks: [`POST /v1/verify HTTP/1.1\r\n${H}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n`], expect: 'any', boundMs: SLOW_BOUND_MS },
    { name: 'slow: metrics, half a request line', listener: 'metrics', chunks: ['GET /heal'], expect: 'any', boundMs: SLOW_BOUND_MS },
    { name: 'slow: admin, headers never finished', listener: 'admin', chunks: [`GET /admin/v1/tenants HTTP/1.1\r\n${H}X-Slow: a`], expect: 'any', boundMs: SLOW_BOUND_MS },
    { name: 'slow: push, headers never finished', listener: 'push', chunks: [`GET /v1/events HTTP/1.1\r\n${H}X-Slow: a`], expect: 'any', boundMs: SLOW_BOUND_MS },
  ];
  return a;
}

function pseudoRequest(attack: Attack, i: number, method: string): FuzzRequest {
  const first = attack.chunks[0];
  const target = /^\S+ (\S+) HTTP/.exec(typeof first === 'string' ? first : (first?.toString('latin1') ?? ''))?.[1] ?? '/';
  return {
    index: i, listener: attack.listener, method, url: target, headers: {}, remoteAddress: '127.0.0.1', op: `${method} (raw)`,
    security: 'none', validAuth: true, kind: `raw:${attack.name}`,
  };
}

/** What is wrong with one exchange, as lines for the report (empty when it kept every invariant). */
function judge(attack: Attack, x: RawExchange, f: FuzzApp): string[] {
  const problems: string[] = [];
  const bound = attack.boundMs;
  if (bound !== undefined) {
    if (x.timedOut) problems.push(`still open after ${bound} ms`);
  } else if (x.timedOut) {
    problems.push('no answer and not closed before the deadline');
  }
  if (attack.expect === 'close' && x.responses.length > 0) problems.push(`expected the connection to be dropped, got ${x.responses.map((r) => r.status).join(', ')}`);
  if ((attack.expect === 'problem' || attack.expect === 'answer') && x.responses.length < (attack.count ?? 1)) {
    problems.push(`expected ${attack.count ?? 1} answer(s), got ${x.responses.length}${x.error ? ` (socket ${x.error})` : ''}`);
  }
  if (attack.expect === 'problem' && x.responses[0] && (x.responses[0].status < 400 || x.responses[0].status >= 500)) {
    problems.push(`expected a 4xx refusal, got ${x.responses[0].status}`);
  }
  if (x.garbage.length > 0 && !x.timedOut) problems.push(`unparsable bytes in the answer: ${visible(x.garbage.toString('latin1'), 120)}`);
  x.responses.forEach((r, i) => {
    const method = /^(\w+)/.exec(typeof attack.chunks[0] === 'string' ? attack.chunks[0] : '')?.[1] ?? 'GET';
    for (const v of checkAnswer(pseudoRequest(attack, i, attack.heads?.[i] ? 'HEAD' : method), toAnswer(r), f)) {
      problems.push(`answer ${i + 1}: ${INVARIANT_TITLES[v.invariant]} (${r.status} ${visible(r.body.toString('utf8'), 200)})`);
    }
  });
  return problems;
}

describe(`raw sockets on real listeners (seed ${FUZZ_SEED})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-fuzz-raw-'));
  let f: FuzzApp;
  const targets = new Map<Listener, RawTarget>();

  before(async () => {
    const file = join(dir, 'fapiao.config.json');
    writeFileSync(file, JSON.stringify({ http: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS } }));
    f = await createFuzzApp(FUZZ_SEED, { FAPIAO_CONFIG: file });
    for (const name of ['api', 'admin', 'push', 'metrics', 'redirect', 'partner'] as const) {
      const server = f.t.servers.get(name)!;
      await server.listen({ host: '127.0.0.1', port: 0 });
      targets.set(name, { port: (server.server.address() as AddressInfo).port, tls: name !== 'metrics' && name !== 'redirect' });
    }
  });
  after(async () => {
    await f?.t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A source address in 127.0.0.0/8 of its own, so per-address limits and bans of one exchange spare the others. */
  const source = (i: number) => {
    const r = new Rng(requestSeed(FUZZ_SEED ^ 0x50c7, i));
    return `127.${r.range(1, 254)}.${r.int(256)}.${r.range(1, 254)}`;
  };

  it('answers request-line, framing and slow-client attacks with problem+json or a bounded close, never a 5xx', async () => {
    const list = attacks();
    const results = await Promise.all(list.map(async (attack, i) => {
      const target = targets.get(attack.listener)!;
      const x = await rawSend(attack.plainToTls ? { ...target, tls: false } : target, {
        chunks: attack.chunks, ...(attack.delayMs ? { delayMs: attack.delayMs } : {}), heads: attack.heads ?? [],
        expect: attack.boundMs !== undefined && attack.expect === 'any' ? Number.POSITIVE_INFINITY : (attack.count ?? 1),
        timeoutMs: attack.boundMs ?? 15_000, localAddress: source(i),
      });
      return { attack, x, problems: judge(attack, x, f) };
    }));
    const failed = results.filter((r) => r.problems.length > 0);
    const report = failed.map((r) => {
      const sent = Buffer.concat(r.attack.chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c))).toString('latin1');
      return `✗ ${r.attack.listener}: ${r.attack.name}\n    sent: ${visible(sent, 300)}\n    ${r.problems.join('\n    ')}\n    answers: ${r.x.responses.map((a) => `${a.status} ${a.headers['content-type'] ?? ''}`).join('; ') || '(none)'}; closed by server: ${r.x.closedByServer}; ${r.x.ms} ms`;
    });
    assert.equal(failed.length, 0, `${failed.length} of ${list.length} raw exchanges broke an invariant:\n${report.join('\n')}`);
  });

  it(`answers ${SOCKET_REQUESTS} generated requests written verbatim to the sockets within the invariants`, async () => {
    const ops = loadOperations();
    const book = new FailureBook();
    const usable: Listener[] = ['api', 'admin', 'push', 'metrics', 'redirect'];
    const guard = new HangGuard(10_000, 300);
    const sendWith = async (req: FuzzRequest, timeoutMs: number): Promise<Answer> => {
      const x = await rawSend(targets.get(req.listener)!, { chunks: [serialise(req)], heads: [req.method === 'HEAD'], timeoutMs, localAddress: req.remoteAddress });
      const first = x.responses[0];
      if (first) return toAnswer(first);
      return { status: 0, contentType: '', headers: {}, body: Buffer.alloc(0), timedOut: x.timedOut, ...(x.timedOut ? {} : { error: `closed without an answer${x.error ? ` (${x.error})` : ''}` }) };
    };
    const send = (req: FuzzRequest) => guard.send(req, sendWith);
    // A range of indices of its own, so this run does not replay the requests the inject() run sends.
    const generate = (i: number) => {
      const req = generateRequest(ops, f.fx, FUZZ_SEED, i, { listeners: usable });
      return { ...req, remoteAddress: source(i) };
    };
    const check = (req: FuzzRequest, ans: Answer) => checkAnswer(req, ans, f).map((v) => (v.invariant === 'harness-error' ? { ...v, invariant: 'no-answer' as const } : v));
    const stats: RunStats = await runRequests({ count: SOCKET_REQUESTS, concurrency: 8, generate, send, check, book, firstIndex: 1_000_000 });
    await book.shrink(send, check, 30, (req) => guard.hangs(req));
    console.log(`raw-socket fuzz: ${describeStats(stats)}; ${book.classes.size} failure class(es)`);
    const classes = book.of(ALL_INVARIANTS);
    assert.equal(classes.length, 0, book.report(classes, f.secrets, FUZZ_SEED, stats.total, f.notes));
  });

  it('logs no buyer personal data and no credential', () => {
    const leaks = logLeakReport(f);
    if (leaks !== undefined) assert.fail(leaks);
  });

  it('keeps serving every listener afterwards', async () => {
    for (const [name, path] of [['api', '/v1/keys'], ['metrics', '/healthz'], ['redirect', '/verify']] as const) {
      const x = await rawSend(targets.get(name)!, { chunks: [`GET ${path} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`], timeoutMs: 10_000, localAddress: '127.9.9.9' });
      assert.ok(x.responses[0] && x.responses[0].status < 400, `${name} ${path}: ${x.responses[0]?.status ?? 'no answer'}`);
    }
  });
});
