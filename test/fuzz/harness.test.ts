// The fuzz harness checks itself: each invariant flags an answer that breaks it (so the fuzz suites can fail), the
// generators are deterministic, the response parser reads what servers write, and the log check finds a planted leak.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FUZZ_SEED, generateRequest, loadOperations, makePiiPool, pctEncode, piiNeedles, requestSeed, Rng, type FuzzFixtures, type FuzzRequest } from './generators.ts';
import { checkAnswer, classKey, FailureBook, leaksInLog, parseResponses, serialise, visible, type Answer } from './harness.ts';

const pii = makePiiPool(1);
const fx: FuzzFixtures = {
  apiKey: 'fp_live_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', readOnlyKey: 'fp_live_bbbbbbbbbbbb_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB',
  issueOnlyKey: 'fp_live_cccccccccccc_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC', otherKey: 'fp_live_dddddddddddd_DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD',
  revokedKey: 'fp_live_eeeeeeeeeeee_EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE', expiredKey: 'fp_live_ffffffffffff_FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF',
  adminToken: 'admin-token-0123456789abcdef', tenantId: 't_0000000000000001', otherTenantId: 't_0000000000000002',
  scratchTenantId: 't_0000000000000003', scratchKeyIds: ['aaaaaaaaaaaa'], invoices: [{ number: '26311000000000000001', issueDate: '2026-11-24', total: '113.00' }], pii,
};
const ctx = { secrets: [{ name: '$API_KEY_A', value: fx.apiKey }], pii: piiNeedles(pii) };
const req = (over: Partial<FuzzRequest> = {}): FuzzRequest => ({
  index: 0, listener: 'api', method: 'POST', url: '/v1/invoices', headers: {}, remoteAddress: '198.18.0.9', op: 'POST /v1/invoices',
  security: 'apiKey', validAuth: true, kind: 'valid', ...over,
});
const answer = (status: number, body: unknown, contentType = 'application/problem+json; charset=utf-8'): Answer => ({
  status, contentType, headers: {}, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), timedOut: false,
});
const invariants = (r: FuzzRequest, a: Answer) => checkAnswer(r, a, ctx).map((v) => v.invariant);

