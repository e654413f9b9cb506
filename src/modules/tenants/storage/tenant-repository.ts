// The tenants table (with the issuing quota's column): rows only. Which fields changed and what the audit log says
// about it is the tenant use cases' (modules/tenants/app/tenant-service.ts).
import type { Selectable, Updateable } from 'kysely';
import type { TenantsTable } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import { centsToMoney } from '../../invoicing/index.ts';
import { toCents } from '../../../shared/money.ts';
import { readCents } from '../../invoicing/index.ts';
import type { NewTenant, Tenant, TenantPatch } from './tenant-contract.ts';
import type { TaxIdHolder } from '../domain/buyer-tenant.ts';
import { isSigningAlgorithm } from '../../../shared/signing.ts';

/** The patch's fields with their columns, in the order changes are reported. */
export const PATCH_COLUMNS = {
  name: 'name',
  regionCode: 'region_code',
  address: 'address',
  phone: 'phone',
  bankName: 'bank_name',
  bankAccount: 'bank_account',
  monthlyQuota: 'monthly_quota_cents',
  signingAlgorithm: 'signing_algorithm',
} as const satisfies Record<keyof TenantPatch, keyof TenantsTable>;

export class TenantRepository {
  constructor(private readonly scope: Scope) {}

  /** Inserts the tenant, created at the unit of work's time; answers it as stored (quota spelled "1000.00"). */
  async insert(tenant: NewTenant): Promise<Tenant> {
    const createdAt = stampOf(this.scope);
    await this.scope.db
      .insertInto('tenants')
      .values({
        id: tenant.id,
        name: tenant.name,
        tax_id: tenant.taxId,
        address: tenant.address ?? null,
        phone: tenant.phone ?? null,
        bank_name: tenant.bankName ?? null,
        bank_account: tenant.bankAccount ?? null,
        region_code: tenant.regionCode,
        channel: tenant.channel,
        allowed_rates: tenant.allowedRates ? JSON.stringify(tenant.allowedRates) : null,
        monthly_quota_cents: tenant.monthlyQuota !== undefined ? toCents(tenant.monthlyQuota, '/monthlyQuota') : null,
        signing_algorithm: tenant.signingAlgorithm ?? null,
        created_at: createdAt,
      })
      .execute();
    const created: Tenant = { ...tenant, createdAt };
    if (tenant.monthlyQuota !== undefined) created.monthlyQuota = centsToMoney(toCents(tenant.monthlyQuota));
    return created;
  }

  /**
   * One tenant. With `lock` (inside a unit of work), PostgreSQL locks the row until commit, so two concurrent updates
   * each compare against what the other committed; SQLite's transactions begin IMMEDIATE (sqlite-dialect.ts) and
   * already hold the write lock.
   */
  async get(id: string, opts: { lock?: boolean } = {}): Promise<Tenant | undefined> {
    let q = this.scope.db.selectFrom('tenants').selectAll().where('id', '=', id);
    if (opts.lock && this.scope.traits.engine === 'postgres') q = q.forUpdate();
    const row = await q.executeTakeFirst();
    return row && toTenant(row);
  }

  async list(): Promise<Tenant[]> {
    const rows = await this.scope.db.selectFrom('tenants').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toTenant);
  }

  /**
   * The tenant whose tax ID is `taxId` other than `exceptId`, the earliest created if several share it (a
   * red-letter form's counterparty: modules/red-letter/app/red-letter-service.ts).
   */
  async findByTaxId(taxId: string, exceptId?: string): Promise<Tenant | undefined> {
    let q = this.scope.db.selectFrom('tenants').selectAll().where('tax_id', '=', taxId);
    if (exceptId !== undefined) q = q.where('id', '<>', exceptId);
    const row = await q.orderBy('created_at').orderBy('id').limit(1).executeTakeFirst();
    return row && toTenant(row);
  }

  /**
   * Every tenant holding one of `taxIds` (id, tax ID, creation time), earliest created first: one probe of
   * tenants_tax_id_ix per tax ID (migration 0012). What modules/tenants/domain/buyer-tenant.ts ranks.
   */
  async holdersOf(taxIds: readonly string[]): Promise<TaxIdHolder[]> {
    if (taxIds.length === 0) return [];
    const rows = await this.scope.db
      .selectFrom('tenants').select(['id', 'tax_id', 'created_at'])
      .where('tax_id', 'in', [...new Set(taxIds)])
      .orderBy('created_at').orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, taxId: r.tax_id, createdAt: r.created_at }));
  }

  /** Writes the given fields (`null` clears; values already normalised) and answers the tenant as stored. */
  async update(id: string, patch: TenantPatch): Promise<Tenant> {
    stampOf(this.scope);
    const set: Updateable<TenantsTable> = {};
    for (const field of Object.keys(PATCH_COLUMNS) as (keyof TenantPatch)[]) {
      const value = patch[field];
      if (value === undefined) continue;
      if (field === 'monthlyQuota') set.monthly_quota_cents = value === null ? null : toCents(value, '/monthlyQuota');
      else (set as Record<string, string | null>)[PATCH_COLUMNS[field]] = value;
    }
    if (Object.keys(set).length > 0) await this.scope.db.updateTable('tenants').set(set).where('id', '=', id).execute();
    const row = await this.scope.db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    return toTenant(row);
  }
}

function toTenant(row: Selectable<TenantsTable>): Tenant {
  const tenant: Tenant = {
    id: row.id,
    name: row.name,
    taxId: row.tax_id,
    regionCode: row.region_code,
    channel: row.channel,
    createdAt: row.created_at,
  };
  if (row.address !== null) tenant.address = row.address;
  if (row.phone !== null) tenant.phone = row.phone;
  if (row.bank_name !== null) tenant.bankName = row.bank_name;
  if (row.bank_account !== null) tenant.bankAccount = row.bank_account;
  if (row.allowed_rates !== null) tenant.allowedRates = JSON.parse(row.allowed_rates) as string[];
  if (row.monthly_quota_cents !== null && row.monthly_quota_cents !== undefined) {
    tenant.monthlyQuota = centsToMoney(readCents(row.monthly_quota_cents));
  }
  if (isSigningAlgorithm(row.signing_algorithm)) tenant.signingAlgorithm = row.signing_algorithm;
  return tenant;
}
