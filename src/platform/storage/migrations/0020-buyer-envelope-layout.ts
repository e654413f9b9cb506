// One envelope per invoice for the buyer's personal data (modules/invoicing/storage/invoice-protection.ts). Append-only:
// never edit this once released.
//
// invoices.pii_layout: the layout of the buyer's personal data in the stored document, written by the issuing
// transaction and by the re-encryption job. 1 = the whole buyer sealed in one envelope, the masked buyer in its place;
// NULL = a row written before this migration: one envelope per field (or plaintext, before 0003). No row is rewritten
// here (that needs the keys): the re-encryption job (modules/keys/app/reencrypt-job.ts) reads each such row once and
// writes it in layout 1, while readers keep opening the older layout.
//
// The partial index (tenant_id, number) WHERE pii_layout IS NULL is the job's list of those rows, in the order it
// walks them; it is empty once the job has passed, so its wake-up probe costs nothing.
import { sql, type Kysely, type Migration } from 'kysely';

export function buyerEnvelopeLayout(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('invoices').addColumn('pii_layout', 'integer').execute();
      await db.schema
        .createIndex('invoices_pii_layout_ix')
        .on('invoices')
        .columns(['tenant_id', 'number'])
        .where(sql<boolean>`pii_layout is null`)
        .execute();
    },
  };
}
