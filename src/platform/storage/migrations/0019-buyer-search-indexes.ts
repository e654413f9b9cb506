// Searches by buyer (tax ID, phone, e-mail: GET /v1/invoices?buyerTaxId=…) filter on one column and page newest first
// by (issue_date, number). The indexes of 0001 and 0003 covered the filter only, so SQLite's planner preferred walking
// the tenant's whole date index in order (no sort needed) and filtering as it went: every invoice of the tenant read
// for a buyer with a handful (test/storage/query-plans.test.ts). These indexes serve filter and order together; the
// old ones are their prefixes and go. Append-only: never edit this once released.
import type { Kysely, Migration } from 'kysely';

const COLUMNS = ['buyer_tax_id', 'buyer_tax_id_bidx', 'buyer_phone_bidx', 'buyer_email_bidx'] as const;

export function buyerSearchIndexes(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const col of COLUMNS) {
        await db.schema.createIndex(`invoices_${col}_date_ix`).on('invoices').columns(['tenant_id', col, 'issue_date', 'number']).execute();
        await db.schema.dropIndex(`invoices_${col}_ix`).execute();
      }
    },
  };
}
