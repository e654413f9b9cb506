// The ledger's routes on the api listener, checked with code that is not the server's: an RFC 9162 verifier written
// from the RFC's pseudo-code (test/ledger/rfc9162.ts) (§2.1.3.2 inclusion, §2.1.4.2 consistency) and the tree hash from its definition
// (§2.1.1), and the checkpoint signature with node:crypto from the verifier key GET /v1/keys publishes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { mth, sha, verifyConsistency, verifyInclusion } from '../ledger/rfc9162.ts';

const b = (s: string) => Buffer.from(s, 'base64');

void describe('ledger routes', () => {
  let t: TestApp;
  let other: string;
  const invoices: Invoice[] = [];
  const auth = (key = t.apiKey) => ({ authorization: `Bearer ${key}` });
  // A fresh client address per request: the public routes' per-address limit is not what this suite tests.
  let clients = 0;
  const get = (url: string, headers: Record<string, string> = {}) => t.api.inject({ method: 'GET', url, headers, remoteAddress: `198.18.${(++clients >> 8) & 255}.${clients & 255}` });
  const issue = async (n: number, key = t.apiKey) => {
    const out: Invoice[] = [];
    for (let i = 0; i < n; i++) {
      const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: auth(key), payload: sampleInvoice() });
      assert.equal(res.statusCode, 201, res.body);
      out.push(res.json<Invoice>());
    }
    return out;
  };
  const integrate = async () => assert.equal((await t.app.services.integrator.integrateOnce()).outcome, 'signed');
  const leafHashes = async () => (await t.app.uow.read.ledger.leaves(0, 10_000)).map((l) => Buffer.from(l.leafHash, 'hex'));

  before(async () => {
    t = await createTestApp();
    await t.app.services.integrator.stop();
    other = (await t.app.services.tenants.create(OTHER_SELLER, undefined, ['invoices:issue', 'invoices:read'])).apiKey;
  });
  after(() => t.close());

  void it('answers 202 with Retry-After for an invoice not yet integrated, 404 for another tenant\'s', async () => {
    invoices.push(...(await issue(5)));
    const res = await get(`/v1/ledger/proof/${invoices[0]!.number}`, auth());
    assert.equal(res.statusCode, 202);
    assert.equal(res.headers['retry-after'], '1');
    assert.deepEqual(res.json(), { status: 'pending', leafIndex: invoices[0]!.ledger.index });
    const theirs = await get(`/v1/ledger/proof/${invoices[0]!.number}`, auth(other));
    assert.equal(theirs.statusCode, 404);
    assert.equal(theirs.json<{ code: string }>().code, 'INVOICE_NOT_FOUND');
    assert.equal((await get(`/v1/ledger/proof/${invoices[0]!.number}`)).statusCode, 401);
    assert.equal((await get('/v1/ledger/proof/123', auth())).statusCode, 400);
    assert.equal((await get('/v1/ledger/proof/26319999999999999999', auth())).statusCode, 404);
  });

  void it('serves inclusion proofs that an independent RFC 9162 verifier accepts, and rejects when altered', async () => {
    await integrate();
    invoices.push(...(await issue(4)), ...(await issue(2, other)));
    await integrate();
    const leaves = await leafHashes();
    const root = mth(leaves);
    for (const inv of invoices.slice(0, 9)) {
      const res = await get(`/v1/ledger/proof/${inv.number}`, auth());
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const p = res.json<{ leafIndex: number; leafHash: string; leafEntry: string; inclusionProof: string[]; treeSize: number; rootHash: string; checkpoint: string }>();
      assert.equal(p.leafIndex, inv.ledger.index);
      assert.equal(p.treeSize, leaves.length);
      assert.ok(b(p.rootHash).equals(root));
      assert.ok(sha(Buffer.of(0), b(p.leafEntry)).equals(b(p.leafHash)));
      assert.equal(p.checkpoint.split('\n')[2], p.rootHash);
      const path = p.inclusionProof.map(b);
      assert.ok(verifyInclusion(p.leafIndex, p.treeSize, b(p.leafHash), path, root));
      assert.ok(!verifyInclusion(p.leafIndex ^ 1, p.treeSize, b(p.leafHash), path, root), 'wrong index');
      assert.ok(!verifyInclusion(p.leafIndex, p.treeSize * 2, b(p.leafHash), path, root), 'wrong size');
      assert.ok(!verifyInclusion(p.leafIndex, p.treeSize, sha(Buffer.of(0), Buffer.from('x')), path, root), 'wrong leaf');
      if (path.length > 0) assert.ok(!verifyInclusion(p.leafIndex, p.treeSize, b(p.leafHash), [sha(), ...path.slice(1)], root), 'wrong path');
    }
    // The other tenant sees its own, never ours.
    const mine = await get(`/v1/ledger/proof/${invoices[9]!.number}`, auth(other));
    assert.equal(mine.statusCode, 200);
    assert.equal((await get(`/v1/ledger/proof/${invoices[9]!.number}`, auth())).statusCode, 404);
  });

  void it('serves consistency proofs between every pair of sizes, and 400 problems for bad sizes', async () => {
    const leaves = await leafHashes();
    const n = leaves.length;
    for (let from = 1; from <= n; from++) {
      for (let to = from; to <= n; to++) {
        const res = await get(`/v1/ledger/consistency?from=${from}&to=${to}`);
        assert.equal(res.statusCode, 200, res.body);
        const proof = res.json<{ consistencyProof: string[] }>().consistencyProof.map(b);
        assert.ok(verifyConsistency(from, to, mth(leaves.slice(0, from)), mth(leaves.slice(0, to)), proof), `${from}→${to}`);
        if (from < to) assert.ok(!verifyConsistency(from, to, mth(leaves.slice(0, from)), mth(leaves.slice(0, to - 1)), proof));
      }
    }
    for (const [q, code] of [
      ['from=2&to=1', 'LEDGER_SIZE_INVALID'], ['from=0&to=1', 'LEDGER_SIZE_INVALID'], [`from=1&to=${n + 1}`, 'LEDGER_SIZE_INVALID'],
      ['from=a&to=1', 'VALIDATION_FAILED'], ['from=1.5&to=2', 'VALIDATION_FAILED'], ['from=01&to=2', 'VALIDATION_FAILED'],
      ['from=1&to=99999999999999999999', 'VALIDATION_FAILED'], ['from=-1&to=2', 'VALIDATION_FAILED'], ['to=2', 'VALIDATION_FAILED'],
      ['from=%E4%B8%80&to=2', 'VALIDATION_FAILED'], [`from=1&to=${Number.MAX_SAFE_INTEGER}`, 'LEDGER_SIZE_INVALID'],
    ] as const) {
      const res = await get(`/v1/ledger/consistency?${q}`);
      assert.equal(res.statusCode, 400, q);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
      assert.equal(res.json<{ code: string }>().code, code, q);
    }
  });

  void it('serves the checkpoint, tiles and entry bundles in the tlog-tiles layout with their cache headers', async () => {
    const leaves = await leafHashes();
    const n = leaves.length;
    const cp = await get('/checkpoint');
    assert.equal(cp.statusCode, 200);
    assert.equal(cp.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(cp.headers['cache-control'], 'public, max-age=1');
    const json = (await get('/v1/ledger/checkpoint')).json<{ treeSize: number; rootHash: string; checkpoint: string }>();
    assert.equal(json.checkpoint, cp.body);
    assert.equal(json.treeSize, n);
    const keys = (await get('/v1/keys')).json<{ ledger: { verifierKey: string }[] }>();
    const [, name, key] = /^([^+]+)\+[0-9a-f]{8}\+(.+)$/.exec(keys.ledger[0]!.verifierKey) as unknown as [string, string, string];
    const text = cp.body.slice(0, cp.body.indexOf('\n\n') + 1);
    const sigLine = cp.body.slice(cp.body.indexOf('\n\n') + 2).split('\n')[0]!;
    assert.ok(sigLine.startsWith(`\u2014 ${name} `));
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), b(key).subarray(1)]);
    assert.ok(nodeVerify(null, Buffer.from(text), createPublicKey({ key: spki, format: 'der', type: 'spki' }), b(sigLine.split(' ')[2]!).subarray(4)));

    const tile = await get(`/tile/0/000.p/${n}`);
    assert.equal(tile.statusCode, 200);
    assert.equal(tile.headers['content-type'], 'application/octet-stream');
    assert.equal(tile.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.ok(tile.rawPayload.equals(Buffer.concat(leaves)));
    // An older width of the same tile is its prefix.
    assert.ok((await get('/tile/0/000.p/3')).rawPayload.equals(Buffer.concat(leaves.slice(0, 3))));
    const bundle = await get(`/tile/entries/000.p/${n}`);
    assert.equal(bundle.statusCode, 200);
    const entries = (await t.app.uow.read.ledger.leaves(0, n)).map((l) => Buffer.from(l.entry!, 'base64'));
    assert.ok(bundle.rawPayload.equals(Buffer.concat(entries.flatMap((e) => [Buffer.of(e.length >> 8, e.length & 0xff), e]))));
    for (const url of [
      '/tile/0/000', `/tile/0/000.p/${n + 1}`, '/tile/0/0', '/tile/0/x000/000.p/1', '/tile/64/000', '/tile/1/000.p/1', '/tile/entries/001',
      '/tile/entries/000.p/256', '/tile/00/000.p/1', '/tile/0/000.p/01', `/tile/0/${'x999/'.repeat(10)}999`,
    ]) {
      const res = await get(url);
      assert.equal(res.statusCode, 404, url);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, url);
    }
    for (const url of ['/tile/', '/tile/0/000.p/%E4%B8%80', '/tile/0/000%20', `/tile/0/${'x999/'.repeat(30)}999`]) {
      const res = await get(url);
      assert.equal(res.statusCode, 400, url);
      assert.equal(res.json<{ code: string }>().code, 'VALIDATION_FAILED', url);
    }
  });
});
