// `fapiao ledger verify`'s check (app/verify-ledger.ts) against a database tampered with directly: a changed entry
// (its leaf hash recomputed or not), a deleted leaf, two leaves swapped, a forged checkpoint: each reported at the
// exact leaf index, and an untouched log reported ok.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { verifyLedger, type LedgerReport } from '../../src/modules/ledger/app/verify-ledger.ts';
import { encodeLeafEntry, decodeLeafEntry } from '../../src/modules/ledger/domain/leaf-entry.ts';
import type { Tenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import { draft, SELLER, useCases, type Kit } from '../usecases/kit.ts';

void describe('ledger verify', () => {
  let kit: Kit;
  let tenant: Tenant;
  const db = () => kit.app.storage.db;
  const verify = async (): Promise<LedgerReport> => {
    const keys = kit.app.services.ledgerKeys;
    return verifyLedger(kit.app.uow.read.ledger, keys.origin, await keys.verifiers());
  };
  const leafIndices = (r: LedgerReport) => [...new Set(r.problems.map((p) => p.index))];
  const row = async (idx: number) => {
    const r = await db().selectFrom('ledger_leaves').selectAll().where('idx', '=', idx).executeTakeFirstOrThrow();
    return { ...r, idx: Number(r.idx) };
  };

  before(async () => {
    kit = await useCases();
    await kit.app.services.integrator.stop();
    tenant = (await kit.app.services.tenants.create(SELLER)).tenant;
    await Promise.all(Array.from({ length: 20 }, () => kit.app.services.invoices.issue(tenant, draft(), { replayStatus: 201 })));
    assert.equal((await kit.app.services.integrator.integrateOnce()).outcome, 'signed');
  });
  after(() => kit.close());

  void it('finds nothing wrong with the log as integrated', async () => {
    const r = await verify();
    assert.deepEqual(r.problems, []);
    assert.equal(r.ok, true);
    assert.equal(r.leaves, 20);
    assert.equal(r.checkpointSize, 20);
  });

  void it('names a leaf whose entry was changed, with or without its leaf hash recomputed', async () => {
    const orig = await row(7);
    const entry = decodeLeafEntry(Buffer.from(orig.entry!, 'base64'));
    const forged = Buffer.from(encodeLeafEntry({ ...entry, hash: 'ff'.repeat(32) }));
    await db().updateTable('ledger_leaves').set({ entry: forged.toString('base64') }).where('idx', '=', 7).execute();
    let r = await verify();
    assert.equal(r.ok, false);
    assert.deepEqual(leafIndices(r).filter((i) => i !== undefined), [7]);
    assert.match(r.problems[0]!.problem, /does not hash to the stored leaf hash/);
    await db().updateTable('ledger_leaves').set({ leaf_hash: createHash('sha256').update(Buffer.concat([Buffer.of(0), forged])).digest('hex') }).where('idx', '=', 7).execute();
    r = await verify();
    assert.deepEqual(leafIndices(r).filter((i) => i !== undefined), [7]);
    assert.match(r.problems[0]!.problem, /differs from the published tile/);
    await db().updateTable('ledger_leaves').set({ entry: orig.entry, leaf_hash: orig.leaf_hash }).where('idx', '=', 7).execute();
    assert.equal((await verify()).ok, true);
  });

  void it('names a deleted leaf', async () => {
    const orig = await row(12);
    await db().deleteFrom('ledger_leaves').where('idx', '=', 12).execute();
    const r = await verify();
    assert.equal(r.problems[0]!.index, 12);
    assert.match(r.problems[0]!.problem, /missing/);
    await db().insertInto('ledger_leaves').values(orig).execute();
    assert.equal((await verify()).ok, true);
  });

  void it('names two leaves whose places were swapped', async () => {
    const [a, b] = [await row(3), await row(4)];
    await db().updateTable('ledger_leaves').set({ idx: 1000 }).where('idx', '=', 3).execute();
    await db().updateTable('ledger_leaves').set({ idx: 3 }).where('idx', '=', 4).execute();
    await db().updateTable('ledger_leaves').set({ idx: 4 }).where('idx', '=', 1000).execute();
    const r = await verify();
    assert.deepEqual(leafIndices(r).filter((i) => i !== undefined), [3, 4]);
    await db().deleteFrom('ledger_leaves').where('idx', 'in', [3, 4]).execute();
    await db().insertInto('ledger_leaves').values([a, b]).execute();
    assert.equal((await verify()).ok, true);
  });

  void it('refuses a checkpoint that is not signed by the log key', async () => {
    const latest = (await kit.app.uow.read.ledger.latestCheckpoint())!;
    const forged = latest.note.replace(/^(\u2014 \S+ )\S+$/m, `$1${Buffer.alloc(68, 1).toString('base64')}`);
    await db().updateTable('ledger_checkpoints').set({ note: forged }).where('id', '=', latest.id).execute();
    const r = await verify();
    assert.equal(r.ok, false);
    assert.match(r.problems.map((p) => p.problem).join('\n'), /checkpoint does not verify/);
    await db().updateTable('ledger_checkpoints').set({ note: latest.note }).where('id', '=', latest.id).execute();
    assert.equal((await verify()).ok, true);
  });
});
