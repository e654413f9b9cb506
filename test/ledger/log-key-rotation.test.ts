// Rotation of the log key (app/log-keys.ts, docs/ledger.md "Log key rotation"): the new key signs new checkpoints
// under the same key name (the origin) with another key ID; the previous key co-signs during the transition window
// and stays published afterwards, so checkpoints and proofs made before the rotation still verify; `ledger verify`
// passes; `GET /v1/keys` lists both with their status; the rotation is audited. Also `fapiao ledger rotate-key`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint } from '../../src/modules/ledger/app/checkpoints.ts';
import { LOG_KEY_TRANSITION_MS } from '../../src/modules/ledger/app/log-keys.ts';
import { verifierFromKey } from '../../src/modules/ledger/app/note-keys.ts';
import { NoteVerificationError } from '../../src/modules/ledger/app/notes.ts';
import { verifyLedger } from '../../src/modules/ledger/app/verify-ledger.ts';
import { parseVerifierKey } from '../../src/modules/ledger/domain/signed-note.ts';
import type { Tenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';
import { runCli } from '../helpers/spawn-server.ts';
import { draft, SELLER, useCases, type Kit } from '../usecases/kit.ts';

const sigLines = (note: string) => note.split('\n').filter((l) => l.startsWith('— '));

void describe('log key rotation', () => {
  let kit: Kit;
  let tenant: Tenant;
  let oldKey = '';
  let newKey = '';
  let before1 = '';
  const keys = () => kit.app.services.ledgerKeys;
  const issueAndIntegrate = async (n: number) => {
    const out = await Promise.all(Array.from({ length: n }, () => kit.app.services.invoices.issue(tenant, draft(), { replayStatus: 201 })));
    assert.equal((await kit.app.services.integrator.integrateOnce()).outcome, 'signed');
    return out;
  };
  const latestNote = async () => (await kit.app.uow.read.ledger.latestCheckpoint())!.note;
  const opens = (note: string, vkeys: string[]) => openCheckpoint(note, keys().origin, vkeys.map(verifierFromKey));

  before(async () => {
    kit = await useCases();
    await kit.app.services.integrator.stop();
    tenant = (await kit.app.services.tenants.create(SELLER)).tenant;
    await issueAndIntegrate(3);
    before1 = await latestNote();
    [oldKey] = (await keys().list()).map((k) => k.verifierKey) as [string];
  });
  after(() => kit.close());

  void it('makes a new active key under the origin\'s name, keeps the old one retired and published, and audits it', async () => {
    const r = await keys().rotate({ actor: 'cli:test' });
    newKey = r.active.verifierKey;
    assert.equal(r.retired.verifierKey, oldKey);
    assert.deepEqual((await keys().list()).map((k) => [k.verifierKey, k.status]), [[oldKey, 'retired'], [newKey, 'active']]);
    const [o, n] = [parseVerifierKey(oldKey), parseVerifierKey(newKey)];
    assert.equal(o.name, keys().origin);
    assert.equal(n.name, keys().origin);
    assert.notEqual(o.keyId, n.keyId);
    const audit = await kit.app.storage.db.selectFrom('audit_events').selectAll().where('action', '=', 'ledger.rotate-key').execute();
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actor, 'cli:test');
  });

  void it('signs with both keys during the transition window, then with the new key only', async () => {
    await issueAndIntegrate(2);
    const during = await latestNote();
    assert.equal(sigLines(during).length, 2);
    assert.equal(opens(during, [newKey]).checkpoint.size, 5);
    assert.equal(opens(during, [oldKey]).checkpoint.size, 5, 'a reader that knows only the old key still verifies');

    kit.clock.advance(LOG_KEY_TRANSITION_MS);
    await issueAndIntegrate(1);
    const afterWindow = await latestNote();
    assert.equal(sigLines(afterWindow).length, 1);
    assert.equal(opens(afterWindow, [newKey]).checkpoint.size, 6);
    assert.throws(() => opens(afterWindow, [oldKey]), NoteVerificationError);
    assert.equal(opens(afterWindow, [oldKey, newKey]).checkpoint.size, 6);
  });

  void it('still verifies the checkpoint signed before the rotation with the old key, and the whole log', async () => {
    assert.equal(opens(before1, [oldKey]).checkpoint.size, 3);
    assert.throws(() => opens(before1, [newKey]), NoteVerificationError);
    assert.equal(opens(before1, (await keys().list()).map((k) => k.verifierKey)).checkpoint.size, 3);
    const report = await verifyLedger(kit.app.uow.read.ledger, keys().origin, await keys().verifiers());
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
  });

  void it('refuses a second active key: a rotation races another on the same key', async () => {
    const { LogKeyConflictError } = await import('../../src/modules/ledger/app/log-keys.ts');
    const rotations = await Promise.allSettled([keys().rotate({ actor: 'a' }), keys().rotate({ actor: 'b' })]);
    for (const r of rotations) if (r.status === 'rejected') assert.ok(r.reason instanceof LogKeyConflictError, String(r.reason));
    assert.equal((await keys().list()).filter((k) => k.status === 'active').length, 1);
  });
});

void describe('GET /v1/keys after a log key rotation', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(() => t.close());

  void it('lists every published log verifier key with its status', async () => {
    const get = async () => (await t.api.inject({ method: 'GET', url: '/v1/keys', remoteAddress: '198.18.9.9' })).json<{ ledger: { verifierKey: string; status: string }[] }>().ledger;
    const [only] = await get();
    assert.equal(only!.status, 'active');
    const r = await t.app.services.ledgerKeys.rotate({ actor: 'cli:test' });
    assert.deepEqual((await get()).map((k) => [k.verifierKey, k.status]), [[only!.verifierKey, 'retired'], [r.active.verifierKey, 'active']]);
  });
});

void describe('fapiao ledger rotate-key', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-logkey-cli-'));
  const env = { FAPIAO_DATA_DIR: dataDir };
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  void it('rotates the key, prints both, and the log still verifies', async () => {
    assert.equal((await runCli(['init'], env)).code, 0);
    const res = await runCli(['ledger', 'rotate-key', '--json'], env);
    assert.equal(res.code, 0, res.stderr);
    const r = JSON.parse(res.stdout) as { active: { verifierKey: string; status: string }; retired: { verifierKey: string; status: string } };
    assert.equal(r.active.status, 'active');
    assert.equal(r.retired.status, 'retired');
    assert.notEqual(r.active.verifierKey, r.retired.verifierKey);
    const verify = await runCli(['ledger', 'verify'], env);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /^ok: /);
    const audit = await runCli(['audit', 'list', '--limit', '5'], env);
    assert.match(audit.stdout, /ledger\.rotate-key/);
  });
});
