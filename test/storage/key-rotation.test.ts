// Key rotation of personal data at rest on both engines (field-keys.ts, data-key-repository.ts,
// reencrypt-repository.ts, modules/keys/app/data-key-service.ts and reencrypt-job.ts): data-key rotation while issuing,
// the background job (interrupted, doubled, on pre-0003 plaintext rows), SM4 data keys, master-key rotation and search
// by phone after each. Rotations, re-encryption passes and retirement go through DataKeyService (which owns their units
// of work and audit entries), issuing through commitIssueBatch, every unit of work stamped with the test's clock.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FieldKeysOptions } from '../../src/platform/storage/field-keys.ts';
import { commitIssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import type { DataKeyService } from '../../src/modules/keys/app/data-key-service.ts';
import { ReencryptJob } from '../../src/modules/keys/app/reencrypt-job.ts';
import { storageEngines, type EngineFixture } from '../helpers/storage-engines.ts';
import { invoiceNumber, makeBatch, makeInvoice } from '../helpers/invoice-factory.ts';
import { dataKeyService, insertTenant, setBuyer, TestClock, uowNode, type UowNode } from '../helpers/uow-b.ts';

const PHONE = '13912345678';
const ID_NUMBER = '11010519491231002X';
const USCC = '91440300708461136T';
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
/** The time of every unit of work (it stands still: nothing here depends on time passing but the key cache's TTL). */
const T0 = '2026-11-24T06:03:05.123Z';
const clock = new TestClock(T0);

/** One node: its storage, unit of work and key use cases. */
interface KeyNode extends UowNode {
  keys: DataKeyService;
}

/** A batch whose buyers carry a phone, an e-mail, an address and (every other one) an ID-card tax ID. */
function personalBatch(tenantId: string, series: string, firstSeq: number, n: number, keyPrefix?: string) {
  const batch = makeBatch(tenantId, series, firstSeq, Array.from({ length: n }, (_, i) => ({
    buyerTaxId: i % 2 === 0 ? ID_NUMBER : USCC,
    ...(keyPrefix ? { idempotencyKey: `${keyPrefix}-${firstSeq + i}` } : {}),
  })));
  for (const item of batch.items) setBuyer(item, { phone: PHONE, email: 'buyer@example.com', address: `杭州 ${item.invoice.number}` });
  return batch;
}

async function issue(s: KeyNode, tenantId: string, series: string, firstSeq: number, n: number, keyPrefix?: string): Promise<void> {
  const r = await commitIssueBatch(s.uow, clock.now(), personalBatch(tenantId, series, firstSeq, n, keyPrefix));
  assert.ok(r.ok, 'issued');
}

/** Runs passes until one moves nothing. */
async function drain(s: KeyNode, batchSize = 50): Promise<number> {
  let total = 0;
  for (;;) {
    let moved = 0;
    for await (const b of s.keys.reencryptPass(batchSize)) {
      assert.deepEqual(b.failures, []);
      moved += b.moved;
    }
    total += moved;
    if (moved === 0) return total;
  }
}

/** Every envelope version named in stored documents and bodies of a tenant. */
async function envelopeVersions(s: KeyNode, tenantId: string): Promise<Set<string>> {
  const { db } = s.storage;
  const docs = await db.selectFrom('invoices').select('document').where('tenant_id', '=', tenantId).execute();
  const bodies = await db.selectFrom('idempotency_keys').select('body').where('tenant_id', '=', tenantId).execute();
  const found = new Set<string>();
  for (const text of [...docs.map((d) => d.document), ...bodies.map((b) => b.body)]) {
    for (const m of text.matchAll(/f1\.([a-z0-9-]+)\.([0-9]+)\./g)) found.add(`${m[1]}/${m[2]}`);
  }
  return found;
}

async function checkAll(s: KeyNode, tenantId: string, series: string, count: number): Promise<void> {
  for (let seq = 1; seq <= count; seq++) {
    const inv = await s.uow.read.invoices.get(tenantId, invoiceNumber(series, seq));
    assert.ok(inv, `invoice ${seq}`);
    assert.equal(inv.buyer.phone, PHONE);
    assert.equal(inv.buyer.address, `杭州 ${inv.number}`);
    assert.equal(inv.buyer.taxId, (seq - 1) % 2 === 0 ? ID_NUMBER : USCC);
  }
}

async function phoneHits(s: KeyNode, tenantId: string): Promise<number> {
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = await s.uow.read.invoices.search(tenantId, { limit: 500, buyerPhone: '+86 139-1234-5678', ...(cursor ? { cursor } : {}) });
    n += page.items.length;
    cursor = page.nextCursor;
  } while (cursor);
  return n;
}

/** A node as the composition root makes one: field keys stamped by the clock, the key use cases over its unit of work. */
function openNode(fixture: EngineFixture, masterKey: Uint8Array, protection: FieldKeysOptions = {}): KeyNode {
  const node = uowNode(fixture.open({ masterKey, protection: { clock, ...protection } }));
  return { ...node, keys: dataKeyService(node, clock) };
}

