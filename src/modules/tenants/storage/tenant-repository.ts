import type { Kysely, Selectable, Updateable } from 'kysely';
import type { Database, TenantsTable } from '../../../platform/storage/database.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { centsToMoney } from '../../invoicing/domain/issuing-quota.ts';
import { toCents } from '../../../shared/money.ts';
import type { AuditStamp, NewTenant, Tenant, TenantPatch, TenantQuotaUsage, TenantRepository } from '../../../platform/storage/storage.ts';
import { appendAuditInTx, stampEntry } from '../../audit/storage/audit-repository.ts';
import { rethrow, type EngineTraits } from '../../../platform/storage/engine-traits.ts';

/** A BIGINT of cents as read from either driver (pg: string, better-sqlite3: number) → exact bigint. */
export function readCents(value: number | string | bigint): bigint {
  return typeof value === 'number' ? BigInt(toSafeInteger(value)) : BigInt(value);
}

/** The patch's fields in the order they are reported, with their columns. */
const PATCH_COLUMNS = {
  name: 'name',
  regionCode: 'region_code',
  address: 'address',
  phone: 'phone',
  bankName: 'bank_name',
  bankAccount: 'bank_account',
  monthlyQuota: 'monthly_quota_cents',
} as const satisfies Record<keyof TenantPatch, keyof TenantsTable>;

export class KyselyTenantRepository implements TenantRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly traits: EngineTraits,
  ) {}

  async create(tenant: NewTenant, audit?: AuditStamp): Promise<Tenant> {
    const createdAt = new Date().toISOString();
    try {
      await this.db.transaction().execute(async (trx) => {
        await trx
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
            created_at: createdAt,
          })
          .execute();
        if (audit) await appendAuditInTx(trx, [stampEntry(audit, 'tenant.create', tenant.id, tenant.id)], createdAt);
      });
    } catch (error) {
      rethrow(this.traits, error);
    }
    const created: Tenant = { ...tenant, createdAt };
    // Stored as cents: answer the stored spelling ("1000" → "1000.00"), as a later get() would.
    if (tenant.monthlyQuota !== undefined) created.monthlyQuota = centsToMoney(toCents(tenant.monthlyQuota));
    return created;
  }

  async get(id: string): Promise<Tenant | undefined> {
    const row = await this.db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toTenant(row);
  }

  async list(): Promise<Tenant[]> {
    const rows = await this.db.selectFrom('tenants').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toTenant);
  }

  async update(id: string, patch: TenantPatch, audit?: AuditStamp): Promise<{ tenant: Tenant; changed: string[] } | undefined> {
    const at = new Date().toISOString();
    try {
      return await this.db.transaction().execute(async (trx) => {
        let read = trx.selectFrom('tenants').selectAll().where('id', '=', id);
        // PostgreSQL: lock the row so that two concurrent updates report their changed fields against what the other
        // committed. SQLite's transactions begin IMMEDIATE (sqlite-dialect.ts) and have no FOR UPDATE.
        if (this.traits.engine === 'postgres') read = read.forUpdate();
        const row = await read.executeTakeFirst();
        if (!row) return undefined;
        const current = toTenant(row);
        const set: Updateable<TenantsTable> = {};
        const changed: string[] = [];
        for (const field of Object.keys(PATCH_COLUMNS) as (keyof TenantPatch)[]) {
          const raw = patch[field];
          if (raw === undefined) continue;
          // Amounts compare by value: "1000" is no change from a stored "1000.00".
          const value = field === 'monthlyQuota' && raw !== null ? centsToMoney(toCents(raw, '/monthlyQuota')) : raw;
          if ((value ?? undefined) === current[field]) continue;
          changed.push(field);
          if (field === 'monthlyQuota') set.monthly_quota_cents = value === null ? null : toCents(value);
          else (set as Record<string, string | null>)[PATCH_COLUMNS[field]] = value;
        }
        if (changed.length === 0) return { tenant: current, changed };
        await trx.updateTable('tenants').set(set).where('id', '=', id).execute();
        if (audit) {
          // Field names only: the values may be the seller's contact data, and the audit log is kept for years.
          await appendAuditInTx(trx, [{ ...stampEntry(audit, 'tenant.update', id, id), details: { fields: changed } }], at);
        }
        const updated = await trx.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        return { tenant: toTenant(updated), changed };
      });
    } catch (error) {
      rethrow(this.traits, error);
    }
  }

  async quotaUsage(id: string, period: string): Promise<TenantQuotaUsage | undefined> {
    // One round trip: the writer calls this on first use of a tenant in a period and after a guard failure.
    const row = await this.db
      .selectFrom('tenants')
      .leftJoin('tenant_quota_usage as u', (j) => j.onRef('u.tenant_id', '=', 'tenants.id').on('u.period', '=', period))
      .select(['tenants.monthly_quota_cents as quota', 'u.used_cents as used'])
      .where('tenants.id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      quotaCents: row.quota === null || row.quota === undefined ? null : readCents(row.quota),
      usedCents: row.used === null || row.used === undefined ? 0n : readCents(row.used),
    };
  }

  async usageInPeriod(period: string): Promise<Map<string, bigint>> {
    const rows = await this.db.selectFrom('tenant_quota_usage').select(['tenant_id', 'used_cents']).where('period', '=', period).execute();
    return new Map(rows.map((r) => [r.tenant_id, readCents(r.used_cents)]));
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
  return tenant;
}
