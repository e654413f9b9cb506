// Tenant management as use cases on SQLite in memory with a manual clock: a tenant is created with its first key and
// both audit entries in one unit of work, updates audit the changed field names only, keys obey the cap, expiry and
// revocation, and every change is stamped with the use case's clock.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/shared/errors.ts';
import { SELLER, useCases, type Kit } from './kit.ts';

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof AppError && e.code === code);
}

void describe('tenant management (use case)', () => {
  let kit: Kit;
  before(async () => {
    kit = await useCases();
  });
  after(() => kit.close());

  void it('creates a tenant with a first key of every scope, audited at the clock\'s time', async () => {
    kit.clock.set('2026-12-01T02:00:00.000Z');
    const { tenant, apiKey } = await kit.app.services.tenants.create(SELLER, { actor: 'admin', ip: '192.0.2.7' });
    assert.equal(tenant.createdAt, '2026-12-01T02:00:00.000Z');
    const auth = await kit.app.services.tenants.authenticate(apiKey);
    assert.equal(auth?.tenant.id, tenant.id);
    assert.deepEqual(auth?.scopes, ['invoices:issue', 'invoices:read', 'pii:read']);
    const audit = await kit.app.services.audit.search({ tenantId: tenant.id, limit: 10 });
    assert.deepEqual(audit.map((e) => [e.action, e.actor, e.ip, e.at]).sort(), [
      ['apikey.create', 'admin', '192.0.2.7', '2026-12-01T02:00:00.000Z'],
      ['tenant.create', 'admin', '192.0.2.7', '2026-12-01T02:00:00.000Z'],
    ]);
  });

  void it('refuses a bad tenant and writes nothing', async () => {
    const before = (await kit.app.services.tenants.list()).length;
    await rejectsWith(kit.app.services.tenants.create({ ...SELLER, taxId: '91310000775785552X' }), 'TAX_ID_CHECKSUM');
    await rejectsWith(kit.app.services.tenants.create({ ...SELLER, regionCode: '3' }), 'REGION_CODE_INVALID');
    await rejectsWith(kit.app.services.tenants.create({ ...SELLER, name: '坏\u0000名' }), 'TEXT_INVALID');
    assert.equal((await kit.app.services.tenants.list()).length, before);
  });

  void it('updates the changed fields only and audits their names, not their values', async () => {
    const { tenant } = await kit.app.services.tenants.create(SELLER);
    const r = await kit.app.services.tenants.update(tenant.id, { phone: '021-55556666', name: SELLER.name });
    assert.deepEqual(r.changed, ['phone']);
    const again = await kit.app.services.tenants.update(tenant.id, { phone: '021-55556666' });
    assert.deepEqual(again.changed, []);
    const updates = await kit.app.services.audit.search({ tenantId: tenant.id, action: 'tenant.update', limit: 10 });
    assert.equal(updates.length, 1);
    assert.deepEqual(JSON.parse(String(updates[0]!.details)), { fields: ['phone'] });
    assert.doesNotMatch(JSON.stringify(updates), /55556666/);
    await rejectsWith(kit.app.services.tenants.update('t_missing', { phone: '1' }), 'TENANT_NOT_FOUND');
  });

  void it('caps active keys, and refuses a key from the second it expires or is revoked', async () => {
    const { tenant, apiKey: first } = await kit.app.services.tenants.create(SELLER);
    const now = kit.clock.now().getTime();
    const expiring = await kit.app.services.tenants.createApiKey(tenant.id, { expiresAt: new Date(now + 60_000).toISOString() });
    await rejectsWith(kit.app.services.tenants.createApiKey(tenant.id), 'API_KEY_LIMIT');
    assert.deepEqual((await kit.app.services.tenants.authenticate(expiring.secret))?.scopes, ['invoices:issue', 'invoices:read']);
    kit.clock.advance(60_000);
    assert.equal(await kit.app.services.tenants.authenticate(expiring.secret), undefined, 'expired, even though cached');
    // The expired key no longer counts against the cap.
    const third = await kit.app.services.tenants.createApiKey(tenant.id);
    const firstId = (await kit.app.services.tenants.authenticate(first))!.keyId;
    await kit.app.services.tenants.revokeApiKey(tenant.id, firstId);
    assert.equal(await kit.app.services.tenants.authenticate(first), undefined);
    assert.ok(await kit.app.services.tenants.authenticate(third.secret));
    await rejectsWith(kit.app.services.tenants.revokeApiKey(tenant.id, 'k_missing'), 'API_KEY_NOT_FOUND');
    const revokes = await kit.app.services.audit.search({ tenantId: tenant.id, action: 'apikey.revoke', limit: 10 });
    assert.deepEqual(revokes.map((e) => e.outcome).sort(), ['failure', 'success']);
  });
});
