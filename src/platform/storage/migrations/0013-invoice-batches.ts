// Batch issuance (modules/batches/). Append-only: never edit this once released.
//
// invoice_batches: one row per accepted batch (POST /v1/invoice-batches, `fapiao issue`): who submitted it, the counts
// fixed at submission (`total` items, `invalid` refused by validation) and the state, `accepted` until no item is
// pending, then `completed` (set once, by the node that sees the last item settle: a compare-and-set on the state).
// Ids grow with time (`bat_<ms hex><random>`), so the per-tenant index pages newest first with the id as cursor.
//
// invoice_batch_items: one row per item, by its position (`idx`, 0-based; `line` is its line in a JSON Lines or CSV
// file). `input` is the validated request (encrypted with the tenant's data key when field keys are configured),
// cleared once the item settles; `state` pending → issued (with `invoice_number`) or failed (with `problem`, the
// refusal as JSON), or invalid from the start. A pending item is leased by the node issuing it (`lease_until`); the
// issuing transaction marks it issued, so an item is issued exactly once. The pending index serves the job's scan.
import type { Kysely, Migration } from 'kysely';

export function invoiceBatches(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('invoice_batches')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('total', 'integer', (c) => c.notNull())
        .addColumn('invalid', 'integer', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('ip', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('completed_at', 'text')
        .execute();
      await db.schema.createIndex('invoice_batches_tenant_ix').on('invoice_batches').columns(['tenant_id', 'id']).execute();
      await db.schema
        .createTable('invoice_batch_items')
        .addColumn('batch_id', 'text', (c) => c.notNull())
        .addColumn('idx', 'integer', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('line', 'integer')
        .addColumn('external_id', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('input', 'text')
        .addColumn('invoice_number', 'text')
        .addColumn('problem', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('lease_until', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('invoice_batch_items_pk', ['batch_id', 'idx'])
        .execute();
      await db.schema.createIndex('invoice_batch_items_pending_ix').on('invoice_batch_items').columns(['state', 'batch_id', 'idx']).execute();
    },
  };
}
