// Two witnesses, one in this process and one in a process of its own, cosigning a growing ledger, and refusing an
// older checkpoint, a fork (same size, another root) and an inconsistent proof with the tlog-witness status codes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { ed25519 as noble } from '@noble/curves/ed25519';
import { formatAuditHeadExtension } from '../../src/modules/ledger/domain/checkpoint.ts';
import { decodeTimestampedSignature } from '../../src/modules/ledger/domain/cosignature.ts';
import { encodeLeafEntry, leafEntryForInvoice } from '../../src/modules/ledger/domain/leaf-entry.ts';
import { parseNote, parseVerifierKey } from '../../src/modules/ledger/domain/signed-note.ts';
import { planAppend, proveConsistency } from '../../src/modules/ledger/domain/tiled-log.ts';
import { signCheckpoint } from '../../src/modules/ledger/app/checkpoints.ts';
import { generateNoteKey, signerFromKey, verifierFromKey, type NoteSigner } from '../../src/modules/ledger/app/note-keys.ts';
import { addSignatureLines, openNote } from '../../src/modules/ledger/app/notes.ts';
import { MemoryTileStore } from '../../src/modules/ledger/storage/memory-tile-store.ts';
import { formatAddCheckpointRequest } from '../../src/modules/ledger/witness/add-checkpoint-request.ts';
import { addCheckpoint, cosignCheckpoint, WitnessRequestError } from '../../src/modules/ledger/witness/witness-client.ts';
import { startWitness, type RunningWitness } from '../../src/modules/ledger/witness/witness-server.ts';

const ORIGIN = 'fapiao.test/ledger';

/** A ledger in memory: tiles, entries, and checkpoints signed with the log's keys. */
class TestLog {
  readonly store = new MemoryTileStore();
  size = 0;
  root: Uint8Array = new Uint8Array(32);
  constructor(
    private readonly signers: NoteSigner[],
    private readonly salt: string,
  ) {}

  async grow(to: number): Promise<void> {
    const entries: Uint8Array[] = [];
    for (let i = this.size; i < to; i++) {
      const number = `2631100${String(i + 1).padStart(13, '0')}`;
      const hash = createHash('sha256').update(`${this.salt}${i}`).digest('hex');
      entries.push(encodeLeafEntry(leafEntryForInvoice({ number, kind: 'blue', hash, signature: { keyId: 'sm2-0123456789abcdef', value: 'MEUCIQ==' } })));
    }
    const plan = await planAppend(this.store, this.size, entries);
    this.store.apply(plan);
    this.size = plan.newSize;
    this.root = plan.root;
  }

  checkpoint(): string {
    return signCheckpoint(
      { origin: ORIGIN, size: this.size, rootHash: this.root, extensions: [formatAuditHeadExtension({ seq: this.size * 2, hash: 'ab'.repeat(32) })] },
      this.signers,
    );
  }

  proofFrom(from: number): Promise<Uint8Array[]> {
    return proveConsistency(this.store, from, this.size);
  }
}

interface Child {
  proc: ChildProcess;
  url: string;
  verifierKey: string;
}

function spawnWitness(config: object): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', new URL('./run-witness.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'pipe'] });
  const errors: string[] = [];
  proc.stderr.on('data', (d: Buffer) => errors.push(d.toString()));
  proc.stdin.end(JSON.stringify(config));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`witness did not start: ${errors.join('')}`)), 30_000);
    proc.once('exit', (code) => reject(new Error(`witness exited with ${code}: ${errors.join('')}`)));
    createInterface({ input: proc.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const { url, verifierKey } = JSON.parse(line) as { url: string; verifierKey: string };
      resolve({ proc, url, verifierKey });
    });
  });
}

