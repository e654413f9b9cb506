// A tenant's document settings (modules/documents/: 备注 party details, UBL payment terms and electronic addresses).
// Append-only: never edit this once released. One JSON text per tenant, read over the defaults (a setting added
// later needs no migration).
import type { Kysely, Migration } from 'kysely';

export function documentSettings(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('tenant_document_settings')
        .addColumn('tenant_id', 'text', (c) => c.notNull().primaryKey())
        .addColumn('settings', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
