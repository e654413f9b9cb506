// The storage contract, one suite run on every engine (docs/design.md §2, kysely's DIALECTS loop): the table-level
// repositories inside units of work (src/platform/storage/unit-of-work.ts) and the issuing transaction
// (commitIssueBatch) over them. Every row a unit of work writes is stamped with its time; unique violations come out as
// UniqueViolation with the constraint's portable name.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UniqueConstraint, UniqueViolation } from '../../src/platform/storage/storage-errors.ts';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import type { UnitOfWork } from '../../src/platform/storage/unit-of-work.ts';
import { unitOfWork, type Repositories } from '../../src/repositories.ts';
import { commitIssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import { TEST_AT, countRows, ledgerSize, storageEngines } from '../helpers/storage-engines.ts';
import { invoiceNumber, makeBatch } from '../helpers/invoice-factory.ts';

const SERIES = '26310';
const AT = TEST_AT;
const LATER = new Date('2026-11-24T07:00:00.000Z');

for (const fixture of await storageEngines()) {
  void describe(`storage contract: ${fixture.engine}`, { skip: fixture.skip }, () => {
    let s: StorageEngine;
    let uow: UnitOfWork<Repositories>;
    before(() => {
      s = fixture.open();
      uow = unitOfWork(s);
    });
    after(async () => {
      await s?.close();
      await fixture.cleanup();
    });

    void it('migrates, and migrating again changes nothing', async () => {
      const first = await s.migrate();
      assert.ok(first.length > 0);
      assert.ok(first.every((m) => m.status === 'applied'));
      const second = await s.migrate();
      assert.deepEqual(second, first.map((m) => ({ name: m.name, status: 'already-applied' })));
      await s.ping();
      assert.equal(s.engine, fixture.engine);
      assert.equal(uow.engine, fixture.engine);
    });

    void it('creates, gets and lists tenants', async () => {
      const a = await uow.run(AT, (tx) => tx.tenants.insert({ id: 't-a', name: '甲公司', taxId: '91310000MA1FL0000X', regionCode: '31', channel: '0', allowedRates: ['0.13', '0.06'], address: '上海市' }));
      assert.equal(a.createdAt, AT.toISOString(), 'stamped with the time of the unit of work');
      await uow.run(LATER, (tx) => tx.tenants.insert({ id: 't-b', name: '乙公司', taxId: '91110000MA1FL0000Y', regionCode: '11', channel: '0' }));
      assert.deepEqual(await uow.read.tenants.get('t-a'), a);
      const b = await uow.read.tenants.get('t-b');
      assert.equal(b?.allowedRates, undefined);
      assert.equal(b?.address, undefined);
      assert.equal(b?.createdAt, LATER.toISOString());
      assert.deepEqual((await uow.read.tenants.list()).map((t) => t.id), ['t-a', 't-b']);
      assert.equal(await uow.read.tenants.get('nope'), undefined);
      await assert.rejects(uow.run(AT, (tx) => tx.tenants.insert({ id: 't-a', name: 'x', taxId: 'x', regionCode: '31', channel: '0' })), (e: unknown) => {
        return e instanceof UniqueViolation && e.constraint === UniqueConstraint.tenantId;
      });
    });

    void it('refuses a write outside a unit of work, and rolls a unit of work back whole when it throws', async () => {
      await assert.rejects(uow.read.tenants.insert({ id: 't-x', name: 'x', taxId: 'x', regionCode: '31', channel: '0' }), /outside a unit of work/);
      await assert.rejects(uow.run(AT, async (tx) => {
        await tx.tenants.insert({ id: 't-x', name: 'x', taxId: 'x', regionCode: '31', channel: '0' });
        throw new Error('the use case fails after its first write');
      }), /the use case fails/);
      assert.equal(await uow.read.tenants.get('t-x'), undefined);
      assert.equal(await countRows(s, 'tenants'), 2);
    });

    void it('stores API keys by hash and never returns the hash', async () => {
      const key = await uow.run(AT, (tx) => tx.apiKeys.insert({ tenantId: 't-a', id: 'k1', prefix: 'fp_live_AbC1', hash: 'f'.repeat(64), scopes: ['invoices:write'], expiresAt: '2027-01-01T00:00:00.000Z' }));
      assert.equal(key.createdAt, AT.toISOString());
      const found = await uow.read.apiKeys.findByHash('f'.repeat(64));
      assert.deepEqual(found, key);
      assert.ok(!('hash' in (found ?? {})) && !('keyHash' in (found ?? {})));
      assert.equal(await uow.read.apiKeys.findByHash('0'.repeat(64)), undefined);
      assert.deepEqual(await uow.read.apiKeys.list('t-a'), [key]);
      assert.deepEqual(await uow.read.apiKeys.list('t-b'), []);
      await assert.rejects(uow.run(AT, (tx) => tx.apiKeys.insert({ tenantId: 't-b', id: 'k2', prefix: 'p', hash: 'f'.repeat(64), scopes: [] })), (e: unknown) => {
        return e instanceof UniqueViolation && e.constraint === UniqueConstraint.apiKeyHash;
      });
    });

    void it('does not revoke an API key of another tenant', async () => {
      const revoke = (at: string, tenantId: string, id: string) => uow.run(new Date(at), (tx) => tx.apiKeys.revoke(tenantId, id));
      assert.equal(await revoke('2026-11-25T00:00:00.000Z', 't-b', 'k1'), false);
      assert.equal((await uow.read.apiKeys.findByHash('f'.repeat(64)))?.revokedAt, undefined);
      assert.equal(await revoke('2026-11-25T00:00:00.000Z', 't-a', 'k1'), true);
      assert.equal(await revoke('2026-11-26T00:00:00.000Z', 't-a', 'k1'), true);
      assert.equal((await uow.read.apiKeys.findByHash('f'.repeat(64)))?.revokedAt, '2026-11-25T00:00:00.000Z', 'the first revocation is kept');
      assert.equal(await revoke('2026-11-25T00:00:00.000Z', 't-a', 'missing'), false);
    });

    void it('keeps signing keys and returns the newest active one with its sealed secret', async () => {
      assert.equal(await uow.read.signingKeys.getActive(), undefined);
      const base = { alg: 'SM2' as const, publicKey: '04ab', privateKeySealed: 'sealed' };
      await uow.run(AT, async (tx) => {
        await tx.signingKeys.insert({ ...base, id: 'sk1', createdAt: '2026-01-01T00:00:00.000Z', status: 'active', privateKeySealed: 'sealed-1' });
        await tx.signingKeys.insert({ ...base, id: 'sk2', createdAt: '2026-02-01T00:00:00.000Z', status: 'active', privateKeySealed: 'sealed-2' });
        await tx.signingKeys.insert({ ...base, id: 'sk3', createdAt: '2026-03-01T00:00:00.000Z', status: 'retired' });
      });
      const list = await uow.read.signingKeys.list();
      assert.deepEqual(list.map((k) => k.id), ['sk1', 'sk2', 'sk3']);
      assert.ok(list.every((k) => !('privateKeySealed' in k)));
      const active = await uow.read.signingKeys.getActive();
      assert.equal(active?.id, 'sk2');
      assert.equal(active?.privateKeySealed, 'sealed-2');
      await assert.rejects(uow.run(AT, (tx) => tx.signingKeys.insert({ ...base, id: 'sk1', createdAt: AT.toISOString(), status: 'active' })), (e: unknown) => {
        return e instanceof UniqueViolation && e.constraint === UniqueConstraint.signingKeyId;
      });
    });

    void it('commits issue batches: consecutive numbers and ledger indices, idempotency, outbox and audit rows', async () => {
      assert.equal(await uow.read.series.nextSeq(SERIES), 1);
      const r1 = await commitIssueBatch(uow, AT, makeBatch('t-a', SERIES, 1, [{ idempotencyKey: 'idem-1', externalId: 'ERP-1' }, {}, {}]));
      assert.ok(r1.ok);
      assert.deepEqual(r1.issued.map((i) => i.invoice.number), [1, 2, 3].map((q) => invoiceNumber(SERIES, q)));
      const first = r1.issued[0]!.invoice.ledger.index;
      assert.deepEqual(r1.issued.map((i) => i.invoice.ledger.index), [first, first + 1, first + 2]);
      // The JSON answered (and stored for replay) is the invoice as issued, ledger index included.
      for (const i of r1.issued) assert.equal(i.json, JSON.stringify(i.invoice));
      assert.equal(await uow.read.series.nextSeq(SERIES), 4);

      const r2 = await commitIssueBatch(uow, AT, makeBatch('t-a', SERIES, 4, [{}, { idempotencyKey: 'idem-2' }]));
      assert.ok(r2.ok);
      assert.deepEqual(r2.issued.map((i) => i.invoice.ledger.index), [first + 3, first + 4]);
      assert.equal(await uow.read.series.nextSeq(SERIES), 6);
      assert.equal(await ledgerSize(s), first + 5);

      const idem = await uow.read.idempotency.get('t-a', 'idem-1');
      assert.deepEqual(idem, { requestHash: 'req-idem-1', statusCode: 201, body: JSON.stringify(r1.issued[0]!.invoice) });
      assert.equal(JSON.parse(idem.body).ledger.index, first);
      assert.equal(await uow.read.idempotency.get('t-b', 'idem-1'), undefined);

      assert.equal(await countRows(s, 'invoices'), 5);
      assert.equal(await countRows(s, 'invoice_lines'), 5);
      const leaves = await s.db.selectFrom('ledger_leaves').select(['idx', 'number', 'leaf_hash', 'created_at']).orderBy('idx').execute();
      assert.deepEqual(leaves.map((l) => Number(l.idx)), [0, 1, 2, 3, 4].map((i) => first + i));
      assert.deepEqual(leaves.map((l) => l.number), [1, 2, 3, 4, 5].map((q) => invoiceNumber(SERIES, q)));
      const outbox = await s.db.selectFrom('outbox_events').selectAll().orderBy('id').execute();
      assert.deepEqual(outbox.map((o): unknown[] => [o.type, (JSON.parse(o.payload) as { data: { number: string } }).data.number]), [1, 2, 3, 4, 5].map((q) => ['invoice.issued', invoiceNumber(SERIES, q)]));
      assert.ok(outbox.every((o) => (JSON.parse(o.payload) as { id: string }).id === o.event_id));
      assert.ok(outbox.every((o) => o.dispatched_at === null && o.attempts === 0));
      const audit = await s.db.selectFrom('audit_events').selectAll().orderBy('id').execute();
      assert.equal(audit.length, 5);
      assert.deepEqual(audit[0], { ...audit[0], tenant_id: 't-a', actor: 'apikey:t-a', action: 'invoice.issue', target: invoiceNumber(SERIES, 1), outcome: 'success', ip: '192.0.2.1' });

      // Every row of the issuing transaction carries the time of its unit of work.
      const stamp = AT.toISOString();
      const invoices = await s.db.selectFrom('invoices').select(['created_at', 'updated_at']).execute();
      const keys = await s.db.selectFrom('idempotency_keys').select('created_at').execute();
      assert.deepEqual(
        [...leaves.map((l) => l.created_at), ...outbox.map((o) => o.created_at), ...audit.map((a) => a.at), ...invoices.flatMap((i) => [i.created_at, i.updated_at]), ...keys.map((k) => k.created_at)],
        Array.from({ length: 5 + 5 + 5 + 10 + 2 }, () => stamp),
      );
      const usage = await s.db.selectFrom('tenant_quota_usage').select('updated_at').execute();
      assert.deepEqual(usage.map((u) => u.updated_at), [stamp]);
    });

    void it('refuses a batch numbered from a moved series and writes nothing', async () => {
      const before = { invoices: await countRows(s, 'invoices'), outbox: await countRows(s, 'outbox_events'), audit: await countRows(s, 'audit_events'), ledger: await ledgerSize(s) };
      assert.deepEqual(await commitIssueBatch(uow, AT, makeBatch('t-a', SERIES, 4, [{}, {}])), { ok: false, reason: 'series-moved', nextSeq: 6 });
      assert.deepEqual(await commitIssueBatch(uow, AT, makeBatch('t-a', '26319', 7, [{}])), { ok: false, reason: 'series-moved', nextSeq: 1 });
      const afterCounts = { invoices: await countRows(s, 'invoices'), outbox: await countRows(s, 'outbox_events'), audit: await countRows(s, 'audit_events'), ledger: await ledgerSize(s) };
      assert.deepEqual(afterCounts, before);
      assert.equal(await uow.read.series.nextSeq(SERIES), 6);
      assert.equal(await uow.read.series.nextSeq('26319'), 1);
    });

    void it('rolls back the whole batch on a duplicate external id and keeps the series', async () => {
      const before = { invoices: await countRows(s, 'invoices'), outbox: await countRows(s, 'outbox_events'), ledger: await ledgerSize(s) };
      await assert.rejects(commitIssueBatch(uow, AT, makeBatch('t-a', SERIES, 6, [{ externalId: 'ERP-NEW' }, { externalId: 'ERP-1' }])), (e: unknown) => {
        return e instanceof UniqueViolation && e.constraint === UniqueConstraint.invoiceExternalId;
      });
      await assert.rejects(commitIssueBatch(uow, AT, makeBatch('t-a', SERIES, 6, [{ idempotencyKey: 'idem-1' }])), (e: unknown) => {
        return e instanceof UniqueViolation && e.constraint === UniqueConstraint.idempotencyKey;
      });
      assert.equal(await uow.read.series.nextSeq(SERIES), 6);
      assert.equal(await uow.read.invoices.get('t-a', invoiceNumber(SERIES, 6)), undefined);
      assert.deepEqual({ invoices: await countRows(s, 'invoices'), outbox: await countRows(s, 'outbox_events'), ledger: await ledgerSize(s) }, before);
      // The same external id under another tenant is fine, and NULL external ids never collide.
      const ok = await commitIssueBatch(uow, AT, makeBatch('t-b', SERIES, 6, [{ externalId: 'ERP-1' }, {}, {}]));
      assert.ok(ok.ok);
    });

    void it('does not return an invoice of another tenant', async () => {
      const n1 = invoiceNumber(SERIES, 1);
      const mine = await uow.read.invoices.get('t-a', n1);
      assert.equal(mine?.number, n1);
      assert.equal(mine?.status, 'normal');
      assert.equal(await uow.read.invoices.get('t-b', n1), undefined);
      assert.equal((await uow.read.invoices.findByExternalId('t-a', 'ERP-1'))?.number, n1);
      assert.equal((await uow.read.invoices.findByExternalId('t-b', 'ERP-1'))?.number, invoiceNumber(SERIES, 6));
      assert.equal(await uow.read.invoices.findByExternalId('t-b', 'ERP-NEW'), undefined);
    });

    void it('returns the stored invoice as issued, with the status column authoritative', async () => {
      const r = await commitIssueBatch(uow, AT, makeBatch('t-a', SERIES, 9, [{ buyerTaxId: '91440300MA5FXXXX1K' }]));
      assert.ok(r.ok);
      const issued = r.issued[0]!;
      assert.equal(JSON.stringify(await uow.read.invoices.get('t-a', issued.invoice.number)), JSON.stringify(issued.invoice));
      assert.equal(JSON.stringify(await uow.read.invoices.get('t-a', issued.invoice.number)), issued.json);
      await s.db.updateTable('invoices').set({ status: 'red-flushed' }).where('number', '=', issued.invoice.number).execute();
      const flushed = await uow.read.invoices.findForVerification(issued.invoice.number);
      assert.equal(flushed?.status, 'red-flushed');
      assert.deepEqual(Object.keys(flushed ?? {}), Object.keys(issued.invoice));
      assert.equal(await uow.read.invoices.findForVerification(invoiceNumber(SERIES, 999)), undefined);
    });
  });
}
