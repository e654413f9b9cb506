// E-mail delivery of invoices (modules/delivery/, docs/email.md). Append-only: never edit this once released.
//
// email_deliveries: one row per message (a `POST /v1/invoices/{number}/send`, or the automatic sending of a newly
// issued invoice fanned out from its `invoice.issued` event). `recipient_sealed` is the address given in the request,
// encrypted under the tenant's data key like the buyer fields of invoices (AAD: tenant, table, column, row id); NULL
// means the invoice's own buyer e-mail (signed, immutable, already encrypted in the invoice). `event_id` is the outbox
// event that announced the message (`invoice.email-queued`); for automatic sending the unique key on
// (tenant_id, source_event_id) makes a second fan-out of the same `invoice.issued` event a no-op.
// `next_attempt_at` is when the next attempt is due (while one runs, the end of its lease), NULL once sent or dead:
// the dispatcher's scan is `next_attempt_at <= now ORDER BY next_attempt_at` on email_deliveries_due_ix.
//
// tenant_email_settings: the tenant's choices (automatic sending on issue, default attachments and language).
import type { Kysely, Migration } from 'kysely';

export function emailDelivery(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('email_deliveries')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('invoice_number', 'text', (c) => c.notNull())
        .addColumn('recipient_sealed', 'text')
        .addColumn('formats', 'text', (c) => c.notNull())
        .addColumn('lang', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('source_event_id', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'text')
        .addColumn('last_attempt_at', 'text')
        .addColumn('last_reply_code', 'integer')
        .addColumn('last_reply', 'text')
        .addColumn('message_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'text')
        .addPrimaryKeyConstraint('email_deliveries_pkey', ['tenant_id', 'id'])
        .execute();
      await db.schema.createIndex('email_deliveries_due_ix').on('email_deliveries').column('next_attempt_at').execute();
      await db.schema.createIndex('email_deliveries_invoice_ix').on('email_deliveries').columns(['tenant_id', 'invoice_number', 'created_at']).execute();
      await db.schema.createIndex('email_deliveries_source_key').on('email_deliveries').columns(['tenant_id', 'source_event_id']).unique().execute();

      await db.schema
        .createTable('tenant_email_settings')
        .addColumn('tenant_id', 'text', (c) => c.notNull().primaryKey())
        .addColumn('auto_send', 'integer', (c) => c.notNull())
        .addColumn('formats', 'text', (c) => c.notNull())
        .addColumn('lang', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
