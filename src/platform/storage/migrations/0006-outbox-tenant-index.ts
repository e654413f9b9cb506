// Live event stream (modules/events/app/event-stream.ts). Append-only: never edit this once released.
//
// A client resuming its stream (Last-Event-ID) reads its own tenant's events after an id. The primary key alone would
// make that a scan of every tenant's events since then, filtered; (tenant_id, id) makes it a range read of the one
// tenant's rows. The global poll (`id > lastSeen ORDER BY id`) already runs on the primary key.
import type { Kysely, Migration } from 'kysely';

export function outboxTenantIndex(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('outbox_events_tenant_id_ix').on('outbox_events').columns(['tenant_id', 'id']).execute();
    },
  };
}
