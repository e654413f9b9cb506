// The ledger's read side keeps the served checkpoint between integrations (LedgerService): this node's integrator
// replaces it at once, a checkpoint another node served is picked up within the TTL, a leaf beyond the kept one is
// read afresh rather than called pending, and every proof verifies, with an RFC 9162 verifier that is not the
// server's (test/ledger/rfc9162.ts), against the checkpoint it names.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Integrator } from '../../src/modules/ledger/app/integrator.ts';
import { LedgerService, type InclusionView } from '../../src/modules/ledger/app/ledger-service.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { mth, verifyInclusion } from './rfc9162.ts';

const b = (s: string) => Buffer.from(s, 'base64');

void describe('ledger proofs: the kept checkpoint', () => {
  let t: TestApp;
  const numbers: string[] = [];
  const issue = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
      assert.equal(res.statusCode, 201, res.body);
      numbers.push(res.json<{ number: string }>().number);
    }
  };
  const leafHashes = async () => (await t.app.uow.read.ledger.leaves(0, 10_000)).map((l) => Buffer.from(l.leafHash, 'hex'));
  /** Another node of the same database: its integrator does not tell this node's ledger service. */
  const otherNode = () => new Integrator({
    uow: t.app.uow, clock: systemClock, origin: t.app.services.ledgerKeys.origin,
    signers: async () => [await t.app.services.ledgerKeys.activeSigner()],
  });
  /** The proof verifies against the root of the first `size` leaves, and the checkpoint names that size and root. */
  const checkProof = async (p: InclusionView, size: number) => {
    const leaves = (await leafHashes()).slice(0, size);
    assert.equal(p.treeSize, size);
    assert.ok(b(p.rootHash).equals(mth(leaves)));
    assert.deepEqual(p.checkpoint.split('\n').slice(1, 3), [String(size), p.rootHash]);
    assert.ok(verifyInclusion(p.leafIndex, p.treeSize, b(p.leafHash), p.inclusionProof.map(b), mth(leaves)));
  };
  const treeSizeOf = async (service: LedgerService, number: string) => {
    const m = await service.membership(number);
    assert.equal(m?.status, 'integrated');
    return m.treeSize;
  };
  const proof = async (service: LedgerService, number: string) => {
    const r = await service.proof(t.tenantId, number);
    assert.equal(r.status, 'integrated');
    return r.proof;
  };

  before(async () => {
    t = await createTestApp();
    await t.app.services.integrator.stop();
  });
  after(() => t.close());

  void it('answers a newer checkpoint at once after this node\'s integrator served it (proofs and 查验)', async () => {
    await issue(3);
    assert.equal((await t.app.services.integrator.integrateOnce()).outcome, 'signed');
    const ledger = t.app.services.ledger;
    await checkProof(await proof(ledger, numbers[0]!), 3);
    assert.equal((await ledger.membership(numbers[0]!))?.status, 'integrated');
    await issue(2);
    assert.equal((await t.app.services.integrator.integrateOnce()).outcome, 'signed');
    await checkProof(await proof(ledger, numbers[0]!), 5);
    await checkProof(await proof(ledger, numbers[4]!), 5);
    const m = await ledger.membership(numbers[0]!);
    assert.deepEqual(m, { status: 'integrated', leafIndex: 0, treeSize: 5, rootHash: (await ledger.checkpoint())!.rootHash });
    const res = await t.api.inject({ method: 'POST', url: '/v1/verify', payload: await verifyBody(numbers[0]!) });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<{ ledger: { treeSize: number } }>().ledger.treeSize, 5);
  });

  void it('picks up another node\'s checkpoint within the TTL, and at once for a leaf the kept one does not cover', async () => {
    let now = 0;
    const ledger = new LedgerService(t.app.uow, { checkpointTtlMs: 1000, now: () => now });
    const before = (await ledger.checkpoint())!.treeSize;
    await checkProof(await proof(ledger, numbers[0]!), before);
    await issue(2);
    assert.equal((await otherNode().integrateOnce()).outcome, 'signed');
    now = 500;
    // Within the TTL the kept checkpoint answers, and the proof is of that checkpoint.
    assert.equal((await ledger.checkpoint())!.treeSize, before);
    await checkProof(await proof(ledger, numbers[1]!), before);
    assert.equal(await treeSizeOf(ledger, numbers[1]!), before);
    // A leaf past it is not called pending: the served checkpoint is read again, and kept from then on.
    const newest = await proof(ledger, numbers.at(-1)!);
    await checkProof(newest, before + 2);
    assert.equal((await ledger.checkpoint())!.treeSize, before + 2);
    await checkProof(await proof(ledger, numbers[1]!), before + 2);

    // A consistency proof to a size another node served since is answered, not refused.
    await issue(1);
    assert.equal((await otherNode().integrateOnce()).outcome, 'signed');
    assert.equal((await ledger.consistency(1, before + 3)).to, before + 3);
    assert.equal((await ledger.checkpoint())!.treeSize, before + 3);

    // Past the TTL, another node's newer checkpoint is read again even for leaves the kept one covers.
    await issue(1);
    assert.equal((await otherNode().integrateOnce()).outcome, 'signed');
    now = 1200;
    assert.equal((await ledger.checkpoint())!.treeSize, before + 3, 'read at 500: kept until 1500');
    now = 1600;
    assert.equal((await ledger.checkpoint())!.treeSize, before + 4);
    await checkProof(await proof(ledger, numbers[0]!), before + 4);
    assert.equal(await treeSizeOf(ledger, numbers[0]!), before + 4);
  });

  void it('still answers pending for a leaf no served checkpoint covers, and integrated once one does', async () => {
    const ledger = new LedgerService(t.app.uow, { checkpointTtlMs: 60_000, now: () => 0 });
    await ledger.checkpoint();
    await issue(1);
    const last = numbers.at(-1)!;
    assert.deepEqual(await ledger.proof(t.tenantId, last), { status: 'pending', leafIndex: numbers.length - 1 });
    assert.deepEqual(await ledger.membership(last), { status: 'pending', leafIndex: numbers.length - 1 });
    assert.equal((await otherNode().integrateOnce()).outcome, 'signed');
    await checkProof(await proof(ledger, last), numbers.length);
    assert.equal((await ledger.membership(last))?.status, 'integrated');
  });

  void it('gives the same proofs as a service that keeps nothing, for every leaf, as the tree grows over tiles', async () => {
    const cold = () => new LedgerService(t.app.uow, { tileCacheBytes: 0, checkpointTtlMs: 0 });
    const warm = t.app.services.ledger;
    for (const grow of [250, 10]) {
      await issue(grow);
      assert.equal((await t.app.services.integrator.integrateOnce()).outcome, 'signed');
      const size = numbers.length;
      const leaves = await leafHashes();
      const root = mth(leaves);
      for (const [i, number] of numbers.entries()) {
        const p = await proof(warm, number);
        assert.deepEqual(p, await proof(cold(), number), `leaf ${i} of ${size}`);
        assert.equal(p.treeSize, size);
        assert.ok(verifyInclusion(i, size, b(p.leafHash), p.inclusionProof.map(b), root), `leaf ${i} of ${size}`);
      }
    }
  });

  async function verifyBody(number: string) {
    const inv = (await t.api.inject({ method: 'GET', url: `/v1/invoices/${number}`, headers: { authorization: `Bearer ${t.apiKey}` } })).json<{ issueDate: string; totals: { total: string } }>();
    return { number, issueDate: inv.issueDate, total: inv.totals.total };
  }
});