for (const fixture of await storageEngines()) {
  void describe(`key rotation: ${fixture.engine}`, { skip: fixture.skip }, () => {
    const k1 = new Uint8Array(randomBytes(32));
    const k2 = new Uint8Array(randomBytes(32));
    const open: KeyNode[] = [];
    const node = (masterKey: Uint8Array, protection: FieldKeysOptions = {}): KeyNode => {
      const n = openNode(fixture, masterKey, protection);
      open.push(n);
      return n;
    };
    let s: KeyNode;
    before(async () => {
      s = node(k1, { currentKeyTtlMs: 50 });
      await s.storage.migrate();
      for (const id of ['t-a', 't-b', 't-c', 't-sm4', 't-old']) await insertTenant(s.uow, clock.now(), { id, name: id, taxId: USCC, regionCode: '31', channel: '0' });
    });
    after(async () => {
      for (const x of open) await x.storage.close();
      await fixture.cleanup();
    });

    void it('rotates while 200 invoices are issued in parallel with the job running; the old key retires', async () => {
      await issue(s, 't-a', '26110', 1, 10, 'ka');
      const job = new ReencryptJob({ work: s.keys, log: silent, batchSize: 25, idleMs: 10, retireGraceMs: 0 });
      job.start();
      const issuing = Array.from({ length: 20 }, (_, i) => issue(s, 't-a', `26${20 + i}0`, 1, 10, `k${i}`));
      const rotated = s.keys.rotate('t-a', { algorithm: 'aes-256-gcm' }, { actor: 'test' });
      try {
        await Promise.all([...issuing, rotated]);
      } finally {
        await job.stop();
      }
      assert.equal((await rotated).version, 2);
      assert.equal((await rotated).createdAt, T0);
      await drain(s);
      assert.deepEqual(await s.keys.retireDrained(new Date(clock.now().getTime() + 1000).toISOString()), [{ tenantId: 't-a', version: 1 }]);
      const status = await s.keys.status('t-a');
      assert.deepEqual(status.keys.map((k) => [k.version, k.status]), [[1, 'retired'], [2, 'active']]);
      assert.equal(status.pending, 0);
      assert.deepEqual([...await envelopeVersions(s, 't-a')], ['aes-256-gcm/2']);
      await checkAll(s, 't-a', '26110', 10);
      for (let i = 0; i < 20; i++) await checkAll(s, 't-a', `26${20 + i}0`, 10);
      assert.equal(JSON.parse((await s.uow.read.idempotency.get('t-a', 'k3-5'))!.body).buyer.phone, PHONE);
      assert.equal(await phoneHits(s, 't-a'), 210);
      // The rotation's audit entry is DataKeyService's, in the rotation's unit of work.
      const audit = await s.uow.read.audit.list({ action: 'datakey.rotate', limit: 10 });
      assert.equal(audit.length, 1);
      assert.equal(audit[0]!.tenantId, 't-a');
      assert.equal(audit[0]!.actor, 'test');
      assert.equal(audit[0]!.at, T0);
      assert.deepEqual(JSON.parse(audit[0]!.details!), { version: 2, alg: 'aes-256-gcm', previousVersion: 1 });
    });

    void it('resumes after an interrupted pass, and two jobs at once never corrupt a row', async () => {
      await issue(s, 't-b', '27310', 1, 60, 'kb');
      await s.keys.rotate('t-b', { algorithm: 'aes-256-gcm' });
      // Interrupted: one batch committed, then the process "dies" (the generator is abandoned).
      for await (const b of s.keys.reencryptPass(10)) {
        assert.equal(b.moved, 10);
        break;
      }
      assert.equal((await s.keys.status('t-b')).pending, 110);
      // A restarted node and a second node share the rest. Two SQLite connections of one process cannot interleave
      // write transactions (better-sqlite3 waits for the lock synchronously), so there the second node runs after.
      const n1 = node(k1);
      const n2 = node(k1);
      const [a, b] = fixture.engine === 'postgres'
        ? await Promise.all([drain(n1, 7), drain(n2, 7)])
        : [await drain(n1, 7), await drain(n2, 7)];
      assert.equal(a + b, 110);
      assert.equal((await s.keys.status('t-b')).pending, 0);
      assert.deepEqual([...await envelopeVersions(s, 't-b')], ['aes-256-gcm/2']);
      await checkAll(n2, 't-b', '27310', 60);
    });

    void it('encrypts and indexes a plaintext row written before field protection', async () => {
      const inv = { ...makeInvoice(invoiceNumber('27410', 1), { buyerTaxId: ID_NUMBER }), ledger: { index: 999_001 } };
      Object.assign(inv.buyer, { phone: PHONE, email: 'old@example.com' });
      await s.storage.db.insertInto('invoices').values({
        tenant_id: 't-old', number: inv.number, type: inv.type, kind: inv.kind, status: inv.status, issue_date: inv.issueDate,
        issued_at: inv.issuedAt, buyer_name: inv.buyer.name, buyer_tax_id: ID_NUMBER, total: inv.totals.total, total_cents: 11300,
        external_id: null, original_number: null, hash: inv.hash, key_id: 'key-1', document: JSON.stringify(inv), ledger_index: 999_001,
        created_at: '2025-01-01T00:00:00.000Z', updated_at: '2025-01-01T00:00:00.000Z',
      }).execute();
      assert.equal(await phoneHits(s, 't-old'), 0);
      assert.equal(await drain(s), 1);
      const row = await s.storage.db.selectFrom('invoices').selectAll().where('number', '=', inv.number).executeTakeFirstOrThrow();
      assert.ok(!row.document.includes(PHONE) && !row.document.includes(ID_NUMBER) && !row.document.includes('old@example.com'));
      assert.equal(row.buyer_tax_id, null);
      assert.equal(row.data_key_version, 1);
      assert.match(row.buyer_phone_bidx ?? '', /^[0-9a-f]{32}$/);
      assert.equal(row.updated_at, '2025-01-01T00:00:00.000Z');
      assert.equal(JSON.stringify(await s.uow.read.invoices.get('t-old', inv.number)), JSON.stringify(inv));
      assert.equal(await phoneHits(s, 't-old'), 1);
      assert.equal((await s.uow.read.invoices.search('t-old', { limit: 5, buyerTaxId: ID_NUMBER })).items.length, 1);
    });

    void it('uses SM4-GCM data keys end to end, and rotates from SM4 to AES', async () => {
      const sm4 = node(k1, { alg: 'sm4-gcm' });
      await issue(sm4, 't-sm4', '27510', 1, 6, 'ks');
      assert.deepEqual([...await envelopeVersions(s, 't-sm4')], ['sm4-gcm/1']);
      await checkAll(s, 't-sm4', '27510', 6);
      assert.equal(await phoneHits(s, 't-sm4'), 6);
      await sm4.keys.rotate('t-sm4', { algorithm: 'aes-256-gcm' });
      await drain(sm4);
      assert.deepEqual([...await envelopeVersions(s, 't-sm4')], ['aes-256-gcm/2']);
      await sm4.keys.rotate('t-sm4', { algorithm: 'sm4-gcm' });
      await drain(s);
      assert.deepEqual([...await envelopeVersions(s, 't-sm4')], ['sm4-gcm/3']);
      await checkAll(s, 't-sm4', '27510', 6);
      assert.equal(await phoneHits(s, 't-sm4'), 6);
    });

    void it('rotates the master key; a restart with the new key (with or without the old one) reads and searches everything', async () => {
      await issue(s, 't-c', '27610', 1, 8, 'kc');
      // Every node is configured with k2 as current (version 2) and k1 as previous, then the keys are re-wrapped.
      const ring = new Map([[1, k1]]);
      const m2 = node(k2, { masterVersion: 2, previousMasterKeys: ring });
      await checkAll(m2, 't-c', '27610', 8);
      const r = await m2.keys.rotateMaster({ actor: 'test' });
      assert.equal(r.masterVersion, 2);
      assert.ok(r.dataKeys >= 5 && r.indexKeys >= 4, JSON.stringify(r));
      assert.deepEqual(await m2.keys.rotateMaster(), { masterVersion: 2, dataKeys: 0, indexKeys: 0, signingKeys: 0 });
      // Audited by DataKeyService when a stamp is given (the first rotation), not otherwise (the second).
      const masterAudit = await s.uow.read.audit.list({ action: 'masterkey.rotate', limit: 10 });
      assert.deepEqual(masterAudit.map((e) => [e.actor, e.target, e.at]), [['test', 'master-v2', T0]]);
      assert.deepEqual(JSON.parse(masterAudit[0]!.details!), r);
      const keys = await s.storage.db.selectFrom('tenant_data_keys').select('wrapped_key').execute();
      assert.ok(keys.every((k) => k.wrapped_key.split('.')[5] === '2'));
      for (const restarted of [node(k2, { masterVersion: 2, previousMasterKeys: ring }), node(k2, { masterVersion: 2 })]) {
        for (const [tenant, series, n] of [['t-c', '27610', 8], ['t-b', '27310', 60], ['t-sm4', '27510', 6]] as const) {
          await checkAll(restarted, tenant, series, n);
          assert.equal(await phoneHits(restarted, tenant), n);
        }
        assert.equal(await phoneHits(restarted, 't-a'), 210);
        assert.equal(JSON.parse((await restarted.uow.read.idempotency.get('t-c', 'kc-3'))!.body).buyer.phone, PHONE);
      }
      // A data-key rotation after the master rotation: search still finds the rows, before and after the job.
      const after2 = node(k2, { masterVersion: 2 });
      await after2.keys.rotate('t-c', { algorithm: 'aes-256-gcm' });
      await issue(after2, 't-c', '27610', 9, 2, 'kc');
      assert.equal(await phoneHits(after2, 't-c'), 10);
      await drain(after2);
      assert.equal(await phoneHits(after2, 't-c'), 10);
      await checkAll(after2, 't-c', '27610', 10);
      // The old master key alone opens nothing any more.
      const stale = node(k1);
      await assert.rejects(stale.uow.read.invoices.get('t-c', invoiceNumber('27610', 1)), /master key version 2 is not available/);
    });
  });
}
