// The integrator with witnesses (docs/ledger.md "Witnesses of the log"): two real `fapiao ledger witness`
// processes on loopback cosign each new checkpoint, which is then served with both cosignature lines; with k of
// n unmet (a witness stopped) the new checkpoint waits and the last one that met the policy stays served, until
// the witness is back. Also: a missing leaf stops integration at its index, loudly, and old checkpoints are pruned.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Integrator, LedgerIntegrityError } from '../../src/modules/ledger/app/integrator.ts';
import { LedgerService } from '../../src/modules/ledger/app/ledger-service.ts';
import { openNote } from '../../src/modules/ledger/app/notes.ts';
import { verifierFromKey } from '../../src/modules/ledger/app/note-keys.ts';
import { witnessPolicyOf } from '../../src/server-services.ts';
import { loadConfig } from '../../src/config/config.ts';
import type { Tenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import { draft, SELLER, useCases, type Kit } from '../usecases/kit.ts';
import { runCli } from '../helpers/spawn-server.ts';

const BIN = new URL('../../bin/fapiao.js', import.meta.url).pathname;

interface WitnessProc { proc: ChildProcess; url: string; verifierKey: string; stop(): Promise<void> }

function startWitnessProcess(stateDir: string, keyFile: string, log: string, listen: string): Promise<WitnessProc> {
  const proc = spawn(process.execPath, [BIN, 'ledger', 'witness', '--state-dir', stateDir, '--key-file', keyFile, '--log', log, '--listen', listen], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout });
    let err = '';
    proc.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    proc.once('exit', (code) => reject(new Error(`witness exited ${code}: ${err}`)));
    lines.once('line', (l) => {
      const { url, verifierKey } = JSON.parse(l) as { url: string; verifierKey: string };
      resolve({
        proc, url, verifierKey,
        stop: () => new Promise((done) => {
          proc.removeAllListeners('exit');
          if (proc.exitCode !== null || proc.signalCode !== null) return done();
          proc.once('exit', () => done());
          proc.kill('SIGTERM');
        }),
      });
    });
  });
}

