// The fuzz harness: a test app whose log goes to memory, the fixtures the generators draw on, sending a request
// through inject() or a real socket, the invariants every answer must keep, and the failure book that groups
// violations into classes (invariant · listener · method · route · status · code), shrinks one request per class and
// prints it so that it can be replayed.
//
// Invariants (docs/errors.md, docs/operations.md "Logs"): no answer ≥ 500 and no request left unanswered; every
// error is RFC 9457 application/problem+json whose `code` is in the registry (src/errors.ts) with the registry's
// status; no stack trace in any body; no credential in any answer and no personal data in an error; no route that
// needs credentials answers a request without them; no personal data and no credential in the log.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger } from '../../src/container.ts';
import { ERRORS } from '../../src/shared/errors.ts';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { httpStatusOf } from '../../src/platform/http/error-status.ts';
import {
  deleteAt, getAt, makePiiPool, NASTY_STRINGS, piiNeedles, pointers, Rng, setAt, uscc, withBodyValue,
  type FuzzFixtures, type FuzzRequest,
} from './generators.ts';

// ---------------------------------------------------------------------------------------------------------------
// Logs

export interface LogCapture {
  logger: Logger;
  text(): string;
}

/** The production logger (createLogger, its redaction included) at its most verbose level, writing to memory. */
export function captureLogs(): LogCapture {
  const chunks: string[] = [];
  const logger = createLogger('trace', { write: (line: string) => void chunks.push(line) });
  return { logger, text: () => chunks.join('') };
}

// ---------------------------------------------------------------------------------------------------------------
// The app and its fixtures

export interface Secret {
  name: string;
  value: string;
}

export interface FuzzApp {
  t: TestApp;
  fx: FuzzFixtures;
  logs: LogCapture;
  /** Credentials that must never appear in a log line or an answer, by the name printed instead of them. */
  secrets: Secret[];
  /** Personal data the generators send. */
  pii: { field: string; value: string }[];
  /** What each fixture invoice number holds, for the reports. */
  notes: Map<string, string>;
}

/** The parts of a key that must stay secret: the whole key, and its secret half (the `fp_live_<id>` prefix may be logged). */
function keySecrets(name: string, key: string): Secret[] {
  const secretHalf = key.slice(key.lastIndexOf('_') + 1);
  return [{ name, value: key }, ...(secretHalf.length >= 16 && secretHalf !== key ? [{ name: `${name} (secret half)`, value: secretHalf }] : [])];
}

/**
 * A test app with three tenants: A (the main one: a key with every scope and a read-only key), B (every scope, and an
 * issue-only key) and a scratch tenant that admin writes with a valid token go to (a revoked and an expired key).
 * `env` adds settings; the tenant budget is raised so the fuzz reaches the handlers instead of 429 after 6,000.
 */
