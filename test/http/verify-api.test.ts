import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { Compile } from 'typebox/compile';
import { createTestApp, OTHER_SELLER, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { SIGNATURE_ALG, SIGNING_ALGORITHMS } from '../../src/shared/signing.ts';

describe('POST /v1/verify (发票查验)', () => {
  let t: TestApp;
  let inv: Invoice;
  const verify = (body: object) => t.api.inject({ method: 'POST', url: '/v1/verify', payload: body });

  before(async () => {
    t = await createTestApp();
    const res = await t.api.inject({
      method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` },
      payload: sampleInvoice({ buyer: { name: '张三', taxId: '11010519491231002X', phone: '13812345678' } }),
    });
    inv = res.json<Invoice>();
  });
  after(async () => {
    await t.close();
  });

  it('confirms an authentic invoice without an API key, with masked parties', async () => {
    const res = await verify({ number: inv.number, issueDate: inv.issueDate, total: '113.00' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.result, 'authentic');
    assert.equal(body.invoice.status, 'normal');
    assert.equal(body.invoice.totals.total, '113.00');
    assert.equal(body.signature.valid, true);
    assert.notEqual(body.invoice.buyer.taxId, '11010519491231002X');
    assert.ok(!res.body.includes('13812345678'));
    assert.ok(!res.body.includes('11010519491231002X'));
  });

  it('accepts the total in an equivalent decimal form', async () => {
    const res = await verify({ number: inv.number, issueDate: inv.issueDate, total: '113' });
    assert.equal(res.json().result, 'authentic');
  });

  it('gives no hint of which input was wrong', async () => {
    const wrongTotal = await verify({ number: inv.number, issueDate: inv.issueDate, total: '113.01' });
    const wrongDate = await verify({ number: inv.number, issueDate: '2001-01-01', total: '113.00' });
    const wrongNumber = await verify({ number: '26319999999999999999', issueDate: inv.issueDate, total: '113.00' });
    const garbage = await verify({ number: 'abc', issueDate: 'x', total: 'y' });
    for (const r of [wrongTotal, wrongDate, wrongNumber, garbage]) {
      assert.equal(r.statusCode, 200);
      assert.equal(r.body, wrongTotal.body);
    }
    assert.deepEqual(wrongTotal.json(), { result: 'not-found' });
  });

  it('publishes the signing keys', async () => {
    const res = await t.api.inject({ method: 'GET', url: '/v1/keys' });
    const keys = res.json().keys;
    assert.equal(keys.length, 1);
    assert.match(keys[0].publicKey, /^04[0-9a-f]{128}$/);
    assert.equal(keys[0].alg, 'SM2');
  });
});

describe('GET /v1/keys with every signing algorithm: the body docs/openapi.json describes', () => {
  let t: TestApp;
  /** An invoice signed with each algorithm: the server's (SM2), a tenant's ECDSA-P256, a tenant's Ed25519. */
  const signed = new Map<string, Invoice>();
  const issue = async (key: string) => {
    const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${key}` }, payload: sampleInvoice() });
    assert.equal(res.statusCode, 201, res.body);
    return res.json<Invoice>();
  };

  before(async () => {
    t = await createTestApp({ FAPIAO_LEDGER_SM2: 'true' });
    signed.set('SM2', await issue(t.apiKey));
    const p256 = await t.app.services.tenants.create({ ...OTHER_SELLER, signingAlgorithm: 'ECDSA-P256' });
    signed.set('ECDSA-P256', await issue(p256.apiKey));
    const ed = await t.app.services.tenants.create({ name: '云南国际贸易有限公司', taxId: '915300007194052520', regionCode: '53', signingAlgorithm: 'Ed25519' });
    signed.set('Ed25519', await issue(ed.apiKey));
    // A rotation retires that key (a running server signs with it until it restarts) and publishes a new one.
    await t.app.services.keys.rotate({ actor: 'test' }, 'Ed25519');
  });
  after(async () => {
    await t.close();
  });

  it('answers every algorithm with its alg, key forms and status, valid against the committed schema', async () => {
    const res = await t.api.inject({ method: 'GET', url: '/v1/keys' });
    assert.equal(res.statusCode, 200);
    const body = res.json<{ keys: { keyId: string; alg: string; publicKey: string; spki: string; status: string }[]; ledger: { alg: string; status: string }[] }>();
    const op = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')).paths['/v1/keys'].get;
    const schema = op.responses['200'].content['application/json'].schema;
    assert.ok(Compile(schema).Check(body), JSON.stringify(body));
    // The schema names every algorithm there is, and so does the description, with the field that names it.
    assert.deepEqual(schema.properties.keys.items.properties.alg.anyOf.map((a: { enum: string[] }) => a.enum[0]), [...SIGNING_ALGORITHMS]);
    for (const a of SIGNING_ALGORITHMS) {
      assert.ok(op.description.includes(`\`${a}\` (signatures \`${SIGNATURE_ALG[a]}\``) || op.description.includes(`\`${a}\` (\`${SIGNATURE_ALG[a]}\``), a);
      assert.ok(schema.properties.keys.items.properties.alg.description.includes(`\`${a}\` → \`${SIGNATURE_ALG[a]}\``), a);
    }
    assert.match(op.description, /`alg` names the key's algorithm/);
    // A schema that allowed SM2 alone would refuse this body.
    const sm2Only = structuredClone(schema);
    sm2Only.properties.keys.items.properties.alg = { type: 'string', enum: ['SM2'] };
    assert.equal(Compile(sm2Only).Check(body), false);

    // Each invoice names a published key of its scheme's algorithm, in the forms the schema describes.
    for (const [alg, inv] of signed) {
      assert.equal(inv.signature.alg, SIGNATURE_ALG[alg as keyof typeof SIGNATURE_ALG]);
      const key = body.keys.find((k) => k.keyId === inv.signature.keyId);
      assert.ok(key, `${alg}: ${inv.signature.keyId} published`);
      assert.equal(key.alg, alg);
      assert.equal(key.status, alg === 'Ed25519' ? 'retired' : 'active');
      assert.match(key.keyId, alg === 'SM2' ? /^sm2-[0-9a-f]{16}$/ : alg === 'ECDSA-P256' ? /^p256-[0-9a-f]{16}$/ : /^ed25519-[0-9a-f]{16}$/);
      assert.match(key.publicKey, alg === 'Ed25519' ? /^[0-9a-f]{64}$/ : /^04[0-9a-f]{128}$/);
      const spki = createPublicKey({ key: Buffer.from(key.spki, 'base64'), format: 'der', type: 'spki' });
      // (OpenSSL reads an SM2 SubjectPublicKeyInfo without naming its type to Node.)
      if (alg === 'Ed25519') assert.equal(spki.asymmetricKeyType, 'ed25519');
      if (alg === 'ECDSA-P256') assert.equal(spki.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      assert.equal(spki.export({ format: 'der', type: 'spki' }).toString('base64'), key.spki);
      // The signature value: DER (r, s) for the two ECDSA-like schemes, 64 raw bytes for Ed25519.
      const sig = Buffer.from(inv.signature.value, 'base64');
      if (alg === 'Ed25519') assert.equal(sig.length, 64);
      else assert.equal(sig[0], 0x30);
    }
    // The rotated Ed25519 key stays published, retired; the ledger lists both of its verifier keys.
    assert.deepEqual(body.keys.filter((k) => k.alg === 'Ed25519').map((k) => k.status).sort(), ['active', 'retired']);
    assert.deepEqual(body.ledger.map((k) => k.alg).sort(), ['ed25519', 'sm2']);
  });
});
