// The HTTP request an audit entry was written for (the `X-Request-Id` the server took or generated), searchable by
// `fapiao audit list --request-id` and `GET /admin/v1/audit?requestId=`; and the request that submitted a batch, so
// the entries and events of its items name it too. Append-only: never edit this once released. Existing rows keep
// null, which the hash chain encodes as before (modules/audit/domain/audit-chain.ts): they still verify.
import type { Kysely, Migration } from 'kysely';

export function auditRequestId(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('audit_events').addColumn('request_id', 'text').execute();
      await db.schema.createIndex('audit_events_request_ix').on('audit_events').column('request_id').execute();
      await db.schema.alterTable('invoice_batches').addColumn('request_id', 'text').execute();
    },
  };
}
