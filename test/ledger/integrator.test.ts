// The integrator on the real composition root (SQLite in memory, manual clock): issued invoices' entries become the
// tree, stored as tiles equal to a tree built from scratch; each checkpoint is signed by the log key (checked here
// with node:crypto and @noble/curves from the published verifier key alone) and commits to the audit head; leaves
// written before 0009 are rebuilt from their invoices; a leaf whose entry does not hash to its leaf hash stops it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { ed25519 as noble } from '@noble/curves/ed25519';
import type { Tenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { buildAllTiles } from '../../src/modules/ledger/domain/tiles.ts';
import { decodeLeafEntry } from '../../src/modules/ledger/domain/leaf-entry.ts';
import { nextRoundDelay, type RoundResult } from '../../src/modules/ledger/app/integrator.ts';
import { draft, SELLER, useCases, type Kit } from '../usecases/kit.ts';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The signed note split by hand (https://c2sp.org/signed-note), independent of the production parser. */
function splitNote(note: string): { text: string; sigs: { name: string; keyId: Buffer; sig: Buffer }[] } {
  const at = note.lastIndexOf('\n\n');
  const text = note.slice(0, at + 1);
  const sigs = note.slice(at + 2).split('\n').filter((l) => l.length > 0).map((l) => {
    const m = /^\u2014 (\S+) (\S+)$/.exec(l);
    assert.ok(m, l);
    const raw = Buffer.from(m[2]!, 'base64');
    return { name: m[1]!, keyId: raw.subarray(0, 4), sig: raw.subarray(4) };
  });
  return { text, sigs };
}

/** Checks the log's Ed25519 line against a vkey `<name>+<hex id>+<base64(0x01 ‖ key)>` with two libraries. */
function checkSignature(note: string, vkey: string): void {
  const [, name, hexId, b64] = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey) as unknown as [string, string, string, string];
  const typed = Buffer.from(b64, 'base64');
  assert.equal(typed[0], 0x01);
  const pub = typed.subarray(1);
  assert.equal(createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`), typed])).digest().subarray(0, 4).toString('hex'), hexId);
  const { text, sigs } = splitNote(note);
  const mine = sigs.find((s) => s.name === name && s.keyId.toString('hex') === hexId);
  assert.ok(mine, 'the checkpoint carries the log key\'s signature');
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
  assert.ok(nodeVerify(null, Buffer.from(text), key, mine.sig), 'node:crypto verifies');
  assert.ok(noble.verify(new Uint8Array(mine.sig), new Uint8Array(Buffer.from(text)), new Uint8Array(pub)), '@noble/curves verifies');
  assert.ok(!nodeVerify(null, Buffer.from(text.replace(/\n(\d+)\n/, (_, n: string) => `\n${Number(n) + 1}\n`)), key, mine.sig), 'another size does not');
}

void describe('ledger integrator', () => {
  let kit: Kit;
  let tenant: Tenant;
  const integrate = (): Promise<RoundResult> => kit.app.services.integrator.integrateOnce();

  before(async () => {
    kit = await useCases();
    // The test drives the rounds itself.
    await kit.app.services.integrator.stop();
    tenant = (await kit.app.services.tenants.create(SELLER)).tenant;
  });
  after(() => kit.close());

  const issueMany = async (n: number): Promise<Invoice[]> => {
    const out = await Promise.all(Array.from({ length: n }, () => kit.app.services.invoices.issue(tenant, draft(), { replayStatus: 201 })));
    return out.map((r) => JSON.parse(r.json) as Invoice);
  };

  void it('stores each issued invoice\'s entry, whose hash is its leaf hash and which carries no buyer data', async () => {
    const [invoice] = await issueMany(1);
    const leaf = (await kit.app.uow.read.ledger.leafOf(invoice!.number))!;
    assert.equal(leaf.index, invoice!.ledger.index);
    const entry = Buffer.from(leaf.entry!, 'base64');
    assert.equal(createHash('sha256').update(Buffer.concat([Buffer.of(0), entry])).digest('hex'), leaf.leafHash);
    assert.deepEqual(decodeLeafEntry(entry), {
      kind: 'issued', number: invoice!.number, hash: invoice!.hash, keyId: invoice!.signature.keyId, signature: invoice!.signature.value,
    });
    assert.ok(!entry.includes(Buffer.from(invoice!.buyer.name)));
  });

  void it('integrates the sequenced leaves into tiles equal to a tree built from scratch, and signs a checkpoint', async () => {
    await issueMany(299);
    const r = await integrate();
    assert.equal(r.outcome, 'signed');
    if (r.outcome !== 'signed') return;
    assert.equal(r.checkpoint.size, 300);
    assert.equal(r.integrated, 300);
    const leaves = await kit.app.uow.read.ledger.leaves(0, 1000);
    const expected = await buildAllTiles(leaves.map((l) => new Uint8Array(Buffer.from(l.leafHash, 'hex'))));
    const stored = [];
    for await (const t of kit.app.uow.read.ledger.allTiles()) stored.push(t);
    assert.deepEqual(stored.map((t) => [t.level, t.index, t.width, Buffer.from(t.data).toString('hex')]),
      expected.map((t) => [t.level, t.index, t.width, Buffer.from(t.data).toString('hex')]));
    // Entry bundles: 256 entries, then 44.
    const full = (await kit.app.uow.read.ledger.readBundle(0, 256))!;
    const partial = (await kit.app.uow.read.ledger.readBundle(1, 44))!;
    assert.equal(await kit.app.uow.read.ledger.readBundle(1, 45), undefined);
    const entries = leaves.map((l) => Buffer.from(l.entry!, 'base64'));
    const bundle = (es: Buffer[]) => Buffer.concat(es.flatMap((e) => [Buffer.of(e.length >> 8, e.length & 0xff), e]));
    assert.deepEqual(Buffer.from(full), bundle(entries.slice(0, 256)));
    assert.deepEqual(Buffer.from(partial), bundle(entries.slice(256)));

    const { verifierKey } = (await kit.app.services.ledgerKeys.list())[0]!;
    checkSignature(r.checkpoint.note, verifierKey);
    const lines = splitNote(r.checkpoint.note).text.split('\n');
    assert.equal(lines[0], 'localhost');
    assert.equal(lines[1], '300');
    assert.equal(Buffer.from(lines[2]!, 'base64').toString('hex'), r.checkpoint.rootHash);
    const head = await kit.app.uow.read.audit.head();
    assert.equal(lines[3], `fapiao-audit-head ${head.seq} ${head.hash}`);
    assert.ok(head.seq >= 300);
  });

  void it('signs nothing new while idle, and again after the idle interval with the same tree', async () => {
    assert.deepEqual(await integrate(), { outcome: 'unchanged', size: 300 });
    kit.clock.advance(3600 * 1000);
    const r = await integrate();
    assert.equal(r.outcome, 'signed');
    if (r.outcome === 'signed') assert.equal(r.checkpoint.size, 300);
  });

  void it('rebuilds leaves written before the entries were stored from their invoices', async () => {
    const issued = await issueMany(3);
    const before = await kit.app.uow.read.ledger.leaves(300, 3);
    // As a row of before migration 0009: no entry, the older text leaf hash.
    await kit.app.storage.db.updateTable('ledger_leaves').set({ entry: null, leaf_hash: 'ee'.repeat(32) }).where('idx', '>=', 300).execute();
    const r = await integrate();
    assert.equal(r.outcome, 'signed');
    const afterRows = await kit.app.uow.read.ledger.leaves(300, 3);
    assert.deepEqual(afterRows, before);
    assert.equal(afterRows[0]!.number, issued.find((i) => i.ledger.index === 300)!.number);
  });

  void it('refuses to integrate a leaf whose entry does not hash to its stored leaf hash', async () => {
    await issueMany(1);
    await kit.app.storage.db.updateTable('ledger_leaves').set({ leaf_hash: 'ab'.repeat(32) }).where('idx', '=', 303).execute();
    await assert.rejects(integrate(), /leaf 303: the stored leaf hash is not the hash of its entry/);
    const latest = await kit.app.uow.read.ledger.latestCheckpoint();
    assert.equal(latest!.size, 303);
  });

  void it('waits at least the interval between checkpoints while growing, and the idle interval when not', () => {
    assert.equal(nextRoundDelay(10_000, undefined, false, 1000, 3_600_000), 0);
    assert.equal(nextRoundDelay(10_000, 9_800, true, 1000, 3_600_000), 800);
    assert.equal(nextRoundDelay(10_000, 5_000, true, 1000, 3_600_000), 0);
    assert.equal(nextRoundDelay(10_000, 9_800, false, 1000, 3_600_000), 3_599_800);
  });
});
