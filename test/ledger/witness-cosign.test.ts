// The server's own checkpoints through two witnesses (C2SP tlog-witness): both cosign the first checkpoint and,
// with a consistency proof from the ledger's tiles, the grown one; a checkpoint of a forked log — signed by the same
// log key, the same size, another root — is refused by a witness that cosigned the real one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addSignatureLines, openNote } from '../../src/modules/ledger/app/notes.ts';
import { generateNoteKey, verifierFromKey } from '../../src/modules/ledger/app/note-keys.ts';
import { signCheckpoint } from '../../src/modules/ledger/app/checkpoints.ts';
import { proveConsistency } from '../../src/modules/ledger/domain/tiled-log.ts';
import { startWitness, type RunningWitness } from '../../src/modules/ledger/witness/witness-server.ts';
import { cosignCheckpoint, WitnessRequestError } from '../../src/modules/ledger/witness/witness-client.ts';
import type { Tenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import { draft, SELLER, useCases, type Kit } from '../usecases/kit.ts';

void describe('witnessing the server\'s checkpoints', () => {
  let kit: Kit;
  let tenant: Tenant;
  const witnesses: RunningWitness[] = [];
  const dirs: string[] = [];

  const issue = (n: number) => Promise.all(Array.from({ length: n }, () => kit.app.services.invoices.issue(tenant, draft(), { replayStatus: 201 })));
  const checkpoint = async () => {
    const r = await kit.app.services.integrator.integrateOnce(true);
    assert.equal(r.outcome, 'signed');
    return r.outcome === 'signed' ? r.checkpoint : assert.fail();
  };

  before(async () => {
    kit = await useCases();
    await kit.app.services.integrator.stop();
    tenant = (await kit.app.services.tenants.create(SELLER)).tenant;
    const logKey = (await kit.app.services.ledgerKeys.list())[0]!.verifierKey;
    for (const name of ['witness-a.example', 'witness-b.example']) {
      const dir = mkdtempSync(join(tmpdir(), 'fapiao-witness-'));
      dirs.push(dir);
      witnesses.push(await startWitness({
        host: '127.0.0.1', port: 0, stateDir: dir, signer: generateNoteKey(name, 'cosignature/v1').signerKey,
        logs: [{ origin: kit.app.services.ledgerKeys.origin, verifierKeys: [logKey] }],
      }));
    }
  });
  after(async () => {
    for (const w of witnesses) await w.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await kit.close();
  });

  void it('is cosigned by two witnesses, first from nothing and then with a consistency proof', async () => {
    await issue(5);
    const first = await checkpoint();
    const proofFrom = (to: number) => (from: number) => proveConsistency(kit.app.uow.read.ledger, from, to);
    let note = first.note;
    for (const w of witnesses) {
      note = addSignatureLines(note, await cosignCheckpoint(w.url, first.note, { oldSize: 0, proofFrom: proofFrom(first.size), witness: verifierFromKey(w.verifierKey) }));
    }
    const opened = openNote(note, witnesses.map((w) => verifierFromKey(w.verifierKey)));
    assert.equal(opened.verified.length, 2);

    await issue(300);
    const grown = await checkpoint();
    assert.equal(grown.size, 305);
    for (const w of witnesses) {
      const lines = await cosignCheckpoint(w.url, grown.note, { oldSize: first.size, proofFrom: proofFrom(grown.size), witness: verifierFromKey(w.verifierKey) });
      assert.match(lines, new RegExp(`^\u2014 ${w.name} `));
    }
  });

  void it('is refused when the log shows the witness a fork of a tree it cosigned', async () => {
    const latest = (await kit.app.uow.read.ledger.latestCheckpoint())!;
    const signer = await kit.app.services.ledgerKeys.activeSigner();
    const fork = signCheckpoint({ origin: signer.name, size: latest.size, rootHash: new Uint8Array(32).fill(9), extensions: [] }, [signer]);
    await assert.rejects(
      cosignCheckpoint(witnesses[0]!.url, fork, { oldSize: latest.size, proofFrom: async () => [] }),
      (e: unknown) => e instanceof WitnessRequestError && e.status === 422 && e.code === 'WITNESS_ROOT_MISMATCH',
    );
  });
});
