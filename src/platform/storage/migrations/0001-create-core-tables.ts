// Core tables. Append-only: never edit a migration once released; add 0002-… instead.
//
// Every tenant-owned table has tenant_id first in its primary key so that a distributed PostgreSQL (Citus) can shard
// by tenant (docs/design.md §9). Constraint and index names are fixed here because storage reports unique violations by
// name (UniqueConstraint in storage.ts); SQLite reports columns instead and sqlite-errors.ts maps them to these names.
import { sql, type Kysely, type Migration } from 'kysely';
import type { Engine } from '../storage-engine.ts';
import { autoIncrementId } from './dialect-aware.ts';

export function createCoreTables(engine: Engine): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('tenants')
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('tax_id', 'text', (c) => c.notNull())
        .addColumn('address', 'text')
        .addColumn('phone', 'text')
        .addColumn('bank_name', 'text')
        .addColumn('bank_account', 'text')
        .addColumn('region_code', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('allowed_rates', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tenants_pkey', ['id'])
        .execute();

      await db.schema
        .createTable('api_keys')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .addPrimaryKeyConstraint('api_keys_pkey', ['tenant_id', 'id'])
        .addUniqueConstraint('api_keys_key_hash_uq', ['key_hash'])
        .execute();

      await db.schema
        .createTable('signing_keys')
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('private_key_sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('signing_keys_pkey', ['id'])
        .execute();

      await db.schema
        .createTable('number_series')
        .addColumn('series', 'text', (c) => c.notNull())
        .addColumn('next_seq', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('number_series_pkey', ['series'])
        .execute();

      await db.schema
        .createTable('invoices')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('number', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('issue_date', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'text', (c) => c.notNull())
        .addColumn('buyer_name', 'text', (c) => c.notNull())
        .addColumn('buyer_tax_id', 'text')
        .addColumn('total', 'text', (c) => c.notNull())
        .addColumn('total_cents', 'bigint', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('original_number', 'text')
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('ledger_index', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('invoices_pkey', ['tenant_id', 'number'])
        // Numbers are global (a series is year+region+channel, shared by tenants): unique across tenants.
        .addUniqueConstraint('invoices_number_uq', ['number'])
        // NULL external ids are distinct from each other on both engines, so any number of invoices may omit it.
        .addUniqueConstraint('invoices_external_id_uq', ['tenant_id', 'external_id'])
        .execute();
      await db.schema.createIndex('invoices_issue_date_ix').on('invoices').columns(['tenant_id', 'issue_date', 'number']).execute();
      await db.schema.createIndex('invoices_updated_at_ix').on('invoices').columns(['tenant_id', 'updated_at']).execute();
      await db.schema.createIndex('invoices_buyer_tax_id_ix').on('invoices').columns(['tenant_id', 'buyer_tax_id']).execute();
      await db.schema.createIndex('invoices_original_number_ix').on('invoices').columns(['tenant_id', 'original_number']).execute();

      await db.schema
        .createTable('invoice_lines')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('number', 'text', (c) => c.notNull())
        .addColumn('line_no', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('tax_code', 'text', (c) => c.notNull())
        .addColumn('amount', 'text', (c) => c.notNull())
        .addColumn('amount_cents', 'bigint', (c) => c.notNull())
        .addColumn('tax_rate', 'text', (c) => c.notNull())
        .addColumn('tax_exemption', 'text')
        .addColumn('tax', 'text', (c) => c.notNull())
        .addColumn('tax_cents', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('invoice_lines_pkey', ['tenant_id', 'number', 'line_no'])
        .addForeignKeyConstraint('invoice_lines_invoice_fk', ['tenant_id', 'number'], 'invoices', ['tenant_id', 'number'])
        .execute();

      await db.schema
        .createTable('idempotency_keys')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('request_hash', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('invoice_number', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pkey', ['tenant_id', 'key'])
        .execute();
      await db.schema.createIndex('idempotency_keys_created_at_ix').on('idempotency_keys').column('created_at').execute();

      // The ledger is global (one append-only log of every tenant's invoices); a single row holds its size.
      await db.schema
        .createTable('ledger_state')
        .addColumn('id', 'integer', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_state_pkey', ['id'])
        .execute();
      await sql`insert into ledger_state (id, size) values (1, 0)`.execute(db);

      await db.schema
        .createTable('ledger_leaves')
        .addColumn('idx', 'bigint', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('number', 'text', (c) => c.notNull())
        .addColumn('leaf_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_leaves_pkey', ['idx'])
        .addUniqueConstraint('ledger_leaves_number_uq', ['number'])
        .execute();

      await db.schema
        .createTable('outbox_events')
        .addColumn('id', ...autoIncrementId(engine))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('dispatched_at', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('outbox_events_pending_ix').on('outbox_events').columns(['dispatched_at', 'id']).execute();

      await db.schema
        .createTable('audit_events')
        .addColumn('id', ...autoIncrementId(engine))
        .addColumn('tenant_id', 'text')
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('ip', 'text')
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('prev_hash', 'text')
        .addColumn('hash', 'text')
        .execute();
      await db.schema.createIndex('audit_events_tenant_at_ix').on('audit_events').columns(['tenant_id', 'at']).execute();
    },
  };
}