export async function createFuzzApp(seed: number, env: Record<string, string> = {}): Promise<FuzzApp> {
  const logs = captureLogs();
  const t = await createTestApp({ FAPIAO_TENANT_RATE_PER_MINUTE: '100000000', ...env }, { logger: logs.logger });
  const tenants = t.app.services.tenants;
  const rng = new Rng(seed ^ 0xf17e);
  const readOnly = await tenants.createApiKey(t.tenantId, { scopes: ['invoices:read'] });
  const b = await tenants.create(OTHER_SELLER, undefined, ['invoices:issue', 'invoices:read', 'pii:read']);
  const issueOnly = await tenants.createApiKey(b.tenant.id, { scopes: ['invoices:issue'] });
  const scratch = await tenants.create({ name: '广州临时测试有限公司', taxId: uscc(rng), regionCode: '44' });
  const [scratchFirst] = await tenants.listApiKeys(scratch.tenant.id);
  await tenants.revokeApiKey(scratch.tenant.id, scratchFirst!.id);
  const expired = await tenants.createApiKey(scratch.tenant.id, { expiresAt: '2020-01-01T00:00:00.000Z' });

  const pii = makePiiPool(seed);
  const invoices: FuzzFixtures['invoices'] = [];
  for (let i = 0; i < 4; i++) {
    const res = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` },
      payload: sampleInvoice({ buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', phone: pii.phones[i]!, email: pii.emails[i]!, address: pii.addresses[i]! } }),
    });
    if (res.statusCode !== 201) throw new Error(`fixture invoice not issued: ${res.statusCode} ${res.body}`);
    const inv = res.json<{ number: string; issueDate: string; totals: { total: string } }>();
    invoices.push({ number: inv.number, issueDate: inv.issueDate, total: inv.totals.total });
  }
  // Invoices whose text is hostile but accepted: fetching them as PDF, OFD, XML and UBL puts the strings through the
  // document renderers. Whatever the server refuses simply does not become a fixture.
  const notes = new Map<string, string>();
  for (const inv of invoices) notes.set(inv.number, 'a plain fixture invoice');
  // Every other one holds the string in the buyer's address alone, after a known address: an error message quoting
  // the field then quotes personal data, which the log check finds.
  const hostile = NASTY_STRINGS.filter(([n]) => !n.startsWith('long-') || n === 'long-300');
  for (const [i, [name, text]] of hostile.entries()) {
    const addressOnly = i % 2 === 1;
    const line = { taxCode: '3040201000000000000', shortName: '信息技术服务', amount: '100.00', taxRate: '0.13' };
    const res = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` },
      payload: addressOnly
        ? sampleInvoice({ buyer: { name: '某公司', address: `${pii.addresses[4]!}${text.slice(0, 100)}` }, lines: [{ ...line, name: '服务' }] })
        : sampleInvoice({
          buyer: { name: text.slice(0, 100) || '某公司', address: pii.addresses[5]! },
          lines: [{ ...line, name: text.slice(0, 100) || '服务', spec: text.slice(0, 100) || 'x' }],
          remarks: text.slice(0, 230), issuer: text.slice(0, 20) || '张三',
        }),
    });
    if (res.statusCode !== 201) continue;
    const inv = res.json<{ number: string; issueDate: string; totals: { total: string } }>();
    invoices.push({ number: inv.number, issueDate: inv.issueDate, total: inv.totals.total });
    notes.set(inv.number, `a fixture invoice whose ${addressOnly ? "buyer's address holds" : 'buyer, line, remarks and issuer hold'} the ${name} string`);
  }
  const fx: FuzzFixtures = {
    apiKey: t.apiKey, readOnlyKey: readOnly.secret, issueOnlyKey: issueOnly.secret, otherKey: b.apiKey,
    revokedKey: scratch.apiKey, expiredKey: expired.secret, adminToken: t.adminToken,
    tenantId: t.tenantId, otherTenantId: b.tenant.id, scratchTenantId: scratch.tenant.id,
    scratchKeyIds: [scratchFirst!.id, expired.record.id], invoices, pii,
  };
  const secrets = [
    ...keySecrets('$API_KEY_A', fx.apiKey), ...keySecrets('$READ_ONLY_KEY_A', fx.readOnlyKey), ...keySecrets('$ISSUE_ONLY_KEY_B', fx.issueOnlyKey),
    ...keySecrets('$API_KEY_B', fx.otherKey), ...keySecrets('$REVOKED_KEY', fx.revokedKey), ...keySecrets('$EXPIRED_KEY', fx.expiredKey),
    ...keySecrets('$UNKNOWN_KEY_1', 'fp_live_0123456789ab_AbCdEfGhIjKlMnOpQrStUvWxYz012345'),
    ...keySecrets('$UNKNOWN_KEY_2', 'fp_live_zzzzzzzzzzzz_ZYXWVUTSRQPONMLKJIHGFEDCBA987654'),
    { name: '$ADMIN_TOKEN', value: fx.adminToken },
  ];
  return { t, fx, logs, secrets, pii: piiNeedles(pii), notes };
}

// ---------------------------------------------------------------------------------------------------------------
// Answers

export interface Answer {
  status: number;
  contentType: string;
  headers: Record<string, string | string[] | number | undefined>;
  body: Buffer;
  /** No answer within the time allowed. */
  timedOut: boolean;
  /** inject() itself threw (the server never produced a response). */
  error?: string;
}

const MAX_BODY = 4 * 1024 * 1024;

function readBody(stream: Readable, sse: boolean): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => resolve(Buffer.concat(chunks));
    stream.on('data', (c: Buffer | string) => {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      chunks.push(b);
      size += b.length;
      // An event stream never ends by itself: its first frame is enough; a runaway body is cut off.
      if (sse || size > MAX_BODY) {
        stream.destroy();
        done();
      }
    });
    stream.on('end', done);
    stream.on('error', done);
    stream.on('close', done);
  });
}

/** One request through inject(), with a deadline; an event stream is read to its first frame and closed. */
export async function injectRequest(server: FastifyInstance, req: FuzzRequest, timeoutMs: number): Promise<Answer> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const run = (async (): Promise<Answer> => {
    const res = await server.inject({
      method: req.method as 'GET', url: req.url, headers: req.headers, remoteAddress: req.remoteAddress,
      ...(req.body !== undefined ? { payload: req.body } : {}),
      payloadAsStream: true, signal: ac.signal,
    });
    const contentType = String(res.headers['content-type'] ?? '');
    const body = await readBody(res.stream(), contentType.startsWith('text/event-stream'));
    return { status: res.statusCode, contentType, headers: res.headers, body, timedOut: false };
  })().catch((err: unknown): Answer => ({
    status: 0, contentType: '', headers: {}, body: Buffer.alloc(0), timedOut: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
  }));
  const out = await Promise.race([run, deadline]);
  clearTimeout(timer);
  // Ends a stream still open on the server (an event stream, or a request that never got its answer).
  ac.abort();
  if (out === 'timeout') return { status: 0, contentType: '', headers: {}, body: Buffer.alloc(0), timedOut: true };
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Real sockets