describe('fuzz harness', () => {
  it('passes a registry problem and a success', () => {
    assert.deepEqual(invariants(req(), answer(400, { code: 'VALIDATION_FAILED', status: 400 })), []);
    assert.deepEqual(invariants(req(), answer(201, { number: '1' }, 'application/json')), []);
  });

  it('flags each broken invariant', () => {
    assert.deepEqual(invariants(req(), answer(500, { code: 'INTERNAL', status: 500 })), ['server-error']);
    assert.deepEqual(invariants(req(), answer(400, { code: 'FST_ERR_BAD_URL', statusCode: 400 }, 'application/json')), ['not-problem-json']);
    assert.deepEqual(invariants(req(), answer(400, { code: 'NO_SUCH_CODE', status: 400 })), ['unknown-code']);
    assert.deepEqual(invariants(req(), answer(422, { code: 'VALIDATION_FAILED', status: 400 })), ['status-mismatch']);
    assert.deepEqual(invariants(req(), answer(400, { code: 'VALIDATION_FAILED', status: 400, detail: 'x\n    at parse (file:///srv/src/x.ts:1:2)' })), ['stack-trace']);
    assert.deepEqual(invariants(req(), answer(200, { echo: fx.apiKey }, 'application/json')), ['secret-in-answer']);
    assert.deepEqual(invariants(req(), answer(400, { code: 'VALIDATION_FAILED', status: 400, detail: pii.phones[0] })), ['pii-in-error']);
    assert.deepEqual(invariants(req({ validAuth: false }), answer(200, {}, 'application/json')), ['auth-bypass']);
    assert.deepEqual(invariants(req({ listener: 'partner' }), answer(201, {}, 'application/json')), ['auth-bypass']);
    assert.deepEqual(invariants(req(), { ...answer(0, ''), timedOut: true }), ['no-answer']);
    const page = req({ listener: 'redirect', method: 'GET', op: 'GET /{page}', security: 'none' });
    assert.deepEqual(invariants({ ...page, url: '/%76%31/invoices' }, answer(301, '', '')), ['api-path-redirected']);
    assert.deepEqual(invariants({ ...page, url: '/verify?qr=1' }, answer(301, '', '')), []);
  });

  it('allows the 查验 page its HTML answer to a browser over its budget, and nothing else', () => {
    const page = req({ method: 'GET', url: '/verify', op: 'GET /verify', security: 'none', headers: { accept: 'text/html' } });
    assert.deepEqual(invariants(page, answer(429, '<html>', 'text/html; charset=utf-8')), []);
    assert.deepEqual(invariants({ ...page, headers: {} }, answer(429, '<html>', 'text/html; charset=utf-8')), ['not-problem-json']);
  });

  it('generates the same request for the same seed and index, and others for others', () => {
    const ops = loadOperations();
    const a = generateRequest(ops, fx, FUZZ_SEED, 42);
    assert.deepEqual(generateRequest(ops, fx, FUZZ_SEED, 42), a);
    assert.notDeepEqual(generateRequest(ops, fx, FUZZ_SEED, 43), a);
    assert.notEqual(requestSeed(1, 0), requestSeed(2, 0));
    const r = new Rng(7);
    const first = [r.u32(), r.u32()];
    const again = new Rng(7);
    assert.deepEqual([again.u32(), again.u32()], first);
  });

  it('covers every documented operation within a thousand requests', () => {
    const ops = loadOperations();
    const seen = new Set(Array.from({ length: 1000 }, (_, i) => generateRequest(ops, fx, FUZZ_SEED, i).op));
    for (const op of ops) assert.ok(seen.has(`${op.method} ${op.path}`), `${op.method} ${op.path}`);
  });

  it('parses Content-Length, chunked, HEAD, interim and pipelined answers', () => {
    const data = Buffer.from(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n' +
      'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    const p = parseResponses(data, [false, true, false], true);
    assert.equal(p.complete, true);
    assert.deepEqual(p.responses.map((r) => [r.status, r.body.toString()]), [[200, 'ok'], [200, ''], [404, 'abc']]);
    assert.equal(parseResponses(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort'), [], false).complete, false);
  });

  it('writes a generated request as HTTP/1.1 bytes with its length in bytes', () => {
    const bytes = serialise(req({ headers: { 'content-type': 'application/json' }, body: '{"a":"票"}' })).toString('latin1');
    assert.match(bytes, /^POST \/v1\/invoices HTTP\/1\.1\r\nHost: localhost\r\ncontent-type: application\/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n/);
  });

  it('finds personal data and credentials planted in a log, and names them instead of printing them', () => {
    const log = `{"msg":"ok"}\n{"msg":"request","phone":"${pii.phones[1]!.replace(/\D/g, '').slice(2)}","key":"${fx.apiKey}"}\n`;
    const leaks = leaksInLog(log, piiNeedles(pii), ctx.secrets);
    assert.deepEqual(leaks.map((l) => l.what).sort(), ['$API_KEY_A', 'buyer phone (digits)']);
    assert.ok(leaks.every((l) => !l.line.includes(fx.apiKey)));
    assert.deepEqual(leaksInLog('{"msg":"ok"}\n', piiNeedles(pii), ctx.secrets), []);
  });

  it('groups failures by route, status and code and keeps the smallest request', () => {
    const book = new FailureBook();
    const a500 = answer(500, { code: 'INTERNAL', status: 500 });
    book.add(req({ index: 1, body: 'x'.repeat(100) }), a500, [{ invariant: 'server-error', detail: '' }]);
    book.add(req({ index: 2, body: 'x' }), a500, [{ invariant: 'server-error', detail: '' }]);
    book.add(req({ index: 3, method: 'GET', op: 'GET /v1/invoices' }), a500, [{ invariant: 'server-error', detail: '' }]);
    assert.equal(book.classes.size, 2);
    const c = book.classes.get(classKey(req(), a500, { invariant: 'server-error', detail: '' }))!;
    assert.equal(c.count, 2);
    assert.equal(c.samples[0]!.req.index, 2);
  });

  it('shows invisible characters escaped', () => {
    assert.equal(visible('a\uD800b\u0000\uFFFF\u202E😀'), 'a\\ud800b\\u0000\\uffff\\u202e😀');
    assert.equal(pctEncode('a b/票'), 'a%20b%2F%E7%A5%A8');
  });
});
