import type { Kysely, Selectable } from 'kysely';
import type { Database, TenantsTable } from '../database.ts';
import type { AuditStamp, NewTenant, Tenant, TenantRepository } from '../storage.ts';
import { appendAuditInTx, stampEntry } from './audit-repository.ts';
import { rethrow, type EngineTraits } from './engine-traits.ts';

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
            created_at: createdAt,
          })
          .execute();
        if (audit) await appendAuditInTx(trx, [stampEntry(audit, 'tenant.create', tenant.id, tenant.id)], createdAt);
      });
    } catch (error) {
      rethrow(this.traits, error);
    }
    return { ...tenant, createdAt };
  }

  async get(id: string): Promise<Tenant | undefined> {
    const row = await this.db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toTenant(row);
  }

  async list(): Promise<Tenant[]> {
    const rows = await this.db.selectFrom('tenants').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(toTenant);
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
  return tenant;
}
