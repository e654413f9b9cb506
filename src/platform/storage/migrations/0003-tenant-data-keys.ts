// Personal data at rest (issue 3, docs/design.md §4 invariant 8). Append-only: never edit this once released.
//
// tenant_data_keys: each tenant's data keys (platform/crypto/field-cipher.ts), wrapped under the master key; one row per
// version, the newest `active` one encrypts new writes. The buyer's phone, e-mail, address, bank account and an
// ID-card tax ID are stored inside the invoice document (and the idempotency body) as field envelopes.
//
// invoices gains three keyed blind indexes (platform/crypto/blind-index.ts) so a tenant can search by buyer phone, e-mail or
// tax ID without decrypting. Rows written before this migration keep their plaintext document and have NULL indexes
// (the master key is not available to migrations): a re-encryption job has to move them; until then search by tax ID
// still finds them through the plaintext buyer_tax_id column.
import type { Kysely, Migration } from 'kysely';

export function tenantDataKeys(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('tenant_data_keys')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('wrapped_key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tenant_data_keys_pkey', ['tenant_id', 'version'])
        .execute();
      for (const col of ['buyer_phone_bidx', 'buyer_email_bidx', 'buyer_tax_id_bidx']) {
        await db.schema.alterTable('invoices').addColumn(col, 'text').execute();
        await db.schema.createIndex(`invoices_${col}_ix`).on('invoices').columns(['tenant_id', col]).execute();
      }
    },
  };
}