void describe('ledger.integrator false', () => {
  void it('sequences leaves at issue but integrates nothing until a round is asked for', async () => {
    const t = await createTestApp({ FAPIAO_LEDGER_INTEGRATOR: 'false' });
    try {
      const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
      assert.equal(res.statusCode, 201, res.body);
      const { number } = res.json<{ number: string }>();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await t.app.uow.read.ledger.latestCheckpoint(), undefined);
      assert.deepEqual(await t.app.services.ledger.proof(t.tenantId, number), { status: 'pending', leafIndex: 0 });
      assert.equal((await t.app.services.integrator.integrateOnce()).outcome, 'signed');
      assert.equal((await t.app.services.ledger.proof(t.tenantId, number)).status, 'integrated');
    } finally {
      await t.close();
    }
  });
});

void describe('ledger proofs: answered again from memory', () => {
  void it('reads nothing for a proof asked again under the same checkpoint, answers it to its tenant only, and renews it with the checkpoint', async () => {
    let statements = 0;
    const t = await createTestApp({}, { onQuery: () => void statements++ });
    try {
      await t.app.services.integrator.stop();
      const issued: string[] = [];
      for (let i = 0; i < 2; i++) {
        const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
        issued.push(res.json<{ number: string }>().number);
      }
      assert.equal((await t.app.services.integrator.integrateOnce()).outcome, 'signed');
      const ledger = t.app.services.ledger;
      const first = await ledger.proof(t.tenantId, issued[0]!);
      assert.equal(first.status, 'integrated');
      statements = 0;
      const again = await ledger.proof(t.tenantId, issued[0]!);
      assert.equal(statements, 0, 'no statement for a proof answered before under the same checkpoint');
      assert.deepEqual(again, first);
      await assert.rejects(ledger.proof('another-tenant', issued[0]!), /INVOICE_NOT_FOUND|No such invoice/);
      assert.throws(() => { (again.status === 'integrated' ? again.proof.inclusionProof : []).push('x'); }, TypeError, 'a kept proof cannot be changed by a caller');

      const res = await t.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${t.apiKey}` }, payload: sampleInvoice() });
      assert.equal(res.statusCode, 201);
      assert.equal((await t.app.services.integrator.integrateOnce()).outcome, 'signed');
      const renewed = await ledger.proof(t.tenantId, issued[0]!);
      assert.ok(renewed.status === 'integrated' && renewed.proof.treeSize === 3, 'the proof of the new checkpoint');
    } finally {
      await t.close();
    }
  });
});
