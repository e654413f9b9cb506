// The 国密 option of the log (docs/ledger.md "Signed notes and signature algorithms"): with `ledger.sm2Signature`
// the server keeps a second, SM2-SM3 log key of the same name, publishes it, and signs every checkpoint with both
// keys. The SM2 line is checked with OpenSSL (an SM2 implementation that is not ours), a changed checkpoint fails
// under either key, a witness that knows only the Ed25519 key still cosigns, and the SM2 key rotates on its own.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../../src/modules/ledger/app/checkpoints.ts';
import { Integrator } from '../../src/modules/ledger/app/integrator.ts';
import { LedgerService } from '../../src/modules/ledger/app/ledger-service.ts';
import { generateNoteKey, SM2_TYPE, verifierFromKey } from '../../src/modules/ledger/app/note-keys.ts';
import { NoteVerificationError, openNote } from '../../src/modules/ledger/app/notes.ts';
import { verifyLedger } from '../../src/modules/ledger/app/verify-ledger.ts';
import { parseVerifierKey } from '../../src/modules/ledger/domain/signed-note.ts';
import { startWitness, type RunningWitness } from '../../src/modules/ledger/witness/witness-server.ts';
import { SM2_DEFAULT_USER_ID, rawToDer } from '../../src/platform/crypto/sm2.ts';
import { sm2PublicKeyToPem } from '../../src/platform/crypto/sm2-encoding.ts';
import type { Tenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import { createTestApp } from '../helpers/test-app.ts';
import { runCli } from '../helpers/spawn-server.ts';
import { draft, SELLER, useCases, type Kit } from '../usecases/kit.ts';

const sigLines = (note: string) => note.split('\n').filter((l) => l.startsWith('— '));
const noteText = (note: string) => note.slice(0, note.indexOf('\n\n') + 1);

const opensslSm2 = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-sm2-probe-'));
  const ok = spawnSync('openssl', ['genpkey', '-algorithm', 'SM2', '-out', join(dir, 'k.pem')]).status === 0;
  rmSync(dir, { recursive: true, force: true });
  return ok;
})();

