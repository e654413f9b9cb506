// The audit log's hash chain on every engine: gap-free seqs assigned in the writing transaction (also by issuance
// batches and by several writers at once), and verification that names the exact entry edited, deleted or moved.
// Entries are written the way the application writes them: through AuditService (record/append/purge), the tenant use
// cases (TenantService) and the issuing use case (commitIssueBatch), each in its own unit of work stamped with the
// test's clock.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Migrator, sql, type Selectable } from 'kysely';
import { AUDIT_GENESIS_HASH, auditEntryHash } from '../../src/modules/audit/domain/audit-chain.ts';
import type { AuditEventsTable } from '../../src/platform/storage/database.ts';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import { migrationsFor } from '../../src/platform/storage/migrations/index.ts';
import { AuditRetentionViolation, type AuditEntry } from '../../src/modules/audit/storage/audit-contract.ts';
import type { AuditService } from '../../src/modules/audit/app/audit-service.ts';
import { commitIssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { TenantService } from '../../src/modules/tenants/app/tenant-service.ts';
import { AppError } from '../../src/shared/errors.ts';
import { invoiceNumber, makeBatch } from '../helpers/invoice-factory.ts';
import { storageEngines, type EngineFixture } from '../helpers/storage-engines.ts';
import { auditService, TestClock, uowNode, type UowNode } from '../helpers/uow-b.ts';

const SERIES = '26310';
const DAY_MS = 86_400_000;
/** The time of every unit of work until a test moves the clock (the invoices' issuedAt, in UTC). */
const T0 = '2026-11-24T06:03:05.123Z';
/** The seller's tax ID of these fixtures has no valid check character: the tenant service is told to accept it. */
const SELLER_TAX_ID = '91310000MA1FL0000X';

function recomputed(e: AuditEntry): string {
  return auditEntryHash({
    seq: e.seq, prevHash: e.prevHash, at: e.at, tenantId: e.tenantId ?? null, actor: e.actor, action: e.action,
    target: e.target, outcome: e.outcome, ip: e.ip ?? null, details: e.details ?? null,
  });
}

for (const fixture of await storageEngines()) {
  void describe(`audit chain: ${fixture.engine}`, { skip: fixture.skip }, () => {
    const clock = new TestClock(T0);
    let s: StorageEngine;
    let node: UowNode;
    let svc: AuditService;
    let tenantSvc: TenantService;
    /** The tenant made by TenantService.create (its id is the service's choice). */
    let ta: string;
    before(async () => {
      s = fixture.open();
      await s.migrate();
      node = uowNode(s);
      svc = auditService(node, clock);
      tenantSvc = new TenantService({ uow: node.uow, clock, defaultChannel: '0', taxIdExceptions: [SELLER_TAX_ID] });
    });
    const audit = () => node.uow.read.audit;
    after(async () => {
      await s?.close();
      await fixture.cleanup();
    });

    const row = async (seq: number): Promise<Selectable<AuditEventsTable>> =>
      s.db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow();
    /** Puts a row's columns (other than id) back as they were. */
    const restore = async (r: Selectable<AuditEventsTable>): Promise<void> => {
      const { id: _id, ...cols } = r;
      const n = await s.db.updateTable('audit_events').set({ ...cols, seq: Number(cols.seq) }).where('id', '=', r.id).executeTakeFirst();
      if (n.numUpdatedRows === 0n) await s.db.insertInto('audit_events').values({ ...cols, seq: Number(cols.seq) }).execute();
    };

    void it('verifies an empty chain', async () => {
      assert.deepEqual(await svc.verifyChain(), { ok: true, count: 0, head: AUDIT_GENESIS_HASH });
      assert.deepEqual(await audit().head(), { seq: 0, hash: AUDIT_GENESIS_HASH });
    });

    void it('appends entries with consecutive seqs, each hashing its fields and the previous hash', async () => {
      const [a, b] = await svc.append([
        { actor: 'anonymous', action: 'auth.fail', target: '-', outcome: 'denied', ip: '198.51.100.7', details: { reason: 'unknown key', prefix: 'fp_live_AbC1' } },
        { actor: 'admin', action: 'ban.add', target: '198.51.100.0/24', outcome: 'success' },
      ]);
      assert.equal(a!.seq, 1);
      assert.equal(b!.seq, 2);
      assert.equal(a!.prevHash, AUDIT_GENESIS_HASH);
      assert.equal(b!.prevHash, a!.hash);
      assert.match(a!.at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      // Stamped with the unit of work's time, which is the service's clock (storage reads no clock).
      assert.equal(a!.at, T0);
      assert.equal(b!.at, T0);
      assert.equal(a!.hash, recomputed(a!));
      assert.deepEqual(JSON.parse(a!.details!), { reason: 'unknown key', prefix: 'fp_live_AbC1' });
      assert.equal(b!.tenantId, undefined);
      assert.deepEqual(await audit().list({ limit: 10 }), [a, b]);
      assert.deepEqual(await audit().head(), { seq: 2, hash: b!.hash });
      const one = await svc.record({ tenantId: 't-a', actor: 'admin', action: 'retention.set', target: 't-a', outcome: 'failure' });
      assert.equal(one.seq, 3);
      assert.equal(one.prevHash, b!.hash);
    });

    void it('chains admin changes and issuance batches in their own transactions', async () => {
      // The tenant and its first API key in one unit of work, with both entries (TenantService.create).
      const created = await tenantSvc.create({ name: '甲公司', taxId: SELLER_TAX_ID, regionCode: '31', channel: '0' }, { actor: 'cli:root', ip: '127.0.0.1' });
      ta = created.tenant.id;
      const [firstKey] = await tenantSvc.listApiKeys(ta);
      assert.ok(firstKey);
      const r1 = await commitIssueBatch(node.uow, clock.now(), makeBatch(ta, SERIES, 1, [{}, {}, {}]));
      assert.ok(r1.ok);
      await svc.record({ actor: 'admin', action: 'ban.lift', target: '198.51.100.0/24', outcome: 'success' });
      const r2 = await commitIssueBatch(node.uow, clock.now(), makeBatch(ta, SERIES, 4, [{}]));
      assert.ok(r2.ok);
      // Revoking a key the tenant does not have is refused, and the attempt is on the record.
      await assert.rejects(tenantSvc.revokeApiKey(ta, 'nope', { actor: 'cli:root' }), (e) => e instanceof AppError && e.code === 'API_KEY_NOT_FOUND');

      const all: AuditEntry[] = [];
      for await (const e of audit().scan(1, 3)) all.push(e);
      assert.deepEqual(all.map((e) => e.seq), Array.from({ length: all.length }, (_, i) => i + 1));
      for (let i = 1; i < all.length; i++) assert.equal(all[i]!.prevHash, all[i - 1]!.hash);
      assert.ok(all.every((e) => e.hash === recomputed(e)));
      assert.deepEqual(all.slice(3).map((e) => [e.action, e.target, e.outcome]), [
        ['tenant.create', ta, 'success'],
        ['apikey.create', firstKey.id, 'success'],
        ...[1, 2, 3].map((q) => ['invoice.issue', invoiceNumber(SERIES, q), 'success']),
        ['ban.lift', '198.51.100.0/24', 'success'],
        ['invoice.issue', invoiceNumber(SERIES, 4), 'success'],
        ['apikey.revoke', 'nope', 'failure'],
      ]);
      const issued = all.find((e) => e.action === 'invoice.issue')!;
      assert.equal(issued.actor, `apikey:${ta}`);
      assert.equal(issued.ip, '192.0.2.1');
      assert.equal(issued.tenantId, ta);
      assert.ok(all.every((e) => e.at === T0), 'every entry carries its unit of work\'s time');
      assert.deepEqual(await svc.verifyChain(), { ok: true, count: all.length, head: all.at(-1)!.hash });
    });

    void it('rolls the audit entries back with a refused batch', async () => {
      const head = await audit().head();
      assert.deepEqual(await commitIssueBatch(node.uow, clock.now(), makeBatch(ta, SERIES, 2, [{}])), { ok: false, reason: 'series-moved', nextSeq: 5 });
      assert.deepEqual(await audit().head(), head);
    });

    void it('keeps one gap-free chain under concurrent writers (two nodes on PostgreSQL)', async () => {
      // better-sqlite3 is synchronous: two connections in one process would wait on each other's lock with the event
      // loop blocked, so SQLite's writers here share the one connection (a second process is the CLI e2e case).
      const other = fixture.engine === 'postgres' ? uowNode(fixture.open()) : node;
      const otherSvc = auditService(other, clock);
      try {
        const head = await audit().head();
        const appends = [
          ...Array.from({ length: 15 }, (_, i) => svc.append([{ actor: 'n1', action: 'auth.fail', target: String(i), outcome: 'denied' }])),
          ...Array.from({ length: 15 }, (_, i) => otherSvc.append([{ actor: 'n2', action: 'auth.fail', target: String(i), outcome: 'denied' }, { actor: 'n2', action: 'ban.add', target: String(i), outcome: 'success' }])),
        ];
        const issuing = commitIssueBatch(node.uow, clock.now(), makeBatch(ta, SERIES, 5, [{}, {}]));
        await Promise.all([...appends, issuing]);
        assert.ok((await issuing).ok);
        assert.equal((await audit().head()).seq, head.seq + 15 + 30 + 2);
        const result = await svc.verifyChain();
        assert.ok(result.ok, JSON.stringify(result));
      } finally {
        if (other !== node) await other.storage.close();
      }
    });

    void it('lists by tenant, action, time and seq, either way round', async () => {
      const issues = await audit().list({ action: 'invoice.issue', limit: 100 });
      assert.equal(issues.length, 6);
      assert.ok(issues.every((e) => e.tenantId === ta));
      const newest = await audit().list({ limit: 2, order: 'desc' });
      assert.equal(newest[0]!.seq, (await audit().head()).seq);
      assert.equal(newest[1]!.seq, newest[0]!.seq - 1);
      assert.deepEqual((await audit().list({ afterSeq: 2, limit: 2 })).map((e) => e.seq), [3, 4]);
      assert.deepEqual((await audit().list({ beforeSeq: 3, order: 'desc', limit: 5 })).map((e) => e.seq), [2, 1]);
      assert.equal((await audit().list({ tenantId: ta, action: 'tenant.create', limit: 5 })).length, 1);
      assert.equal((await audit().list({ from: '2999-01-01', limit: 5 })).length, 0);
      assert.equal((await audit().list({ to: '2000-01-01', limit: 5 })).length, 0);
      const day = clock.now().toISOString().slice(0, 10);
      assert.ok((await svc.search({ from: `${day}T00:00:00+08:00`, limit: 1000 })).length > 0);
      assert.throws(() => svc.search({ limit: 0 }), /VALIDATION|limit/);
    });

    void it('names an edited entry', async () => {
      const original = await row(6);
      await s.db.updateTable('audit_events').set({ outcome: 'failure' }).where('seq', '=', 6).execute();
      assert.deepEqual(await svc.verifyChain(), { ok: false, seq: 6, problem: 'edited' });
      await restore(original);
      assert.ok((await svc.verifyChain()).ok);
      const first = await row(1);
      // Same JSON value, other text: the hash covers the stored text, so this is an edit too.
      await s.db.updateTable('audit_events').set({ details: '{"prefix":"fp_live_AbC1","reason":"unknown key"}' }).where('seq', '=', 1).execute();
      assert.deepEqual(await svc.verifyChain(), { ok: false, seq: 1, problem: 'edited' });
      await restore(first);
      assert.ok((await svc.verifyChain()).ok);
    });

    void it('names the first missing entry after a deletion, also at the tail', async () => {
      const gone = await row(4);
      await s.db.deleteFrom('audit_events').where('seq', '=', 4).execute();
      assert.deepEqual(await svc.verifyChain(), { ok: false, seq: 4, problem: 'missing' });
      await restore(gone);
      assert.ok((await svc.verifyChain()).ok);
      const head = await audit().head();
      const last = await row(head.seq);
      await s.db.deleteFrom('audit_events').where('seq', '=', head.seq).execute();
      assert.deepEqual(await svc.verifyChain(), { ok: false, seq: head.seq, problem: 'missing' });
      await restore(last);
      assert.ok((await svc.verifyChain()).ok);
    });

    void it('names a reordering at the exact entry', async () => {
      const a = await row(7);
      const b = await row(8);
      const { id: _a, seq: _sa, ...aCols } = a;
      const { id: _b, seq: _sb, ...bCols } = b;
      await s.db.updateTable('audit_events').set(bCols).where('id', '=', a.id).execute();
      await s.db.updateTable('audit_events').set(aCols).where('id', '=', b.id).execute();
      assert.deepEqual(await svc.verifyChain(), { ok: false, seq: 7, problem: 'reordered' });
      await restore(a);
      await restore(b);
      assert.ok((await svc.verifyChain()).ok);
    });

    void it('catches an entry rewritten with a recomputed hash: at the next link, or against the head', async () => {
      const original = await row(5);
      const forged = { ...(await audit().list({ afterSeq: 4, limit: 1 }))[0]!, outcome: 'failure' };
      await s.db.updateTable('audit_events').set({ outcome: 'failure', hash: recomputed(forged) }).where('seq', '=', 5).execute();
      assert.deepEqual(await svc.verifyChain(), { ok: false, seq: 6, problem: 'broken-link' });
      await restore(original);
      const head = await audit().head();
      const last = await row(head.seq);
      const tail = { ...(await audit().list({ afterSeq: head.seq - 1, limit: 1 }))[0]!, target: 'forged' };
      await s.db.updateTable('audit_events').set({ target: 'forged', hash: recomputed(tail) }).where('seq', '=', head.seq).execute();
      assert.deepEqual(await svc.verifyChain(), { ok: false, seq: head.seq, problem: 'edited' });
      await restore(last);
      assert.ok((await svc.verifyChain()).ok);
    });

    void it('refuses to purge entries younger than 180 days', async () => {
      // The retention is AuditService's policy (storage only deletes what it is told): 179 days before the clock's
      // now is refused as an AuditRetentionViolation, answered as VALIDATION_FAILED.
      const now = clock.now();
      const head = await audit().head();
      await assert.rejects(
        svc.purgeBefore(new Date(now.getTime() - 179 * DAY_MS).toISOString(), { actor: 'admin' }),
        (e) => e instanceof AppError && e.code === 'VALIDATION_FAILED' && e.cause instanceof AuditRetentionViolation,
      );
      await assert.rejects(svc.purgeBefore(now.toISOString()), /180 days/);
      assert.throws(() => auditService(node, clock, 90), /at least 180/);
      assert.equal(await audit().checkpoint(), undefined);
      assert.deepEqual(await audit().head(), head, 'a refused purge writes nothing, not even its audit entry');
    });

    void it('purges an old prefix and still verifies from the checkpoint', async () => {
      const head = await audit().head();
      // Pretend 400 days went by: everything so far is older than the retention.
      const later = clock.advance(400 * DAY_MS);
      const result = await svc.purgeExpired({ actor: 'cli:root' });
      assert.equal(result.purged, head.seq);
      assert.deepEqual(result.checkpoint && { seq: result.checkpoint.seq, hash: result.checkpoint.hash }, head);
      assert.equal(result.entry.seq, head.seq + 1);
      assert.equal(result.entry.action, 'audit.purge');
      assert.equal(result.entry.prevHash, head.hash);
      assert.equal(result.entry.at, later.toISOString());
      assert.equal(result.checkpoint?.purgedAt, later.toISOString());
      assert.equal(result.checkpoint?.cutoff, new Date(later.getTime() - 180 * DAY_MS).toISOString());
      assert.equal((await audit().list({ limit: 1000 })).length, 1);
      assert.deepEqual(await svc.verifyChain(), { ok: true, count: 1, head: result.entry.hash });

      // Nothing else is old enough: a second purge deletes nothing and keeps the checkpoint.
      const again = await svc.purgeExpired();
      assert.equal(again.purged, 0);
      assert.equal(again.checkpoint?.seq, head.seq);

      const [more] = await svc.append([{ actor: 'admin', action: 'ban.add', target: '203.0.113.9', outcome: 'success' }]);
      const ok = await svc.verifyChain();
      assert.deepEqual(ok, { ok: true, count: 3, head: more!.hash });
      // Deleting the first entry after the checkpoint is still caught.
      const first = await row(head.seq + 1);
      await s.db.deleteFrom('audit_events').where('seq', '=', head.seq + 1).execute();
      assert.deepEqual(await svc.verifyChain(), { ok: false, seq: head.seq + 1, problem: 'missing' });
      await restore(first);
      assert.ok((await svc.verifyChain()).ok);
    });
  });
}

/** The storage of a fixture and a unit-of-work node over it, opened before the suite's tests and closed after. */
function openedNode(fixture: EngineFixture): { s: StorageEngine; node: UowNode } {
  const opened = {} as { s: StorageEngine; node: UowNode };
  before(() => {
    opened.s = fixture.open();
    opened.node = uowNode(opened.s);
  });
  after(async () => {
    await opened.s?.close();
    await fixture.cleanup();
  });
  return opened;
}

for (const fixture of await storageEngines()) {
  void describe(`audit chain migration: ${fixture.engine}`, { skip: fixture.skip }, () => {
    const clock = new TestClock(T0);
    const opened = openedNode(fixture);

    void it('chains the entries written before 0002, in id order', async () => {
      const { s, node } = opened;
      const migrator = new Migrator({ db: s.db, provider: { getMigrations: () => Promise.resolve(migrationsFor(fixture.engine)) } });
      const { error } = await migrator.migrateTo('0001-create-core-tables');
      assert.equal(error, undefined);
      for (const target of ['26310000000000000001', '26310000000000000002']) {
        await sql`insert into audit_events (tenant_id, actor, action, target, outcome, ip, at) values ('t-a', 'system', 'invoice.issue', ${target}, 'success', null, '2026-01-01T00:00:00.000Z')`.execute(s.db);
      }
      await s.migrate();
      const entries = await node.uow.read.audit.list({ limit: 10 });
      assert.deepEqual(entries.map((e) => [e.seq, e.target]), [[1, '26310000000000000001'], [2, '26310000000000000002']]);
      assert.equal(entries[0]!.prevHash, AUDIT_GENESIS_HASH);
      assert.equal(entries[1]!.prevHash, entries[0]!.hash);
      assert.deepEqual(await node.uow.read.audit.head(), { seq: 2, hash: entries[1]!.hash });
      const svc = auditService(node, clock);
      const [next] = await svc.append([{ actor: 'admin', action: 'ban.add', target: '-', outcome: 'success' }]);
      assert.equal(next!.seq, 3);
      assert.deepEqual(await svc.verifyChain(), { ok: true, count: 3, head: next!.hash });
    });
  });
}

/** An entry's hash as the code before migration 0018 computed it: ten fields, no request id. */
function hashBefore0018(e: { seq: number; prevHash: string; at: string; tenantId: string | null; actor: string; action: string; target: string; outcome: string; ip: string | null; details: string | null }): string {
  return createHash('sha256')
    .update(JSON.stringify([e.seq, e.prevHash, e.at, e.tenantId, e.actor, e.action, e.target, e.outcome, e.ip, e.details]), 'utf8')
    .digest('hex');
}

for (const fixture of await storageEngines()) {
  void describe(`audit request ids (migration 0018): ${fixture.engine}`, { skip: fixture.skip }, () => {
    const clock = new TestClock(T0);
    const opened = openedNode(fixture);

    void it('keeps verifying entries written before 0018, and chains and covers the request ids of new ones', async () => {
      const { s, node } = opened;
      const migrator = new Migrator({ db: s.db, provider: { getMigrations: () => Promise.resolve(migrationsFor(fixture.engine)) } });
      assert.equal((await migrator.migrateTo('0017-document-settings')).error, undefined);
      // Written as the code before 0018 wrote them: no request_id column, hashes over ten fields.
      let prevHash = AUDIT_GENESIS_HASH;
      const old = [
        { tenantId: 't-a', actor: 'apikey:k1', action: 'invoice.issue', target: '26310000000000000001', outcome: 'success', ip: '192.0.2.1', details: null },
        { tenantId: null, actor: 'admin', action: 'ban.add', target: '198.51.100.0/24', outcome: 'success', ip: null, details: '{"reason":"manual"}' },
      ];
      for (const [i, e] of old.entries()) {
        const seq = i + 1;
        const at = `2026-01-0${seq}T00:00:00.000Z`;
        const hash = hashBefore0018({ seq, prevHash, at, ...e });
        await sql`insert into audit_events (seq, at, tenant_id, actor, action, target, outcome, ip, details, prev_hash, hash)
          values (${seq}, ${at}, ${e.tenantId}, ${e.actor}, ${e.action}, ${e.target}, ${e.outcome}, ${e.ip}, ${e.details}, ${prevHash}, ${hash})`.execute(s.db);
        await sql`update audit_state set head_seq = ${seq}, head_hash = ${hash} where id = 1`.execute(s.db);
        prevHash = hash;
      }
      await s.migrate();
      const svc = auditService(node, clock);
      assert.deepEqual(await svc.verifyChain(), { ok: true, count: 2, head: prevHash });

      const [withId, without] = await svc.append([
        { tenantId: 't-a', actor: 'apikey:k1', action: 'invoice.issue', target: '26310000000000000002', outcome: 'success', ip: '192.0.2.1', requestId: 'abc-123' },
        { actor: 'system', action: 'invoice-batch.complete', target: 'bat_1', outcome: 'success' },
      ]);
      assert.equal(withId!.requestId, 'abc-123');
      assert.equal(without!.requestId, undefined);
      assert.equal(without!.hash, hashBefore0018({ ...without!, tenantId: null, ip: null, details: null }), 'an entry without a request id hashes as before');
      assert.notEqual(withId!.hash, hashBefore0018({ ...withId!, tenantId: 't-a', ip: '192.0.2.1', details: null }), 'the request id is hashed');
      assert.deepEqual(await svc.verifyChain(), { ok: true, count: 4, head: without!.hash });
      assert.deepEqual((await svc.search({ limit: 10, requestId: 'abc-123' })).map((e) => e.seq), [3]);
      assert.deepEqual((await svc.search({ limit: 10 })).map((e) => e.requestId ?? null), [null, null, 'abc-123', null]);

      // The request id is part of the entry: adding one to an old entry, changing or removing a new one's is an edit.
      for (const [seq, value] of [[1, 'forged'], [3, 'abc-124'], [3, null]] as const) {
        const before = await s.db.selectFrom('audit_events').select('request_id').where('seq', '=', seq).executeTakeFirstOrThrow();
        await s.db.updateTable('audit_events').set({ request_id: value }).where('seq', '=', seq).execute();
        assert.deepEqual(await svc.verifyChain(), { ok: false, seq, problem: 'edited' }, `seq ${seq} → ${value}`);
        await s.db.updateTable('audit_events').set({ request_id: before.request_id }).where('seq', '=', seq).execute();
      }
      assert.ok((await svc.verifyChain()).ok);
    });
  });
}
