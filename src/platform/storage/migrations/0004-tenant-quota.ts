// The issuing quota (授信额度) per tenant and month. Append-only: never edit this once released.
//
// tenants.monthly_quota_cents: the upper limit of the total amount excluding VAT a tenant may invoice in one natural
// month (UTC+8), as integer cents (exact; never a float). NULL = unlimited.
//
// tenant_quota_usage: what each tenant used per period (`YYYY-MM`), in cents. Rows are moved only inside the issuing
// transaction (modules/invoicing/storage/issue-batch.ts) by an upsert whose guard (`used + charge <= quota`) is the one exact check
// shared by every node; the writers' in-memory view only avoids a round trip in the common case. Usage is tracked for
// unlimited tenants too, so a quota set in the middle of a month counts what was already issued. tenant_id leads the
// primary key (docs/design.md §9).
import type { Kysely, Migration } from 'kysely';

export function tenantQuota(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('tenants').addColumn('monthly_quota_cents', 'bigint').execute();
      await db.schema
        .createTable('tenant_quota_usage')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('period', 'text', (c) => c.notNull())
        .addColumn('used_cents', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tenant_quota_usage_pkey', ['tenant_id', 'period'])
        .execute();
    },
  };
}
