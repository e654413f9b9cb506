// The issuing quota's exact check (migration 0004), run inside the issuing transaction (issue-batch.ts).
//
// One upsert per (tenant, period) of a batch adds the batch's charge to the usage row, guarded by the tenant's quota as
// stored now: on conflict the guard is `used + charge <= quota`; for a first row of the period `charge <= quota`. A
// failing guard writes nothing and returns no row; the caller then rolls the whole batch back. On PostgreSQL the
// upsert locks the usage row: a writer on another node charging the same tenant waits until we commit, then evaluates
// the guard against our committed usage (READ COMMITTED, ON CONFLICT DO UPDATE sees the newest row version). Rows are
// charged in (tenant, period) order so two batches sharing tenants always lock them in the same order (no deadlock).
import { sql, type Transaction } from 'kysely';
import type { Database } from '../../../platform/storage/database.ts';
import { periodOfIssueDate, quotaCharge } from '../domain/issuing-quota.ts';
import type { PendingIssue, QuotaUsed } from '../../../platform/storage/storage.ts';
import { readCents } from '../../tenants/storage/tenant-repository.ts';

export interface QuotaCharge {
  tenantId: string;
  period: string;
  cents: bigint;
}

/** The batch's charges summed per (tenant, period), in lock order. */
export function batchCharges(items: readonly PendingIssue[]): QuotaCharge[] {
  const sums = new Map<string, QuotaCharge>();
  for (const item of items) {
    const period = periodOfIssueDate(item.invoice.issueDate);
    const key = `${item.tenantId}\u0000${period}`;
    const charge = sums.get(key) ?? { tenantId: item.tenantId, period, cents: 0n };
    charge.cents += quotaCharge(item.invoice.totals.amount);
    sums.set(key, charge);
  }
  return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
}

/**
 * Adds one charge to the usage row; the new usage, or undefined when the guard failed (nothing was written).
 *
 * A charge ≤ 0 always passes: that is where a red-letter invoice (negative amount) gives quota back, even when the
 * quota was lowered below usage. A tenant row that does not exist has no quota (storage tests write invoices of
 * tenants they never created).
 */
export async function chargeQuota(trx: Transaction<Database>, charge: QuotaCharge, at: string): Promise<bigint | undefined> {
  // Explicit casts: PostgreSQL cannot infer the type of a bare parameter in a SELECT list, and the comparison must be
  // integer against integer on SQLite as well.
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
    returning used_cents`.execute(trx);
  const row = result.rows[0];
  return row === undefined ? undefined : readCents(row.used_cents);
}

/** Charges every (tenant, period) of the batch; the first one whose guard fails, or the usage after each charge. */
export async function chargeBatch(
  trx: Transaction<Database>,
  charges: readonly QuotaCharge[],
  at: string,
): Promise<{ ok: true; usage: QuotaUsed[] } | { ok: false; failed: QuotaCharge }> {
  const usage: QuotaUsed[] = [];
  for (const charge of charges) {
    const used = await chargeQuota(trx, charge, at);
    if (used === undefined) return { ok: false, failed: charge };
    usage.push({ tenantId: charge.tenantId, period: charge.period, usedCents: used });
  }
  return { ok: true, usage };
}