export interface RawTarget {
  port: number;
  tls: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawExchange {
  responses: RawResponse[];
  /** Bytes that did not parse as a response (none when all is well). */
  garbage: Buffer;
  closedByServer: boolean;
  timedOut: boolean;
  ms: number;
  error?: string;
}

/**
 * Parses HTTP/1.1 responses (RFC 9112 §6: Content-Length, chunked, or up to the close). `heads` are the request
 * methods in order (a HEAD answer has no body). Interim 1xx responses are skipped. Returns what parsed and whether
 * the last one is complete.
 */
export function parseResponses(data: Buffer, heads: readonly boolean[], closed: boolean): { responses: RawResponse[]; rest: Buffer; complete: boolean } {
  const responses: RawResponse[] = [];
  let at = 0;
  let n = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) return { responses, rest: data.subarray(at), complete: at === data.length };
    const head = data.subarray(at, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
    if (!m) return { responses, rest: data.subarray(at), complete: false };
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) {
        const k = line.slice(0, i).trim().toLowerCase();
        headers[k] = headers[k] === undefined ? line.slice(i + 1).trim() : `${headers[k]}, ${line.slice(i + 1).trim()}`;
      }
    }
    let pos = end + 4;
    if (status >= 100 && status < 200) {
      at = pos;
      continue;
    }
    const isHead = heads[n] ?? false;
    let body: Buffer = Buffer.alloc(0);
    if (!isHead && /^text\/event-stream/.test(headers['content-type'] ?? '')) {
      // An event stream never ends: it is complete enough once it has started.
      responses.push({ status, headers, body: data.subarray(pos) });
      return { responses, rest: Buffer.alloc(0), complete: true };
    }
    if (isHead || status === 204 || status === 304) {
      // no body
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts: Buffer[] = [];
      for (;;) {
        const eol = data.indexOf('\r\n', pos);
        if (eol < 0) return { responses, rest: data.subarray(at), complete: false };
        const size = parseInt(data.subarray(pos, eol).toString('latin1'), 16);
        if (!Number.isFinite(size)) return { responses, rest: data.subarray(at), complete: false };
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n', eol + 2);
          if (trailerEnd < 0) return { responses, rest: data.subarray(at), complete: false };
          pos = trailerEnd + 2;
          break;
        }
        if (data.length < eol + 2 + size + 2) return { responses, rest: data.subarray(at), complete: false };
        parts.push(data.subarray(eol + 2, eol + 2 + size));
        pos = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      if (data.length < pos + len) return { responses, rest: data.subarray(at), complete: false };
      body = data.subarray(pos, pos + len);
      pos += len;
    } else {
      if (!closed) return { responses, rest: data.subarray(at), complete: false };
      body = data.subarray(pos);
      pos = data.length;
    }
    responses.push({ status, headers, body });
    n++;
    at = pos;
    if (at >= data.length) return { responses, rest: Buffer.alloc(0), complete: true };
  }
}

export interface RawSendOptions {
  /** Chunks written one after another, `delayMs` apart. */
  chunks: (string | Buffer)[];
  delayMs?: number;
  /** Methods of the requests sent, in order: a HEAD answer has no body. */
  heads?: boolean[];
  /** Responses expected before the exchange is over (it also ends when the server closes). */
  expect?: number;
  timeoutMs: number;
  /** Source address within 127.0.0.0/8, so per-address limits see many clients. */
  localAddress?: string;
}

/** Writes raw bytes on a fresh connection (TLS or plain) and collects what comes back until close or deadline. */
export function rawSend(target: RawTarget, opts: RawSendOptions): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const expect = opts.expect ?? 1;
    const heads = opts.heads ?? [];
    const chunks: Buffer[] = [];
    let finished = false;
    let closed = false;
    let error: string | undefined;
    const base = { host: '127.0.0.1', port: target.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) };
    const socket: Socket = target.tls
      ? tlsConnect({ ...base, servername: 'localhost', rejectUnauthorized: false })
      : netConnect(base);
    const timer = setTimeout(() => finish(true), opts.timeoutMs);
    const timers: NodeJS.Timeout[] = [];
    function finish(timedOut: boolean) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      for (const t of timers) clearTimeout(t);
      socket.destroy();
      const data = Buffer.concat(chunks);
      const parsed = parseResponses(data, heads, true);
      resolve({
        responses: parsed.responses, garbage: parsed.rest, closedByServer: closed, timedOut, ms: Date.now() - started,
        ...(error ? { error } : {}),
      });
    }
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      opts.chunks.forEach((c, i) => {
        // The socket is never half-closed: the answers are read first, and a slow client keeps it open anyway.
        const write = () => {
          if (socket.writable) socket.write(c);
        };
        if (i === 0 || !opts.delayMs) write();
        else timers.push(setTimeout(write, opts.delayMs * i));
      });
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      const p = parseResponses(Buffer.concat(chunks), heads, false);
      if (p.complete && p.responses.length >= expect) finish(false);
    });
    socket.on('error', (e: Error & { code?: string }) => (error = e.code ?? e.message));
    socket.on('close', () => {
      closed = true;
      finish(false);
    });
  });
}

