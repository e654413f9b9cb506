// The issuing quota's exact check (migration 0004), run inside the issuing transaction (modules/invoicing/app/commit-issue-batch.ts).
//
// One upsert per (tenant, period) of a batch adds the batch's charge to the usage row, guarded by the tenant's quota as
// stored now: on conflict the guard is `used + charge <= quota`; for a first row of the period `charge <= quota`. A
// failing guard writes nothing and returns no row; the caller then rolls the whole batch back. On PostgreSQL the
// upsert locks the usage row: a writer on another node charging the same tenant waits until we commit, then evaluates
// the guard against our committed usage (READ COMMITTED, ON CONFLICT DO UPDATE sees the newest row version). Rows are
// charged in (tenant, period) order so two batches sharing tenants always lock them in the same order (no deadlock).
import { sql } from 'kysely';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import type { QuotaUsed, TenantQuotaUsage } from './invoice-contract.ts';

export interface QuotaCharge {
  tenantId: string;
  period: string;
  cents: bigint;
}

/** A BIGINT of cents as read from either driver (pg: string, better-sqlite3: number) → exact bigint. */
export function readCents(value: number | string | bigint): bigint {
  return typeof value === 'number' ? BigInt(toSafeInteger(value)) : BigInt(value);
}

export class QuotaUsageRepository {
  constructor(private readonly scope: Scope) {}

  /**
   * Adds one charge to the usage row; the new usage, or undefined when the guard failed (nothing was written).
   *
   * A charge ≤ 0 always passes: that is where a red-letter invoice (negative amount) gives quota back, even when the
   * quota was lowered below usage. A tenant row that does not exist has no quota (storage tests write invoices of
   * tenants they never created).
   */
  async charge(charge: QuotaCharge): Promise<bigint | undefined> {
    const at = stampOf(this.scope);
    // Explicit casts: PostgreSQL cannot infer the type of a bare parameter in a SELECT list, and the comparison must
    // be integer against integer on SQLite as well.
    const cents = sql`cast(${charge.cents} as bigint)`;
    const result = await sql<{ used_cents: number | string }>`
      insert into tenant_quota_usage (tenant_id, period, used_cents, updated_at)
      select ${charge.tenantId}, ${charge.period}, ${cents}, ${at}
      where ${cents} <= 0 or not exists (
        select 1 from tenants t where t.id = ${charge.tenantId} and t.monthly_quota_cents < ${cents}
      )
      on conflict (tenant_id, period) do update
        set used_cents = tenant_quota_usage.used_cents + excluded.used_cents, updated_at = excluded.updated_at
        where excluded.used_cents <= 0 or not exists (
          select 1 from tenants t
          where t.id = excluded.tenant_id and t.monthly_quota_cents < tenant_quota_usage.used_cents + excluded.used_cents
        )
      returning used_cents`.execute(this.scope.db);
    const row = result.rows[0];
    return row === undefined ? undefined : readCents(row.used_cents);
  }

  /** Charges each (tenant, period) in the order given; the first whose guard fails, or the usage after each charge. */
  async chargeAll(charges: readonly QuotaCharge[]): Promise<{ ok: true; usage: QuotaUsed[] } | { ok: false; failed: QuotaCharge }> {
    const usage: QuotaUsed[] = [];
    for (const charge of charges) {
      const used = await this.charge(charge);
      if (used === undefined) return { ok: false, failed: charge };
      usage.push({ tenantId: charge.tenantId, period: charge.period, usedCents: used });
    }
    return { ok: true, usage };
  }

  /** The tenant's quota and its usage in `period` in one round trip; undefined for an unknown tenant. */
  async quotaUsage(tenantId: string, period: string): Promise<TenantQuotaUsage | undefined> {
    const row = await this.scope.db
      .selectFrom('tenants')
      .leftJoin('tenant_quota_usage as u', (j) => j.onRef('u.tenant_id', '=', 'tenants.id').on('u.period', '=', period))
      .select(['tenants.monthly_quota_cents as quota', 'u.used_cents as used'])
      .where('tenants.id', '=', tenantId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      quotaCents: row.quota === null || row.quota === undefined ? null : readCents(row.quota),
      usedCents: row.used === null || row.used === undefined ? 0n : readCents(row.used),
    };
  }

  /** Every tenant's usage in `period`, by tenant id. */
  async usageInPeriod(period: string): Promise<Map<string, bigint>> {
    const rows = await this.scope.db.selectFrom('tenant_quota_usage').select(['tenant_id', 'used_cents']).where('period', '=', period).execute();
    return new Map(rows.map((r) => [r.tenant_id, readCents(r.used_cents)]));
  }
}
