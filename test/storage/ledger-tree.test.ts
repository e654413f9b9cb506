// The ledger's tree on every engine: issued batches integrated by the integrator (the issuing use case writes the
// leaves, commitIssueBatch), tiles and bundles read back at every width, one integrator at a time on PostgreSQL (the
// advisory lock), and two "nodes" integrating turn by turn into one consistent tree.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import { commitIssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { Integrator } from '../../src/modules/ledger/app/integrator.ts';
import { createEd25519NoteSigner } from '../../src/modules/ledger/app/note-keys.ts';
import { rootOf } from '../../src/modules/ledger/domain/merkle.ts';
import { storageEngines } from '../helpers/storage-engines.ts';
import { makeBatch } from '../helpers/invoice-factory.ts';
import { insertTenant, TestClock, uowNode, type UowNode } from '../helpers/uow-b.ts';

const T0 = '2026-11-24T06:03:05.123Z';
const signer = createEd25519NoteSigner('example.com/log', new Uint8Array(32).fill(7));

for (const fixture of await storageEngines()) {
  void describe(`ledger tree: ${fixture.engine}`, { skip: fixture.skip }, () => {
    const clock = new TestClock(T0);
    let s: StorageEngine;
    let node: UowNode;
    const integrator = (n: UowNode) => new Integrator({ uow: n.uow, clock, origin: 'example.com/log', signers: async () => [signer] });
    before(async () => {
      s = fixture.open({ masterKey: randomBytes(32) });
      await s.migrate();
      node = uowNode(s);
      await insertTenant(node.uow, clock.now(), { id: 't-a', name: '甲公司', taxId: '91310000MA1FL0000X', regionCode: '31', channel: '0' });
    });
    after(async () => {
      await s?.close();
      await fixture.cleanup();
    });

    void it('integrates issued batches; tiles and bundles read back at every width they had', async () => {
      let seq = 1;
      for (const n of [3, 300]) {
        const r = await commitIssueBatch(node.uow, clock.advance(1000), makeBatch('t-a', '26310', seq, Array.from({ length: n }, () => ({}))));
        assert.ok(r.ok);
        seq += n;
        const round = await integrator(node).integrateOnce();
        assert.equal(round.outcome, 'signed');
      }
      const leaves = await node.uow.read.ledger.leaves(0, 1000);
      assert.equal(leaves.length, 303);
      const latest = (await node.uow.read.ledger.latestCheckpoint())!;
      assert.equal(latest.size, 303);
      assert.equal(latest.rootHash, Buffer.from(rootOf(leaves.map((l) => new Uint8Array(Buffer.from(l.leafHash, 'hex'))))).toString('hex'));
      // The tile of size 3 is the prefix of the full one; a width beyond the tree is not there.
      const t3 = (await node.uow.read.ledger.readTile(0, 0, 3))!;
      assert.equal(Buffer.from(t3).toString('hex'), leaves.slice(0, 3).map((l) => l.leafHash).join(''));
      assert.equal((await node.uow.read.ledger.readTile(0, 1, 47))!.length, 47 * 32);
      assert.equal(await node.uow.read.ledger.readTile(0, 1, 48), undefined);
      assert.equal(await node.uow.read.ledger.readTile(1, 0, 2), undefined);
      assert.equal((await node.uow.read.ledger.readTile(1, 0, 1))!.length, 32);
      const b = (await node.uow.read.ledger.readBundle(0, 2))!;
      assert.equal(b.length, leaves.slice(0, 2).reduce((n, l) => n + 2 + Buffer.from(l.entry!, 'base64').length, 0));
    });

    void it('lets one integrator at a time extend the tree', { skip: fixture.engine !== 'postgres' && 'SQLite has one writer' }, async () => {
      const other = uowNode(fixture.open());
      try {
        let inside: (() => void) | undefined;
        const held = new Promise<void>((r) => (inside = r));
        let release: (() => void) | undefined;
        const released = new Promise<void>((r) => (release = r));
        const holder = node.uow.run(clock.now(), async (tx) => {
          assert.equal(await tx.ledger.tryIntegratorLease(), true);
          inside!();
          await released;
        });
        await held;
        assert.deepEqual(await integrator(other).integrateOnce(true), { outcome: 'busy' });
        release!();
        await holder;
        assert.equal((await integrator(other).integrateOnce(true)).outcome, 'signed');
      } finally {
        await other.storage.close();
      }
    });
  });
}