/** A generated request as bytes on the wire (HTTP/1.1, one request, `Connection: close`). */
export function serialise(req: FuzzRequest): Buffer {
  const body = req.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
  const names = new Set(Object.keys(req.headers).map((h) => h.toLowerCase()));
  const lines = [`${req.method} ${req.url} HTTP/1.1`, ...(names.has('host') ? [] : ['Host: localhost'])];
  for (const [k, v] of Object.entries(req.headers)) lines.push(`${k}: ${v}`);
  if (req.body !== undefined && !names.has('content-length') && !names.has('transfer-encoding')) lines.push(`Content-Length: ${body.length}`);
  lines.push('Connection: close');
  const head = lines.map((l, i) => (i === 0 ? Buffer.from(l, 'utf8') : Buffer.from(l, 'latin1')));
  return Buffer.concat([...head.flatMap((h) => [h, Buffer.from('\r\n')]), Buffer.from('\r\n'), body]);
}

export function toAnswer(r: RawResponse): Answer {
  return { status: r.status, contentType: r.headers['content-type'] ?? '', headers: r.headers, body: r.body, timedOut: false };
}

// ---------------------------------------------------------------------------------------------------------------
// Invariants

export type Invariant =
  | 'server-error'
  | 'no-answer'
  | 'harness-error'
  | 'not-problem-json'
  | 'unknown-code'
  | 'status-mismatch'
  | 'stack-trace'
  | 'secret-in-answer'
  | 'pii-in-error'
  | 'auth-bypass'
  | 'api-path-redirected';

export const INVARIANT_TITLES: Record<Invariant, string> = {
  'server-error': 'answered ≥ 500',
  'no-answer': 'no answer (none in time, or the connection was closed)',
  'harness-error': 'inject() failed (no response at all)',
  'not-problem-json': 'error answer not application/problem+json',
  'unknown-code': 'problem code not in the registry (src/errors.ts)',
  'status-mismatch': "problem status differs from the registry's or the HTTP status",
  'stack-trace': 'stack trace in the body',
  'secret-in-answer': 'a credential in the answer',
  'pii-in-error': 'buyer personal data in an error answer',
  'auth-bypass': 'served without valid credentials',
  'api-path-redirected': 'an API path (once percent-decoded) redirected to HTTPS instead of refused',
};

export const ALL_INVARIANTS = Object.keys(INVARIANT_TITLES) as Invariant[];

export interface Violation {
  invariant: Invariant;
  detail: string;
}

// A V8 stack frame ("    at fn (file:///…/x.ts:12:34)"), or a source path with line numbers.
const STACK = /(?:^|\n|\\n)\s*at (?:async )?[^\n]{0,200}?\(?(?:file:\/\/|node:|\/)[^\n)]*:\d+:\d+|node_modules\/|\/src\/[\w/.-]+\.ts\b/;

function isText(contentType: string): boolean {
  return contentType === '' || /json|text|xml|html|javascript/.test(contentType);
}

/** The problem's `code`, or what else identifies the answer's body. */
export function codeOf(ans: Answer): string {
  if (ans.timedOut || ans.error !== undefined) return '-';
  try {
    const b = JSON.parse(ans.body.toString('utf8')) as { code?: unknown };
    if (typeof b?.code === 'string') return b.code;
  } catch {
    // not JSON
  }
  return ans.body.length === 0 ? '(no body)' : '(no code)';
}

/** Whether an error answer is one of the few deliberately not problem+json. */
function allowedNonProblem(req: FuzzRequest, ans: Answer): boolean {
  // The 查验 page answers a browser with a readable page when the address is over its budget (verify-page-routes.ts).
  const path = req.url.split('?')[0];
  return ans.status === 429 && path === '/verify' && ans.contentType.startsWith('text/html') && /text\/html/.test(req.headers.accept ?? '');
}

function decodedPath(url: string): string | undefined {
  try {
    return decodeURIComponent(url.split('?')[0] ?? '');
  } catch {
    return undefined;
  }
}

export interface CheckContext {
  secrets: readonly Secret[];
  pii: readonly { field: string; value: string }[];
}