void describe('ledger witnesses: k of n', () => {
  let kit: Kit;
  let tenant: Tenant;
  const dirs: string[] = [];
  const procs: WitnessProc[] = [];
  const keyFiles: string[] = [];
  let log: string;

  const issue = (n: number) => Promise.all(Array.from({ length: n }, () => kit.app.services.invoices.issue(tenant, draft(), { replayStatus: 201 })));
  const served = () => new LedgerService(kit.app.uow).checkpoint();
  const integrator = (quorum: number) => new Integrator({
    uow: kit.app.uow, clock: kit.clock, origin: kit.app.services.ledgerKeys.origin,
    signers: async () => [await kit.app.services.ledgerKeys.activeSigner()],
    witnesses: {
      witnesses: procs.map((w) => ({ url: w.url, verifier: verifierFromKey(w.verifierKey) })),
      quorum, timeoutMs: 3000,
    },
  });

  before(async () => {
    kit = await useCases();
    await kit.app.services.integrator.stop();
    tenant = (await kit.app.services.tenants.create(SELLER)).tenant;
    log = `${kit.app.services.ledgerKeys.origin}=${(await kit.app.services.ledgerKeys.list())[0]!.verifierKey}`;
    for (const name of ['witness-a.example', 'witness-b.example']) {
      const dir = mkdtempSync(join(tmpdir(), 'fapiao-wpolicy-'));
      dirs.push(dir);
      const keyFile = join(dir, 'witness.key');
      keyFiles.push(keyFile);
      const made = await runCli(['ledger', 'witness-key', name, keyFile], {});
      assert.equal(made.code, 0, made.stderr);
      procs.push(await startWitnessProcess(join(dir, 'state'), keyFile, log, '127.0.0.1:0'));
    }
  });
  after(async () => {
    for (const w of procs) await w.stop();
    await kit.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  void it('serves each new checkpoint with the cosignatures of both witnesses', async () => {
    const job = integrator(2);
    await issue(3);
    const first = await job.integrateOnce();
    assert.equal(first.outcome, 'witnessed');
    assert.ok(first.outcome === 'witnessed' && first.published);
    const cp = (await served())!;
    assert.equal(cp.treeSize, 3);
    const opened = openNote(cp.checkpoint, procs.map((w) => verifierFromKey(w.verifierKey)));
    assert.deepEqual(opened.verified.map((s) => s.name).sort(), ['witness-a.example', 'witness-b.example']);
    // The log's own signature is still there.
    openNote(cp.checkpoint, await kit.app.services.ledgerKeys.verifiers());

    // Grown: cosigned with a consistency proof from the size each witness knows.
    await issue(40);
    const grown = await job.integrateOnce();
    assert.ok(grown.outcome === 'witnessed' && grown.published);
    assert.equal((await served())!.treeSize, 43);
    assert.equal(openNote((await served())!.checkpoint, procs.map((w) => verifierFromKey(w.verifierKey))).verified.length, 2);
  });

  void it('keeps serving the last checkpoint that met the policy while k of n is unmet, then catches up', async () => {
    const before = (await served())!;
    const port = new URL(procs[1]!.url).port;
    await procs[1]!.stop();
    await issue(5);
    const job = integrator(2);
    const r = await job.integrateOnce();
    assert.equal(r.outcome, 'witnessed');
    assert.ok(r.outcome === 'witnessed' && !r.published);
    assert.deepEqual(r.outcome === 'witnessed' && r.cosigned, ['witness-a.example']);
    assert.deepEqual(await served(), before, 'the old checkpoint is still served');
    // Proofs are answered against the served checkpoint: a new invoice is still pending there.
    const leaf = await kit.app.uow.read.ledger.leafOf((await issue(1))[0]!.number);
    assert.ok(leaf && leaf.index >= before.treeSize);
    // The policy 1 of 2 is met by the witness that is up.
    const lenient = await integrator(1).integrateOnce();
    assert.ok(lenient.outcome === 'witnessed' && lenient.published);
    assert.equal((await served())!.treeSize, before.treeSize + 6);

    // The witness comes back on its state directory: the strict policy is met again, with a proof from its old size.
    procs[1] = await startWitnessProcess(join(dirs[1]!, 'state'), keyFiles[1]!, log, `127.0.0.1:${port}`);
    await issue(2);
    const back = await integrator(2).integrateOnce();
    assert.ok(back.outcome === 'witnessed' && back.published, JSON.stringify(back));
    assert.equal((await served())!.treeSize, before.treeSize + 8);
  });

  void it('keeps at most two checkpoints: the newest and the newest served', async () => {
    assert.ok((await kit.app.uow.read.ledger.checkpointCount()) <= 2);
    await procs[1]!.stop();
    const job = integrator(2);
    for (let i = 0; i < 3; i++) {
      await issue(1);
      const r = await job.integrateOnce();
      assert.ok(r.outcome === 'witnessed' && !r.published);
    }
    assert.equal(await kit.app.uow.read.ledger.checkpointCount(), 2);
    const newest = (await kit.app.uow.read.ledger.latestCheckpoint())!;
    const servedNow = (await kit.app.uow.read.ledger.servedCheckpoint())!;
    assert.ok(!newest.published && servedNow.published && servedNow.size < newest.size);
  });

  void it('reports a missing leaf at its index instead of stalling silently', async () => {
    const job = new Integrator({
      uow: kit.app.uow, clock: kit.clock, origin: kit.app.services.ledgerKeys.origin,
      signers: async () => [await kit.app.services.ledgerKeys.activeSigner()],
    });
    const size = (await kit.app.uow.read.ledger.latestCheckpoint())!.size;
    await issue(3);
    await kit.app.storage.db.deleteFrom('ledger_leaves').where('idx', '=', size + 1).execute();
    await assert.rejects(job.integrateOnce(), (e: unknown) => e instanceof LedgerIntegrityError && e.message.startsWith(`leaf ${size + 1} is missing`));
    // Nothing was published past the gap.
    assert.equal((await kit.app.uow.read.ledger.latestCheckpoint())!.size, size);
  });

  void it('reads witnesses and the quorum from the configuration', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-wconf-'));
    dirs.push(dir);
    const config = (ledger: object) => {
      const c = loadConfig({ FAPIAO_DATA_DIR: dir }, dir);
      return { ...c, ledger: { ...c.ledger, ...ledger } };
    };
    assert.deepEqual(witnessPolicyOf(config({})), {});
    const ws = procs.map((w) => ({ url: w.url, verifierKey: w.verifierKey }));
    const p = witnessPolicyOf(config({ witnesses: ws }));
    assert.equal(p.witnesses?.quorum, 2);
    assert.equal(witnessPolicyOf(config({ witnesses: ws, witnessQuorum: 1 })).witnesses?.quorum, 1);
    assert.throws(() => witnessPolicyOf(config({ witnesses: ws, witnessQuorum: 3 })), /only 2 witnesses/);
    assert.throws(() => witnessPolicyOf(config({ witnesses: [{ url: ws[0]!.url, verifierKey: log.split('=')[1]! }] })), /not a cosignature\/v1 key/);
  });
});