async function post(url: string, body: string): Promise<{ status: number; type: string; text: string; json: () => Record<string, unknown> }> {
  // A fresh connection each time (reset): this process blocks for seconds while it builds tiles, and a kept-alive
  // connection the witness closed meanwhile would be reset under the request.
  const res = await request(`${url}/add-checkpoint`, { method: 'POST', body, reset: true });
  const text = await res.body.text();
  return { status: res.statusCode, type: String(res.headers['content-type']), text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe('witnesses', () => {
  const dirs: string[] = [];
  const logKey = generateNoteKey(ORIGIN, 'ed25519');
  const logSm2 = generateNoteKey(ORIGIN, 'sm2');
  const signers = [signerFromKey(logKey.signerKey), signerFromKey(logSm2.signerKey)];
  const log = new TestLog(signers, 'honest');
  const keyA = generateNoteKey('witness-a.test/w1', 'cosignature/v1');
  const keyB = generateNoteKey('witness-b.test/w1', 'cosignature/v1');
  const logs = [{ origin: ORIGIN, verifierKeys: [logKey.verifierKey, logSm2.verifierKey] }];
  let a: RunningWitness;
  let b: Child;
  let dirA: string;
  let dirB: string;

  before(async () => {
    dirA = mkdtempSync(join(tmpdir(), 'fapiao-witness-a-'));
    dirB = mkdtempSync(join(tmpdir(), 'fapiao-witness-b-'));
    dirs.push(dirA, dirB);
    a = await startWitness({ stateDir: dirA, signer: keyA.signerKey, logs });
    b = await spawnWitness({ stateDir: dirB, signer: keyB.signerKey, logs });
    assert.equal(a.verifierKey, keyA.verifierKey);
    assert.equal(b.verifierKey, keyB.verifierKey);
  });

  after(async () => {
    await a?.close();
    if (b) {
      const exited = new Promise((r) => b.proc.once('exit', r));
      b.proc.kill('SIGTERM');
      await exited;
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const witnesses = () => [
    { url: a.url, vkey: keyA.verifierKey },
    { url: b.url, vkey: keyB.verifierKey },
  ];

  it('both cosign the checkpoints of a growing log', async () => {
    let known = 0;
    for (const size of [10, 300, 70_000]) {
      await log.grow(size);
      let note = log.checkpoint();
      for (const w of witnesses()) {
        const lines = await cosignCheckpoint(w.url, note, { oldSize: known, proofFrom: (from) => log.proofFrom(from), witness: verifierFromKey(w.vkey) });
        note = addSignatureLines(note, lines);
      }
      known = size;
      // The cosigned checkpoint: the log's two signatures and one cosignature per witness, all valid.
      const opened = openNote(note, [verifierFromKey(logKey.verifierKey), verifierFromKey(logSm2.verifierKey), verifierFromKey(keyA.verifierKey), verifierFromKey(keyB.verifierKey)]);
      assert.deepEqual(opened.verified.map((s) => s.name).sort(), [ORIGIN, ORIGIN, 'witness-a.test/w1', 'witness-b.test/w1']);
      // A cosignature checked without our code: Ed25519 over "cosignature/v1\ntime <t>\n" ‖ body (@noble/curves).
      const cosig = opened.verified.find((s) => s.name === 'witness-b.test/w1')!;
      const { timestamp, signature } = decodeTimestampedSignature(cosig.signature);
      assert.ok(Math.abs(timestamp - Date.now() / 1000) < 300);
      const message = Buffer.from(`cosignature/v1\ntime ${timestamp}\n${opened.text}`);
      assert.ok(noble.verify(signature, message, parseVerifierKey(keyB.verifierKey).typedKey.subarray(1), { zip215: false }));
    }
    // The state is on disk, and the monitoring endpoint serves the cosigned checkpoint.
    const state = JSON.parse(readFileSync(join(dirA, 'state.json'), 'utf8'));
    assert.equal(state.logs[ORIGIN].size, 70_000);
    assert.equal(state.logs[ORIGIN].rootHash, Buffer.from(log.root).toString('base64'));
    const hash = createHash('sha256').update(ORIGIN).digest('hex');
    const res = await request(`${b.url}/${hash}/checkpoint`, { reset: true });
    assert.equal(res.statusCode, 200);
    const served = await res.body.text();
    const opened = openNote(served, [verifierFromKey(logKey.verifierKey), verifierFromKey(keyB.verifierKey)]);
    assert.equal(opened.verified.length, 2);
    assert.equal(parseNote(served).text.split('\n')[1], '70000');
    const none = await request(`${b.url}/${'0'.repeat(64)}/checkpoint`, { reset: true });
    assert.equal(none.statusCode, 404);
    await none.body.dump();
  });

  it('answer 409 with the known size as text/x.tlog.size', async () => {
    for (const w of witnesses()) {
      const r = await post(w.url, formatAddCheckpointRequest(0, [], log.checkpoint()));
      assert.equal(r.status, 409);
      assert.equal(r.type, 'text/x.tlog.size');
      assert.equal(r.text, '70000\n');
      assert.deepEqual(await addCheckpoint(w.url, 10, await log.proofFrom(10), log.checkpoint()), { status: 'conflict', knownSize: 70_000 });
    }
  });

  it('refuse an older checkpoint', async () => {
    const older = new TestLog(signers, 'honest');
    await older.grow(300);
    const note = older.checkpoint();
    for (const w of witnesses()) {
      // Claiming the witness knows 300: the old size is not what it cosigned.
      const stale = await post(w.url, formatAddCheckpointRequest(300, [], note));
      assert.equal(stale.status, 409);
      assert.equal(stale.text, '70000\n');
      // Claiming the truth: an old size above the checkpoint's size is a bad request.
      const back = await post(w.url, formatAddCheckpointRequest(70_000, [], note));
      assert.equal(back.status, 400);
      assert.equal(back.json().code, 'WITNESS_OLD_SIZE_TOO_LARGE');
    }
  });

  it('refuse a fork: the same size with another root, or a proof from another tree', async () => {
    const fork = new TestLog(signers, 'forked');
    await fork.grow(70_000);
    for (const w of witnesses()) {
      const same = await post(w.url, formatAddCheckpointRequest(70_000, [], fork.checkpoint()));
      assert.equal(same.status, 422);
      assert.equal(same.json().code, 'WITNESS_ROOT_MISMATCH');
    }
    await fork.grow(70_500);
    const forkProof = await fork.proofFrom(70_000);
    for (const w of witnesses()) {
      const r = await post(w.url, formatAddCheckpointRequest(70_000, forkProof, fork.checkpoint()));
      assert.equal(r.status, 422);
      assert.equal(r.json().code, 'WITNESS_PROOF_INVALID');
      await assert.rejects(addCheckpoint(w.url, 70_000, forkProof, fork.checkpoint()), (e: unknown) => e instanceof WitnessRequestError && e.status === 422);
    }
    // The refused checkpoints were validly signed by the log: each witness kept every one as evidence.
    for (const dir of [dirA, dirB]) {
      const evidence = readdirSync(join(dir, 'evidence'));
      assert.equal(evidence.filter((f) => f.includes('-fork-')).length, 1);
      assert.equal(evidence.filter((f) => f.includes('-inconsistent-')).length, 2);
    }
    // The honest log is still cosigned from where it was.
    await log.grow(70_500);
    for (const w of witnesses()) {
      const r = await addCheckpoint(w.url, 70_000, await log.proofFrom(70_000), log.checkpoint());
      assert.equal(r.status, 'cosigned');
    }
  });

  it('refuse unknown logs, bad signatures and malformed requests', async () => {
    const stranger = generateNoteKey('fapiao.test/other', 'ed25519');
    const strangerNote = signCheckpoint({ origin: 'fapiao.test/other', size: 0, rootHash: createHash('sha256').digest(), extensions: [] }, [signerFromKey(stranger.signerKey)]);
    const impostor = generateNoteKey(ORIGIN, 'ed25519');
    const forged = signCheckpoint({ origin: ORIGIN, size: log.size, rootHash: log.root, extensions: [] }, [signerFromKey(impostor.signerKey)]);
    const good = log.checkpoint();
    const lines = good.split('\n');
    const sigAt = lines.findIndex((l) => l.startsWith('\u2014 '));
    const corrupted = [...lines.slice(0, sigAt), lines[sigAt]!.slice(0, 40) + (lines[sigAt]![40] === 'A' ? 'B' : 'A') + lines[sigAt]!.slice(41), ...lines.slice(sigAt + 1)].join('\n');
    const proof = await log.proofFrom(70_000);
    const cases: [string, number, string][] = [
      [formatAddCheckpointRequest(0, [], strangerNote), 404, 'WITNESS_UNKNOWN_LOG'],
      [formatAddCheckpointRequest(70_500, [], forged), 403, 'WITNESS_SIGNATURE_INVALID'],
      [formatAddCheckpointRequest(70_500, [], corrupted), 403, 'WITNESS_SIGNATURE_INVALID'],
      [`old 070500\n\n${good}`, 400, 'WITNESS_REQUEST_MALFORMED'],
      [`old 70500\n${good}`, 400, 'WITNESS_REQUEST_MALFORMED'],
      [`old 70500\nnot-a-hash\n\n${good}`, 400, 'WITNESS_REQUEST_MALFORMED'],
      [`new 70500\n\n${good}`, 400, 'WITNESS_REQUEST_MALFORMED'],
      [`old 70500\n${'AAAA\n'.repeat(64)}\n${good}`, 400, 'WITNESS_REQUEST_MALFORMED'],
      [`old 70500\n\n${good.replace('\n\n', '\n')}`, 400, 'WITNESS_CHECKPOINT_MALFORMED'],
      [formatAddCheckpointRequest(70_000, proof, good), 409, ''],
    ];
    for (const [body, status, code] of cases) {
      const r = await post(a.url, body);
      assert.equal(r.status, status, `${code}: ${r.text}`);
      if (code) {
        assert.equal(r.type, 'application/problem+json');
        assert.equal(r.json().code, code);
        assert.equal(r.json().status, status);
      }
    }
    const getIt = await request(`${a.url}/add-checkpoint`, { reset: true });
    assert.equal(getIt.statusCode, 405);
    assert.equal(getIt.headers.allow, 'POST');
    await getIt.body.dump();
    const huge = await post(a.url, `old 0\n\n${'x'.repeat(70_000)}`);
    assert.equal(huge.status, 413);
    // None of this moved the witness.
    assert.deepEqual(await addCheckpoint(a.url, 0, [], good), { status: 'conflict', knownSize: 70_500 });
  });

  it('cosign only one of two racing requests from the same old size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-witness-race-'));
    dirs.push(dir);
    const w = await startWitness({ stateDir: dir, signer: generateNoteKey('witness-race.test/w', 'cosignature/v1').signerKey, logs });
    try {
      const small = new TestLog(signers, 'honest');
      await small.grow(100);
      const big = new TestLog(signers, 'honest');
      await big.grow(200);
      const results = await Promise.all([addCheckpoint(w.url, 0, [], small.checkpoint()), addCheckpoint(w.url, 0, [], big.checkpoint())]);
      assert.deepEqual(results.map((r) => r.status).sort(), ['conflict', 'cosigned']);
      const winner = results[0].status === 'cosigned' ? 100 : 200;
      const loser = results.find((r) => r.status === 'conflict')!;
      assert.deepEqual(loser, { status: 'conflict', knownSize: winner });
      // The loser catches up with a proof from the winner's size, unless it is the smaller tree.
      if (winner === 100) assert.equal((await addCheckpoint(w.url, 100, await big.proofFrom(100), big.checkpoint())).status, 'cosigned');
    } finally {
      await w.close();
    }
  });

  it('keep their state across a restart and refuse a second process on the same directory', async () => {
    await assert.rejects(startWitness({ stateDir: dirA, signer: keyA.signerKey, logs }), /in use/);
    await a.close();
    a = await startWitness({ stateDir: dirA, signer: keyA.signerKey, logs });
    assert.deepEqual(await addCheckpoint(a.url, 0, [], log.checkpoint()), { status: 'conflict', knownSize: 70_500 });
    await log.grow(70_600);
    const lines = await cosignCheckpoint(a.url, log.checkpoint(), { oldSize: 0, proofFrom: (from) => log.proofFrom(from), witness: verifierFromKey(keyA.verifierKey) });
    assert.match(lines, /^\u2014 witness-a\.test\/w1 /);
  });

  it('refuse to start misconfigured', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-witness-bad-'));
    dirs.push(dir);
    await assert.rejects(startWitness({ stateDir: dir, signer: logKey.signerKey, logs }), /cosignature\/v1/);
    await assert.rejects(startWitness({ stateDir: dir, signer: keyA.signerKey, logs: [{ origin: ORIGIN, verifierKeys: [] }] }), /no verifier key/);
    await assert.rejects(startWitness({ stateDir: dir, signer: keyA.signerKey, logs: [{ origin: ORIGIN, verifierKeys: [keyB.verifierKey] }] }), /cosigner key/);
    // Each refusal released the directory.
    const w = await startWitness({ stateDir: dir, signer: keyA.signerKey, logs });
    await w.close();
  });
});