export function checkAnswer(req: FuzzRequest, ans: Answer, ctx: CheckContext): Violation[] {
  if (ans.error !== undefined) return [{ invariant: 'harness-error', detail: ans.error }];
  if (ans.timedOut) return [{ invariant: 'no-answer', detail: 'no answer before the deadline' }];
  const out: Violation[] = [];
  const text = isText(ans.contentType) ? ans.body.toString('utf8') : '';
  if (ans.status >= 500) out.push({ invariant: 'server-error', detail: `status ${ans.status}` });
  if (ans.status >= 400 && !allowedNonProblem(req, ans)) {
    if (!ans.contentType.startsWith('application/problem+json')) {
      out.push({ invariant: 'not-problem-json', detail: `content-type ${ans.contentType || '(none)'}` });
    } else if (req.method !== 'HEAD') {
      let p: { code?: unknown; status?: unknown } | undefined;
      try {
        p = JSON.parse(text) as typeof p;
      } catch {
        out.push({ invariant: 'not-problem-json', detail: 'the body is not JSON' });
      }
      if (p) {
        const entry = typeof p.code === 'string' && Object.hasOwn(ERRORS, p.code) ? { status: httpStatusOf(p.code as keyof typeof ERRORS) } : undefined;
        if (!entry) out.push({ invariant: 'unknown-code', detail: `code ${JSON.stringify(p.code)}` });
        else if (p.status !== entry.status || ans.status !== entry.status) {
          out.push({ invariant: 'status-mismatch', detail: `HTTP ${ans.status}, problem status ${String(p.status)}, registry ${entry.status}` });
        }
      }
    }
  }
  if (text && STACK.test(text)) out.push({ invariant: 'stack-trace', detail: STACK.exec(text)![0].trim().slice(0, 120) });
  if (text) {
    for (const s of ctx.secrets) if (text.includes(s.value)) out.push({ invariant: 'secret-in-answer', detail: s.name });
    if (ans.status >= 400) for (const p of ctx.pii) if (text.includes(p.value)) out.push({ invariant: 'pii-in-error', detail: p.field });
  }
  // The redirect listener refuses API calls rather than redirecting them (redirect-routes.ts, OWASP ASVS V4.1.2); a
  // percent-encoded spelling of the same path (RFC 3986 §6.2.2.2: the same resource) must be refused too.
  if (req.listener === 'redirect' && ans.status >= 300 && ans.status < 400) {
    const path = decodedPath(req.url);
    if (path !== undefined && /^\/(v\d+|admin)(\/|$)/.test(path)) out.push({ invariant: 'api-path-redirected', detail: `decodes to ${path}` });
  }
  const served = ans.status > 0 && ans.status < 400;
  if (served && (req.listener === 'partner' || (req.security !== 'none' && !req.validAuth))) {
    out.push({ invariant: 'auth-bypass', detail: req.listener === 'partner' ? 'no client certificate' : req.kind });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Failure classes

interface Sample {
  req: FuzzRequest;
  ans: Answer;
  violation: Violation;
}

export interface FailureClass {
  key: string;
  invariant: Invariant;
  route: string;
  status: string;
  code: string;
  count: number;
  /** How many of them were requests the generator meant to be valid. */
  valid: number;
  kinds: Map<string, number>;
  /** The smallest few, smallest first. */
  samples: Sample[];
  shrunk?: { req: FuzzRequest; ans: Answer; tries: number; from: Sample };
  /** Samples that answered differently when replayed alone: they failed only alongside other requests. */
  notAlone: number;
  /** A request that went unanswered in time under load but was answered when replayed alone: slow, not hung. */
  slowOnly?: boolean;
}

const SAMPLES = 8;

function sizeOf(req: FuzzRequest): number {
  return req.url.length + (req.body?.length ?? 0) + Object.entries(req.headers).reduce((s, [k, v]) => s + k.length + v.length, 0);
}

/** The generator's description without positions, so that "the same kind of input" counts once. */
function kindOf(req: FuzzRequest): string {
  const k = req.kind.replace(/\/\d+(?=\/|\b)/g, '/*');
  return req.kind.startsWith('path') ? `${req.method} ${k}` : k;
}

/** `listener METHOD /route`; a request whose path was mangled is grouped by listener alone: it names no route. */
function routeOf(req: FuzzRequest): string {
  if (req.kind.startsWith('path')) return `${req.listener} * (mangled path)`;
  return `${req.listener} ${req.method} ${req.op.slice(req.op.indexOf(' ') + 1)}`;
}

export function classKey(req: FuzzRequest, ans: Answer, v: Violation): string {
  return `${v.invariant} | ${routeOf(req)} → ${ans.status || '-'} ${codeOf(ans)}`;
}

/** Escapes what a terminal would not show: controls, surrogates, noncharacters, format and bidi characters. */
export function visible(s: string, max = 700): string {
  const shown = s.length > max ? s.slice(0, max) : s;
  let out = '';
  for (let i = 0; i < shown.length; i++) {
    const c = shown.charCodeAt(i);
    const hi = c >= 0xd800 && c <= 0xdbff;
    const lo = c >= 0xdc00 && c <= 0xdfff;
    if (hi && i + 1 < shown.length) {
      const d = shown.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += shown[i]! + shown[i + 1]!;
        i++;
        continue;
      }
    }
    const invisible = c < 0x20 || (c >= 0x7f && c <= 0xa0) || hi || lo || (c >= 0xfdd0 && c <= 0xfdef) || c >= 0xfff0 ||
      (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c === 0xfeff || (c >= 0x0300 && c <= 0x036f);
    out += invisible ? `\\u${c.toString(16).padStart(4, '0')}` : shown[i]!;
  }
  return s.length > max ? `${out}… (${s.length} characters in all)` : out;
}

function hideSecrets(s: string, secrets: readonly Secret[]): string {
  let out = s;
  // Longest first, so a whole key is named rather than its secret half.
  for (const x of [...secrets].sort((a, b) => b.value.length - a.value.length)) out = out.split(x.value).join(x.name);
  return out;
}

export function describeRequest(req: FuzzRequest, secrets: readonly Secret[]): string {
  const lines = [`    ${req.method} ${visible(req.url, 300)}   [listener ${req.listener}, client ${req.remoteAddress}]`];
  for (const [k, v] of Object.entries(req.headers)) lines.push(`    ${k}: ${visible(hideSecrets(v, secrets), 200)}`);
  if (req.body !== undefined) {
    const text = Buffer.isBuffer(req.body) ? `(bytes, hex) ${req.body.subarray(0, 200).toString('hex')}${req.body.length > 200 ? '…' : ''}` : req.body;
    lines.push(`    body (${req.body.length} ${Buffer.isBuffer(req.body) ? 'bytes' : 'characters'}): ${visible(hideSecrets(text, secrets), 600)}`);
  }
  return lines.join('\n');
}

export function describeAnswer(ans: Answer): string {
  if (ans.error !== undefined) return `    no answer: ${ans.error}`;
  if (ans.timedOut) return '    no answer';
  return `    → ${ans.status} ${ans.contentType || '(no content-type)'} ${visible(ans.body.toString('utf8'), 400)}`;
}

export class FailureBook {
  readonly classes = new Map<string, FailureClass>();

  add(req: FuzzRequest, ans: Answer, violations: readonly Violation[]): void {
    for (const v of violations) {
      const key = classKey(req, ans, v);
      let c = this.classes.get(key);
      if (!c) {
        c = {
          key, invariant: v.invariant, route: routeOf(req), status: ans.status ? String(ans.status) : '-', code: codeOf(ans),
          count: 0, valid: 0, kinds: new Map(), samples: [], notAlone: 0,
        };
        this.classes.set(key, c);
      }
      c.count++;
      if (req.kind === 'valid') c.valid++;
      const k = kindOf(req);
      c.kinds.set(k, (c.kinds.get(k) ?? 0) + 1);
      if (c.samples.length < SAMPLES || sizeOf(req) < sizeOf(c.samples[c.samples.length - 1]!.req)) {
        c.samples.push({ req, ans, violation: v });
        c.samples.sort((a, b) => sizeOf(a.req) - sizeOf(b.req) || a.req.index - b.req.index);
        if (c.samples.length > SAMPLES) c.samples.pop();
      }
    }
  }

  /** Classes of the given invariants, most frequent first (requests that were only slow under load left out). */
  of(invariants: readonly Invariant[]): FailureClass[] {
    return [...this.classes.values()].filter((c) => invariants.includes(c.invariant) && !c.slowOnly).sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
  }

  /**
   * Replays the samples of each class alone, smallest first, until one fails the same way, then shrinks it: drops
   * headers, query parameters and body members and halves strings while the answer stays in the class. `budget`
   * bounds the replays per class. A sample that passes alone failed only alongside other requests (counted).
   */
  async shrink(
    send: (req: FuzzRequest) => Promise<Answer>, check: (req: FuzzRequest, ans: Answer) => Violation[], budget = 60,
    /** Whether an unanswered request hangs (HangGuard), rather than having been slow on a busy machine. */
    hangs?: (req: FuzzRequest) => boolean,
  ): Promise<void> {
    for (const c of this.classes.values()) {
      if (c.invariant === 'no-answer') {
        if (hangs && !c.samples.some((x) => x.ans.error !== undefined || hangs(x.req))) c.slowOnly = true;
        continue;
      }
      if (c.invariant === 'harness-error') continue;
      let tries = 0;
      const same = (req: FuzzRequest, ans: Answer) => check(req, ans).some((v) => classKey(req, ans, v) === c.key);
      let from: Sample | undefined;
      for (const s of c.samples) {
        const ans = await send(s.req);
        if (same(s.req, ans)) {
          from = s;
          break;
        }
        c.notAlone++;
      }
      if (!from) continue;
      let cur = from.req;
      let curAns = from.ans;
      const attempt = async (cand: FuzzRequest): Promise<boolean> => {
        if (tries >= budget) return false;
        tries++;
        const ans = await send(cand);
        if (!same(cand, ans)) return false;
        cur = cand;
        curAns = ans;
        return true;
      };
      for (const h of Object.keys(cur.headers)) {
        const { [h]: _drop, ...rest } = cur.headers;
        await attempt({ ...cur, headers: rest });
      }
      const [path, qs] = splitUrl(cur.url);
      if (qs !== undefined) {
        let params = qs.split('&');
        for (let i = 0; i < params.length && tries < budget; ) {
          const fewer = params.filter((_, j) => j !== i);
          if (await attempt({ ...cur, url: fewer.length ? `${path}?${fewer.join('&')}` : path })) params = fewer;
          else i++;
        }
      }
      // A body sent as text is shrunk as the JSON it parses to, when it does (a candidate counts only if it still fails).
      if (cur.bodyValue === undefined && typeof cur.body === 'string') {
        try {
          const parsed: unknown = JSON.parse(cur.body);
          if (parsed !== null && typeof parsed === 'object') await attempt(withBodyValue(cur, parsed));
        } catch {
          // not JSON: shrunk no further
        }
      }
      if (cur.bodyValue !== undefined) {
        for (let i = 0; tries < budget; ) {
          const ptrs = pointers(cur.bodyValue);
          if (i >= ptrs.length) break;
          const v = structuredClone(cur.bodyValue);
          deleteAt(v, ptrs[i]!);
          if (!(await attempt(withBodyValue(cur, v)))) i++;
        }
        for (const ptr of pointers(cur.bodyValue)) {
          for (;;) {
            const s = getAt(cur.bodyValue, ptr);
            if (typeof s !== 'string' || s.length < 2 || tries >= budget) break;
            const half = Math.ceil(s.length / 2);
            let progressed = false;
            for (const part of [s.slice(0, half), s.slice(half)]) {
              const v = structuredClone(cur.bodyValue);
              setAt(v, ptr, part);
              if (await attempt(withBodyValue(cur, v))) {
                progressed = true;
                break;
              }
            }
            if (!progressed) break;
          }
        }
      }
      c.shrunk = { req: cur, ans: curAns, tries, from };
    }
  }

  report(classes: readonly FailureClass[], secrets: readonly Secret[], seed: number, total: number, notes: ReadonlyMap<string, string> = new Map()): string {
    const annotate = (r: FuzzRequest) => [...notes].filter(([k]) => r.url.includes(k) || (typeof r.body === 'string' && r.body.includes(k))).map(([k, v]) => `    (${k}: ${v})`);
    const out: string[] = [`${classes.length} failure class(es) in ${total} requests (seed ${seed}; FAPIAO_FUZZ_SEED=${seed} replays the run):`];
    for (const c of classes) {
      const kinds = [...c.kinds.entries()].sort((a, b) => b[1] - a[1]);
      out.push('', `✗ ${INVARIANT_TITLES[c.invariant]} — ${c.route} → ${c.status} ${c.code} — ${c.count} answer(s)${c.valid ? `, ${c.valid} to valid requests` : ''}`);
      out.push(`  inputs: ${kinds.slice(0, 6).map(([k, n]) => `${visible(k, 160)} ×${n}`).join('; ')}${kinds.length > 6 ? `; … ${kinds.length - 6} more` : ''}`);
      const first = c.samples[0]!;
      if (first.violation.detail) out.push(`  detail: ${visible(first.violation.detail, 200)}`);
      if (c.notAlone > 0) {
        out.push(`  ${c.notAlone} of ${c.samples.length} sampled requests answered correctly when replayed alone: they failed only alongside other requests`);
      }
      if (c.shrunk) {
        out.push(`  reproducer (request #${c.shrunk.from.req.index}, shrunk in ${c.shrunk.tries} replays; fails alone):`);
        out.push(describeRequest(c.shrunk.req, secrets), ...annotate(c.shrunk.req), describeAnswer(c.shrunk.ans));
      } else {
        out.push(`  request #${first.req.index}${c.invariant === 'no-answer' ? '' : ' (did not fail when replayed alone)'}:`);
        out.push(describeRequest(first.req, secrets), ...annotate(first.req), describeAnswer(first.ans));
      }
    }
    return out.join('\n');
  }
}

function splitUrl(url: string): [string, string | undefined] {
  const i = url.indexOf('?');
  return i < 0 ? [url, undefined] : [url.slice(0, i), url.slice(i + 1)];
}

// ---------------------------------------------------------------------------------------------------------------
// Running

export interface RunStats {
  total: number;
  statuses: Map<number, number>;
  byOp: Map<string, Map<number, number>>;
  /** Time spent per operation and generator mode (summed over concurrent requests). */
  cost: Map<string, { n: number; ms: number }>;
  ms: number;
  /** CPU time of this process (every thread) during the run, in ms: on a busy machine a fairer measure than `ms`. */
  cpuMs: number;
}

/** Sends `count` generated requests, `concurrency` at a time, checking each answer into `book`. */
export async function runRequests(opts: {
  count: number;
  concurrency: number;
  generate: (index: number) => FuzzRequest;
  send: (req: FuzzRequest) => Promise<Answer>;
  check: (req: FuzzRequest, ans: Answer) => Violation[];
  book: FailureBook;
  firstIndex?: number;
  /** Stops early (before `count`) once this says so. */
  until?: () => boolean;
}): Promise<RunStats> {
  const started = Date.now();
  const stats: RunStats = { total: 0, statuses: new Map(), byOp: new Map(), cost: new Map(), ms: 0, cpuMs: 0 };
  const cpu = process.cpuUsage();
  let next = opts.firstIndex ?? 0;
  const end = next + opts.count;
  const worker = async () => {
    while (next < end && !opts.until?.()) {
      const req = opts.generate(next++);
      const t0 = performance.now();
      const ans = await opts.send(req);
      const costKey = `${req.op} ${req.kind.split(' · ')[0]} ${req.kind.split(' · ')[1]?.split(/[:= ]/)[0] ?? ''}`;
      const cost = stats.cost.get(costKey) ?? { n: 0, ms: 0 };
      cost.n++;
      cost.ms += performance.now() - t0;
      stats.cost.set(costKey, cost);
      stats.total++;
      stats.statuses.set(ans.status, (stats.statuses.get(ans.status) ?? 0) + 1);
      let op = stats.byOp.get(req.op);
      if (!op) stats.byOp.set(req.op, (op = new Map()));
      op.set(ans.status, (op.get(ans.status) ?? 0) + 1);
      const violations = opts.check(req, ans);
      if (violations.length > 0) opts.book.add(req, ans, violations);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  stats.ms = Date.now() - started;
  const used = process.cpuUsage(cpu);
  stats.cpuMs = Math.round((used.user + used.system) / 1000);
  return stats;
}

export function describeStats(stats: RunStats): string {
  const statuses = [...stats.statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s || 'none'}×${n}`).join(' ');
  const costly = [...stats.cost.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 4)
    .map(([k, c]) => `${k} ${c.n}× ${Math.round(c.ms / c.n)} ms`).join('; ');
  return `${stats.total} requests in ${Math.round(stats.ms / 100) / 10} s (${Math.round(stats.cpuMs / 100) / 10} s CPU); statuses ${statuses}; slowest kinds: ${costly}`;
}

/** Log lines that contain personal data or a credential, with the value replaced by its name. */
export function leaksInLog(text: string, pii: readonly { field: string; value: string }[], secrets: readonly Secret[]): { what: string; line: string }[] {
  const out: { what: string; line: string }[] = [];
  const seen = new Set<string>();
  // Longest first, so that a whole key is named rather than its secret half.
  const needles = [...pii.map((p) => ({ what: p.field, value: p.value })), ...secrets.map((s) => ({ what: s.name, value: s.value }))]
    .sort((a, b) => b.value.length - a.value.length);
  const mask = (line: string) => needles.reduce((l, n) => l.split(n.value).join(`«${n.what}»`), line);
  for (const n of needles) {
    const at = text.indexOf(n.value);
    if (at < 0 || seen.has(n.what)) continue;
    seen.add(n.what);
    const start = text.lastIndexOf('\n', at) + 1;
    const stop = text.indexOf('\n', at);
    out.push({ what: n.what, line: visible(mask(text.slice(start, stop < 0 ? undefined : stop)), 500) });
  }
  return out;
}

/**
 * Deadlines for requests that may hang. A request unanswered within `normalMs` is replayed alone with the same
 * deadline; only if that goes unanswered too is its operation (listener, method, route) taken to hang, and later
 * requests to it get `shortMs`, so that one hanging route does not stall the run. A request that was only slow on a
 * busy machine is answered on replay and changes nothing.
 */
export class HangGuard {
  private readonly hanging = new Set<string>();
  private readonly confirming = new Map<string, Promise<void>>();

  constructor(private readonly normalMs: number, private readonly shortMs: number) {}

  async send(req: FuzzRequest, sendWith: (req: FuzzRequest, timeoutMs: number) => Promise<Answer>): Promise<Answer> {
    const key = this.key(req);
    if (this.hanging.has(key)) return sendWith(req, this.shortMs);
    const ans = await sendWith(req, this.normalMs);
    if (ans.timedOut) {
      let confirming = this.confirming.get(key);
      if (!confirming) {
        confirming = sendWith(req, this.normalMs).then((replay) => {
          if (replay.timedOut) this.hanging.add(key);
        });
        this.confirming.set(key, confirming);
      }
      await confirming;
    }
    return ans;
  }

  /** Whether requests like this one hang (unanswered twice, the second time alone). */
  hangs(req: FuzzRequest): boolean {
    return this.hanging.has(this.key(req));
  }

  private key(req: FuzzRequest): string {
    return `${req.listener} ${req.method} ${req.op}`;
  }
}

/** The assertion message listing what leaked into the log, or undefined when nothing did. */
export function logLeakReport(f: FuzzApp): string | undefined {
  const leaks = leaksInLog(f.logs.text(), f.pii, f.secrets);
  if (leaks.length === 0) return undefined;
  return `personal data or credentials in the log (${leaks.length}):\n${leaks.map((l) => `  ${l.what}: ${l.line}`).join('\n')}`;
}
