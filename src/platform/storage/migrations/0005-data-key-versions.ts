// Key rotation for personal data at rest (field-protector.ts, modules/keys/app/reencrypt-job.ts). Append-only: never edit this
// once released.
//
// invoices.data_key_version / idempotency_keys.data_key_version: the tenant data-key version the row's envelopes are
// under, written by the issuing transaction. NULL = not yet known to be protected: rows written before 0003
// (plaintext) or between 0003 and this migration (under version 1, but a migration cannot tell without the master
// key). The re-encryption job reads such rows once and fills the column.
//
// Indexes, so that the job never scans the table to find its work:
// - (tenant_id, data_key_version, <row>): the rows of one tenant under versions older than its current one, in the
//   order the job walks them (a keyset cursor resumes after a crash or a row that would not open);
// - partial (tenant_id, <row>) WHERE data_key_version IS NULL: empty once the job has passed, so the job's wake-up
//   probe for unprotected rows of every tenant costs nothing.
//
// tenant_index_keys: each tenant's blind-index key, wrapped under the master key like the data keys. It used to be
// derived from the master key on the fly; stored, it survives a master-key rotation (which only re-wraps it), so the
// indexes in invoices stay valid. The first one stored for a tenant is the key its existing indexes were made with.
import { sql, type Kysely, type Migration } from 'kysely';

export function dataKeyVersions(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      for (const [table, row] of [['invoices', 'number'], ['idempotency_keys', 'key']] as const) {
        await db.schema.alterTable(table).addColumn('data_key_version', 'integer').execute();
        await db.schema.createIndex(`${table}_data_key_version_ix`).on(table).columns(['tenant_id', 'data_key_version', row]).execute();
        await db.schema
          .createIndex(`${table}_unprotected_ix`)
          .on(table)
          .columns(['tenant_id', row])
          .where(sql<boolean>`data_key_version is null`)
          .execute();
      }
      await db.schema
        .createTable('tenant_index_keys')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('wrapped_key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tenant_index_keys_pkey', ['tenant_id'])
        .execute();
    },
  };
}
