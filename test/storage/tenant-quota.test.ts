// The issuing quota in storage (migration 0004), on every engine: usage grows inside the issuing transaction
// (commitIssueBatch), a failed guard writes nothing at all (no number, ledger leaf, outbox event, audit entry or usage),
// tenant updates (TenantService, the use case that owns them) are audited with field names only, at the service's
// clock. On PostgreSQL, two nodes racing for the last of a quota: exactly one wins.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/shared/errors.ts';
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import type { UnitOfWork } from '../../src/platform/storage/unit-of-work.ts';
import { unitOfWork, type Repositories } from '../../src/repositories.ts';
import { commitIssueBatch } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import type { TenantService } from '../../src/modules/tenants/app/tenant-service.ts';
import type { TenantView } from '../../src/modules/tenants/app/tenant-update.ts';
import type { Tenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import { StillClock, TEST_AT, countRows, insertTenants, ledgerSize, storageEngines, tenantServiceOver } from '../helpers/storage-engines.ts';
import { makeBatch, type InvoiceSpec } from '../helpers/invoice-factory.ts';

const SERIES = '26310';
/** Totals with tax whose amount excluding VAT (13 %) is round: 678.00 → 600.00, 452.00 → 400.00, 113.00 → 100.00. */
const T600 = { totalCents: 67800 };
const T400 = { totalCents: 45200 };
const T100 = { totalCents: 11300 };

/**
 * The tenant of a TenantView as the tenants table stores it (the view adds this month's usage, null = unlimited, and
 * the signing algorithm, null = the server's).
 */
function storedPart(view: TenantView): Tenant {
  const { quotaUsage: _usage, monthlyQuota, signingAlgorithm, ...rest } = view;
  const tenant: Tenant = signingAlgorithm === null ? rest : { ...rest, signingAlgorithm };
  return monthlyQuota === null ? tenant : { ...tenant, monthlyQuota };
}

for (const fixture of await storageEngines()) {
  void describe(`tenant quota: ${fixture.engine}`, { skip: fixture.skip }, () => {
    let s: StorageEngine;
    let uow: UnitOfWork<Repositories>;
    let tenants: TenantService;
    const clock = new StillClock(TEST_AT);
    let seq = 1;
    /** Commits a batch at the series' next sequence (advancing it only when the commit succeeds). */
    async function commit(tenantId: string, specs: InvoiceSpec[], series = SERIES) {
      const r = await commitIssueBatch(uow, clock.now(), makeBatch(tenantId, series, series === SERIES ? seq : await uow.read.series.nextSeq(series), specs));
      if (r.ok && series === SERIES) seq += specs.length;
      return r;
    }
    const snapshot = async () => ({
      invoices: await countRows(s, 'invoices'),
      outbox: await countRows(s, 'outbox_events'),
      audit: await countRows(s, 'audit_events'),
      ledger: await ledgerSize(s),
      next: await uow.read.series.nextSeq(SERIES),
      usage: await s.db.selectFrom('tenant_quota_usage').selectAll().orderBy('tenant_id').orderBy('period').execute(),
    });

    before(async () => {
      s = fixture.open();
      await s.migrate();
      uow = unitOfWork(s);
      tenants = tenantServiceOver(uow, clock);
      await insertTenants(uow, [
        { id: 't-q', name: '甲', taxId: '91310000MA1FL0000X', regionCode: '31', channel: '0', monthlyQuota: '1000' },
        { id: 't-u', name: '乙', taxId: '91110000MA1FL0000Y', regionCode: '31', channel: '0' },
      ]);
    });
    after(async () => {
      await s?.close();
      await fixture.cleanup();
    });

    void it('stores the quota as exact cents and reads it back as a decimal string', async () => {
      assert.equal((await uow.read.tenants.get('t-q'))?.monthlyQuota, '1000.00');
      assert.equal((await uow.read.tenants.get('t-u'))?.monthlyQuota, undefined);
      assert.deepEqual(await uow.read.quotaUsage.quotaUsage('t-q', '2026-11'), { quotaCents: 100000n, usedCents: 0n });
      assert.deepEqual(await uow.read.quotaUsage.quotaUsage('t-u', '2026-11'), { quotaCents: null, usedCents: 0n });
      assert.equal(await uow.read.quotaUsage.quotaUsage('nope', '2026-11'), undefined);
    });

    void it('adds each batch to the usage of its period in the issuing transaction', async () => {
      const r = await commit('t-q', [T600]);
      assert.ok(r.ok);
      assert.deepEqual(r.usage, [{ tenantId: 't-q', period: '2026-11', usedCents: 60000n }]);
      assert.deepEqual(await uow.read.quotaUsage.quotaUsage('t-q', '2026-11'), { quotaCents: 100000n, usedCents: 60000n });
      // Unlimited tenants are counted too, so a quota set in mid-month sees what was issued before.
      const u = await commit('t-u', [T100, T100]);
      assert.ok(u.ok);
      assert.deepEqual(u.usage, [{ tenantId: 't-u', period: '2026-11', usedCents: 20000n }]);
      assert.deepEqual(await uow.read.quotaUsage.usageInPeriod('2026-11'), new Map([['t-q', 60000n], ['t-u', 20000n]]));
      assert.deepEqual(await uow.read.quotaUsage.usageInPeriod('2026-12'), new Map());
    });

    void it('refuses a batch over the quota and writes nothing, not even the other tenants of the batch', async () => {
      const before = await snapshot();
      assert.deepEqual(await commit('t-q', [T600]), { ok: false, reason: 'quota-exceeded', tenantId: 't-q', period: '2026-11' });
      const mixed = makeBatch('t-u', SERIES, seq, [T100, T100]);
      mixed.items.push(...makeBatch('t-q', SERIES, seq + 2, [T400, T100]).items);
      assert.deepEqual(await commitIssueBatch(uow, clock.now(), mixed), { ok: false, reason: 'quota-exceeded', tenantId: 't-q', period: '2026-11' });
      assert.deepEqual(await snapshot(), before, 'no number, leaf, event, audit entry or usage');
    });

    void it('admits a batch that reaches the quota exactly', async () => {
      const r = await commit('t-q', [T400]);
      assert.ok(r.ok);
      assert.deepEqual(r.usage, [{ tenantId: 't-q', period: '2026-11', usedCents: 100000n }]);
    });

    void it('counts by the period of the issue date (UTC+8 month)', async () => {
      const r = await commit('t-q', [{ ...T600, issueDate: '2026-12-01' }]);
      assert.ok(r.ok);
      assert.deepEqual(r.usage, [{ tenantId: 't-q', period: '2026-12', usedCents: 60000n }]);
      assert.deepEqual(await uow.read.quotaUsage.quotaUsage('t-q', '2026-11'), { quotaCents: 100000n, usedCents: 100000n });
    });

    void it('blocks issuing when the quota is lowered below usage, but always lets a negative amount give quota back', async () => {
      const lowered = await tenants.update('t-q', { monthlyQuota: '500.00' }, { actor: 'admin-api', ip: '127.0.0.1' });
      assert.deepEqual(lowered.changed, ['monthlyQuota']);
      assert.equal(lowered.tenant.monthlyQuota, '500.00');
      assert.equal((await uow.read.tenants.get('t-q'))?.monthlyQuota, '500.00');
      assert.equal((await commit('t-q', [{ totalCents: 113 }])).ok, false);
      // A red-letter invoice (not issued yet by the services) would carry a negative amount: it returns quota.
      const red = await commit('t-q', [{ totalCents: -11300 }]);
      assert.ok(red.ok);
      assert.deepEqual(red.usage, [{ tenantId: 't-q', period: '2026-11', usedCents: 90000n }]);
      await tenants.update('t-q', { monthlyQuota: null });
      assert.ok((await commit('t-q', [T600])).ok, 'unlimited again');
    });

    void it('updates tenants with one audit entry naming the changed fields, never their values', async () => {
      clock.set('2026-11-25T01:02:03.456Z');
      const before = await countRows(s, 'audit_events');
      const r = await tenants.update('t-u', { regionCode: '44', phone: '021-12345678', address: null, name: '乙' }, { actor: 'admin-api', ip: '127.0.0.1' });
      assert.deepEqual(r.changed, ['regionCode', 'phone'], 'the unchanged name and the absent address are not changes');
      assert.equal(r.tenant.regionCode, '44');
      assert.equal(r.tenant.phone, '021-12345678');
      assert.deepEqual(await uow.read.tenants.get('t-u'), storedPart(r.tenant));
      const [entry] = await uow.read.audit.list({ action: 'tenant.update', order: 'desc', limit: 1 });
      assert.equal(entry?.tenantId, 't-u');
      assert.equal(entry?.target, 't-u');
      assert.equal(entry?.actor, 'admin-api');
      assert.equal(entry?.ip, '127.0.0.1');
      assert.equal(entry?.at, '2026-11-25T01:02:03.456Z', 'at the time of the service\'s clock');
      assert.deepEqual(JSON.parse(entry?.details ?? '{}'), { fields: ['regionCode', 'phone'] });
      assert.ok(!entry?.details?.includes('12345678'));
      assert.equal(await countRows(s, 'audit_events'), before + 1);

      const same = await tenants.update('t-u', { regionCode: '44', phone: '021-12345678' }, { actor: 'admin-api' });
      assert.deepEqual(same.changed, []);
      assert.equal(await countRows(s, 'audit_events'), before + 1, 'no change, no entry');
      const cleared = await tenants.update('t-u', { phone: null, monthlyQuota: '1000' }, { actor: 'admin-api' });
      assert.deepEqual(cleared.changed, ['phone', 'monthlyQuota']);
      assert.equal(cleared.tenant.phone, undefined);
      assert.deepEqual((await tenants.update('t-u', { monthlyQuota: '1000.00' })).changed, [], '"1000" and "1000.00" are the same quota');
      assert.equal(await countRows(s, 'audit_events'), before + 2);
      await assert.rejects(tenants.update('t-nope', { name: 'x' }), (e: unknown) => e instanceof AppError && e.code === 'TENANT_NOT_FOUND');
      assert.equal(await countRows(s, 'audit_events'), before + 2, 'an unknown tenant: no entry');
    });
  });
}

const pgFixture = (await storageEngines()).find((f) => f.engine === 'postgres')!;

void describe('tenant quota on two nodes: postgres', { skip: pgFixture.skip }, () => {
  let a: StorageEngine;
  let b: StorageEngine;
  let uowA: UnitOfWork<Repositories>;
  let uowB: UnitOfWork<Repositories>;
  before(async () => {
    a = pgFixture.open();
    b = pgFixture.open();
    await a.migrate();
    uowA = unitOfWork(a);
    uowB = unitOfWork(b);
    await insertTenants(uowA, [{ id: 't-r', name: '甲', taxId: '91310000MA1FL0000X', regionCode: '31', channel: '0', monthlyQuota: '1000.00' }]);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await pgFixture.cleanup();
  });

  void it('lets exactly one of two batches in different series take the last of the quota, many times over', async () => {
    for (let round = 0; round < 10; round++) {
      const period = `2027-${String(round + 1).padStart(2, '0')}`;
      const issueDate = `${period}-15`;
      const at = new Date(`${issueDate}T02:00:00.000Z`);
      await commitIssueBatch(uowA, at, makeBatch('t-r', '27310', await uowA.read.series.nextSeq('27310'), [{ ...T400, issueDate }]));
      // 600 left: each node wants 400 + 200 in its own series, so only the quota guard can stop one of them.
      const [ra, rb] = await Promise.all([
        commitIssueBatch(uowA, at, makeBatch('t-r', '27311', await uowA.read.series.nextSeq('27311'), [{ ...T400, issueDate }, { totalCents: 22600, issueDate }])),
        commitIssueBatch(uowB, at, makeBatch('t-r', '27441', await uowB.read.series.nextSeq('27441'), [{ ...T400, issueDate }, { totalCents: 22600, issueDate }])),
      ]);
      assert.equal([ra, rb].filter((r) => r.ok).length, 1, `round ${round}: exactly one wins`);
      const loser = ra.ok ? rb : ra;
      assert.deepEqual(loser, { ok: false, reason: 'quota-exceeded', tenantId: 't-r', period });
      assert.deepEqual(await uowB.read.quotaUsage.quotaUsage('t-r', period), { quotaCents: 100000n, usedCents: 100000n });
    }
  });
});
