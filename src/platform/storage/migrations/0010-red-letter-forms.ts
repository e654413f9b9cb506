// Red-letter confirmation forms (modules/red-letter/). Append-only: never edit this once released.
//
// red_letter_forms: one row per form (红字发票信息确认单). `claims` is the JSON list of what the form reverses per blue
// line (amount, tax, quantity as decimal strings); `amount`/`tax`/`total` their sums. `request_key` is the request in
// one spelling (reason and lines), so filing the same form again finds it; `idempotency_key` is the filer's header.
// Both parties read a form: the seller (`seller_tenant_id`, whose invoice it is) and, when the buyer is a tenant of
// this server, the buyer (`buyer_tenant_id`). `expires_at` is set while the form awaits the counterparty (02, 03).
//
// red_letter_blues: one row per blue invoice with a form, the row every filing against that invoice locks (an upsert
// that bumps `version`), so two forms racing against one invoice are serialised and the second sees the first's
// claims (PostgreSQL; SQLite's write transactions are serialised anyway).
//
// red_letter_transitions: the history of every form, one row per move, in id order.
import type { Kysely, Migration } from 'kysely';
import type { Engine } from '../storage-engine.ts';
import { autoIncrementId } from './dialect-aware.ts';

export function redLetterForms(engine: Engine): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('red_letter_forms')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('seller_tenant_id', 'text', (c) => c.notNull())
        .addColumn('buyer_tenant_id', 'text')
        .addColumn('filer_tenant_id', 'text', (c) => c.notNull())
        .addColumn('filed_by', 'text', (c) => c.notNull())
        .addColumn('blue_number', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('claims', 'text', (c) => c.notNull())
        .addColumn('amount', 'text', (c) => c.notNull())
        .addColumn('tax', 'text', (c) => c.notNull())
        .addColumn('total', 'text', (c) => c.notNull())
        .addColumn('request_key', 'text', (c) => c.notNull())
        .addColumn('idempotency_key', 'text')
        .addColumn('expires_at', 'text')
        .addColumn('red_number', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('red_letter_forms_seller_ix').on('red_letter_forms').columns(['seller_tenant_id', 'id']).execute();
      await db.schema.createIndex('red_letter_forms_buyer_ix').on('red_letter_forms').columns(['buyer_tenant_id', 'id']).execute();
      await db.schema.createIndex('red_letter_forms_blue_ix').on('red_letter_forms').columns(['blue_number']).execute();
      await db.schema.createIndex('red_letter_forms_expiry_ix').on('red_letter_forms').columns(['state', 'expires_at']).execute();
      await db.schema
        .createIndex('red_letter_forms_idempotency_uq').unique().on('red_letter_forms').columns(['filer_tenant_id', 'idempotency_key'])
        .execute();
      await db.schema
        .createTable('red_letter_blues')
        .addColumn('blue_number', 'text', (c) => c.primaryKey())
        .addColumn('seller_tenant_id', 'text', (c) => c.notNull())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('red_letter_transitions')
        .addColumn('id', ...autoIncrementId(engine))
        .addColumn('form_id', 'text', (c) => c.notNull())
        .addColumn('from_state', 'text', (c) => c.notNull())
        .addColumn('to_state', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('party', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('red_letter_transitions_form_ix').on('red_letter_transitions').columns(['form_id', 'id']).execute();
    },
  };
}
