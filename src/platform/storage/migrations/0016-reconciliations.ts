// ERP reconciliations (modules/reconciliation/). Append-only: never edit this once released.
//
// reconciliations: one row per upload of an ERP's invoice list, with its state (receiving → queued → running → done,
// or failed), the period it is matched against, its progress and, once done, its totals (JSON). `lease_until` is the
// time a node's job holds a running reconciliation; one past it is taken over by another node and restarted.
//
// reconciliation_rows: the upload's rows as parsed, one per data line (`line_no` is the physical line of the file),
// amounts in cents; a malformed line keeps its error and field instead of values.
//
// reconciliation_results: what matching found, one row per uploaded row (seq = its line number) and one per invoice of
// ours in the period missing from the upload (seq after the last line), with our side's values.
import type { Kysely, Migration } from 'kysely';

export function reconciliations(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('reconciliations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('period_from', 'text')
        .addColumn('period_to', 'text')
        .addColumn('rows_total', 'bigint', (c) => c.notNull())
        .addColumn('rows_malformed', 'bigint', (c) => c.notNull())
        .addColumn('progress_phase', 'text', (c) => c.notNull())
        .addColumn('progress_done', 'bigint', (c) => c.notNull())
        .addColumn('progress_total', 'bigint', (c) => c.notNull())
        .addColumn('totals', 'text')
        .addColumn('error', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('lease_until', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .execute();
      await db.schema.createIndex('reconciliations_tenant_ix').on('reconciliations').columns(['tenant_id', 'id']).execute();
      await db.schema.createIndex('reconciliations_status_ix').on('reconciliations').columns(['status', 'lease_until']).execute();
      await db.schema
        .createTable('reconciliation_rows')
        .addColumn('recon_id', 'text', (c) => c.notNull())
        .addColumn('line_no', 'bigint', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('number', 'text')
        .addColumn('issue_date', 'text')
        .addColumn('amount_cents', 'bigint')
        .addColumn('tax_cents', 'bigint')
        .addColumn('buyer_tax_id', 'text')
        .addColumn('error', 'text')
        .addColumn('error_field', 'text')
        .addPrimaryKeyConstraint('reconciliation_rows_pk', ['recon_id', 'line_no'])
        .execute();
      await db.schema
        .createTable('reconciliation_results')
        .addColumn('recon_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('line_no', 'bigint')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('amount_differs', 'integer', (c) => c.notNull())
        .addColumn('tax_differs', 'integer', (c) => c.notNull())
        .addColumn('date_differs', 'integer', (c) => c.notNull())
        .addColumn('buyer_differs', 'integer', (c) => c.notNull())
        .addColumn('their_external_id', 'text')
        .addColumn('their_number', 'text')
        .addColumn('their_date', 'text')
        .addColumn('their_amount_cents', 'bigint')
        .addColumn('their_tax_cents', 'bigint')
        .addColumn('their_buyer_tax_id', 'text')
        .addColumn('our_number', 'text')
        .addColumn('our_external_id', 'text')
        .addColumn('our_date', 'text')
        .addColumn('our_amount_cents', 'bigint')
        .addColumn('our_tax_cents', 'bigint')
        .addColumn('error', 'text')
        .addColumn('error_field', 'text')
        .addPrimaryKeyConstraint('reconciliation_results_pk', ['recon_id', 'seq'])
        .execute();
      await db.schema.createIndex('reconciliation_results_outcome_ix').on('reconciliation_results').columns(['recon_id', 'outcome', 'seq']).execute();
      await db.schema.createIndex('reconciliation_results_ours_ix').on('reconciliation_results').columns(['recon_id', 'our_number']).execute();
    },
  };
}
