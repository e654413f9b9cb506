// Received invoices, the buyer's side (modules/received/). Append-only: never edit this once released.
//
// received_invoices: the buyer tenant's own accounting status of an invoice addressed to it by another tenant of this
// server: booked (入账) and selected for deduction (用途勾选), each with the time it was last set. One row per (buyer
// tenant, invoice number), made on the buyer's first change (or when a red-letter filing reads it under lock); no row
// reads as neither booked nor selected. `seller_tenant_id` is the invoice's owner, kept for the operator.
//
// Indexes: finding an invoice's buyer tenant is a lookup of tenants by tax ID (earliest created first:
// tenants_tax_id_ix), done once per issuing batch and on every read of a received invoice; a buyer's list of received
// invoices is a range of invoices by buyer tax ID, newest issue date first (invoices_buyer_received_ix), whatever
// tenant issued them (the older invoices_buyer_tax_id_ix leads with the seller's tenant_id).
import type { Kysely, Migration } from 'kysely';

export function receivedInvoices(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('received_invoices')
        .addColumn('buyer_tenant_id', 'text', (c) => c.notNull())
        .addColumn('number', 'text', (c) => c.notNull())
        .addColumn('seller_tenant_id', 'text', (c) => c.notNull())
        .addColumn('booked', 'integer', (c) => c.notNull())
        .addColumn('booked_at', 'text')
        .addColumn('deduction_selected', 'integer', (c) => c.notNull())
        .addColumn('deduction_selected_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('received_invoices_pk', ['buyer_tenant_id', 'number'])
        .execute();
      await db.schema.createIndex('tenants_tax_id_ix').on('tenants').columns(['tax_id', 'created_at', 'id']).execute();
      await db.schema.createIndex('invoices_buyer_received_ix').on('invoices').columns(['buyer_tax_id', 'issue_date', 'number']).execute();
    },
  };
}