/** OpenSSL's verdict on the SM2 signature line of `note` under the SM2 vkey. */
function opensslVerifiesSm2Line(note: string, vkey: string, text = noteText(note)): boolean {
  const { name, keyId, typedKey } = parseVerifierKey(vkey);
  assert.deepEqual(Buffer.from(typedKey.subarray(0, SM2_TYPE.length)), Buffer.from(SM2_TYPE));
  const publicKeyHex = Buffer.from(typedKey.subarray(SM2_TYPE.length)).toString('hex');
  const line = sigLines(note).map((l) => l.split(' ')).find(([, n, b64]) => n === name && Buffer.from(b64!, 'base64').readUInt32BE(0) === keyId);
  assert.ok(line, 'the checkpoint carries a line of the SM2 key');
  const raw = Buffer.from(line[2]!, 'base64').subarray(4);
  assert.equal(raw.length, 64, 'the SM2 signature is raw r ‖ s');
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-sm2-line-'));
  try {
    writeFileSync(join(dir, 'pub.pem'), sm2PublicKeyToPem(publicKeyHex));
    writeFileSync(join(dir, 'msg'), text);
    writeFileSync(join(dir, 'sig'), rawToDer(new Uint8Array(raw)));
    const r = spawnSync('openssl', ['pkeyutl', '-verify', '-rawin', '-digest', 'sm3', '-pubin', '-inkey', join(dir, 'pub.pem'),
      '-in', join(dir, 'msg'), '-sigfile', join(dir, 'sig'), '-pkeyopt', `distid:${SM2_DEFAULT_USER_ID}`], { encoding: 'utf8' });
    return r.status === 0 && r.stdout.includes('Signature Verified Successfully');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void describe('checkpoints with an SM2 line (ledger.sm2Signature)', () => {
  let kit: Kit;
  let tenant: Tenant;
  let edKey = '';
  let smKey = '';
  const keys = () => kit.app.services.ledgerKeys;
  const issueAndIntegrate = async (n: number) => {
    await Promise.all(Array.from({ length: n }, () => kit.app.services.invoices.issue(tenant, draft(), { replayStatus: 201 })));
    assert.equal((await kit.app.services.integrator.integrateOnce()).outcome, 'signed');
  };
  const latestNote = async () => (await kit.app.uow.read.ledger.latestCheckpoint())!.note;
  const opens = (note: string, vkeys: string[]) => openCheckpoint(note, keys().origin, vkeys.map(verifierFromKey));

  before(async () => {
    kit = await useCases({ FAPIAO_LEDGER_SM2: 'true' });
    await kit.app.services.integrator.stop();
    tenant = (await kit.app.services.tenants.create(SELLER)).tenant;
    await issueAndIntegrate(3);
  });
  after(() => kit.close());

  void it('keeps one active key per algorithm under the origin\'s name', async () => {
    const list = await keys().list();
    assert.deepEqual(list.map((k) => [k.alg, k.status]).sort(), [['ed25519', 'active'], ['sm2', 'active']]);
    edKey = list.find((k) => k.alg === 'ed25519')!.verifierKey;
    smKey = list.find((k) => k.alg === 'sm2')!.verifierKey;
    assert.equal(parseVerifierKey(edKey).name, keys().origin);
    assert.equal(parseVerifierKey(smKey).name, keys().origin);
    assert.notEqual(parseVerifierKey(edKey).keyId, parseVerifierKey(smKey).keyId);
  });

  void it('signs each checkpoint with both keys, Ed25519 first; either key alone verifies it', async () => {
    const note = await latestNote();
    const lines = sigLines(note);
    assert.equal(lines.length, 2);
    assert.equal(opens(note, [edKey]).checkpoint.size, 3);
    assert.equal(opens(note, [smKey]).checkpoint.size, 3);
    assert.equal(opens(note, [edKey, smKey]).note.verified.length, 2);
    const first = Buffer.from(lines[0]!.split(' ')[2]!, 'base64').readUInt32BE(0);
    assert.equal(first, parseVerifierKey(edKey).keyId, 'the Ed25519 line comes first');
  });

  void it('has an SM2 line that OpenSSL verifies, and that fails for a changed checkpoint', { skip: opensslSm2 ? false : 'openssl without SM2' }, async () => {
    const note = await latestNote();
    assert.equal(opensslVerifiesSm2Line(note, smKey), true);
    const changed = noteText(note).replace(/\n3\n/, '\n4\n');
    assert.notEqual(changed, noteText(note));
    assert.equal(opensslVerifiesSm2Line(note, smKey, changed), false);
  });

  void it('refuses a changed checkpoint under either key', async () => {
    const note = await latestNote();
    const forged = note.replace(/\n3\n/, '\n4\n');
    assert.throws(() => opens(forged, [edKey]), NoteVerificationError);
    assert.throws(() => opens(forged, [smKey]), NoteVerificationError);
  });

  void it('is cosigned by a witness that knows only the Ed25519 key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fapiao-sm2-witness-'));
    const wkey = generateNoteKey('witness-sm2.test/w', 'cosignature/v1');
    let w: RunningWitness | undefined;
    try {
      w = await startWitness({ stateDir: dir, signer: wkey.signerKey, logs: [{ origin: keys().origin, verifierKeys: [edKey] }] });
      const job = new Integrator({
        uow: kit.app.uow, clock: kit.clock, origin: keys().origin, signers: () => keys().signers(),
        witnesses: { witnesses: [{ url: w.url, verifier: verifierFromKey(wkey.verifierKey) }], quorum: 1, timeoutMs: 3000 },
      });
      await Promise.all(Array.from({ length: 2 }, () => kit.app.services.invoices.issue(tenant, draft(), { replayStatus: 201 })));
      const r = await job.integrateOnce();
      assert.ok(r.outcome === 'witnessed' && r.published);
      const served = (await new LedgerService(kit.app.uow).checkpoint())!;
      assert.equal(sigLines(served.checkpoint).length, 3, 'Ed25519, SM2 and the cosignature');
      assert.equal(openNote(served.checkpoint, [verifierFromKey(wkey.verifierKey)]).verified.length, 1);
      assert.equal(openNote(served.checkpoint, [verifierFromKey(edKey), verifierFromKey(smKey)]).verified.length, 2);
    } finally {
      await w?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('rotates the SM2 key alone: the old SM2 key co-signs during the window, the Ed25519 key is unchanged', async () => {
    const r = await keys().rotate({ actor: 'cli:test' }, 'sm2');
    assert.equal(r.retired.verifierKey, smKey);
    assert.equal(r.active.alg, 'sm2');
    await issueAndIntegrate(1);
    const note = await latestNote();
    assert.equal(sigLines(note).length, 3);
    for (const k of [edKey, smKey, r.active.verifierKey]) assert.ok(opens(note, [k]).checkpoint.size > 0);
    const list = await keys().list();
    assert.deepEqual(list.filter((k) => k.status === 'active').map((k) => k.verifierKey).sort(), [edKey, r.active.verifierKey].sort());
    const report = await verifyLedger(kit.app.uow.read.ledger, keys().origin, await keys().verifiers());
    assert.ok(report.ok, JSON.stringify(report.problems));
  });
});

void describe('GET /v1/keys with the SM2 log key', () => {
  void it('publishes both log verifier keys with their algorithm', async () => {
    const t = await createTestApp({ FAPIAO_LEDGER_SM2: 'true' });
    try {
      await t.app.services.ledgerKeys.ensureKeys();
      const res = await t.api.inject({ method: 'GET', url: '/v1/keys', remoteAddress: '198.18.9.9' });
      assert.equal(res.statusCode, 200);
      const ledger = res.json<{ ledger: { verifierKey: string; alg: string; status: string }[] }>().ledger;
      assert.deepEqual(ledger.map((k) => k.alg).sort(), ['ed25519', 'sm2']);
      for (const k of ledger) assert.equal(verifierFromKey(k.verifierKey).type, k.alg);
    } finally {
      await t.close();
    }
  });
});

void describe('fapiao init and ledger rotate-key --alg sm2', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-sm2-cli-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  void it('refuses --alg sm2 while the option is off, then makes and rotates the SM2 key', async () => {
    assert.equal((await runCli(['init'], { FAPIAO_DATA_DIR: dataDir })).code, 0);
    const off = await runCli(['ledger', 'rotate-key', '--alg', 'sm2'], { FAPIAO_DATA_DIR: dataDir });
    assert.notEqual(off.code, 0);
    assert.match(off.stderr, /ledger\.sm2Signature/);
    const env = { FAPIAO_DATA_DIR: dataDir, FAPIAO_LEDGER_SM2: 'true' };
    assert.equal((await runCli(['init'], env)).code, 0);
    const res = await runCli(['ledger', 'rotate-key', '--alg', 'sm2', '--json'], env);
    assert.equal(res.code, 0, res.stderr);
    const r = JSON.parse(res.stdout) as { active: { alg: string; status: string }; retired: { alg: string; status: string } };
    assert.deepEqual([r.active.alg, r.active.status, r.retired.alg, r.retired.status], ['sm2', 'active', 'sm2', 'retired']);
    const verify = await runCli(['ledger', 'verify'], env);
    assert.equal(verify.code, 0, verify.stderr);
  });
});
