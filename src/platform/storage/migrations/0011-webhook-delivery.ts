// Webhook delivery (modules/delivery/, docs/webhooks.md). Append-only: never edit this once released.
//
// outbox_events.event_id: the stable id of an event (`evt_…`), also inside its payload (the envelope) and the
// `webhook-id` of every delivery of it. Rows written before this migration get `evt_<id>`; their payload stays the
// old pointer, read as before by the live stream. They are marked dispatched: no webhook subscription existed when
// they were written, so the dispatcher has nothing to fan out for them.
//
// webhook_endpoints: a tenant's subscriptions. The signing secret is sealed under the master key (key-store.ts
// sealSecret, bound to tenant and endpoint); after a rotation the previous one stays valid until
// previous_secret_expires_at, and deliveries are signed with both (Standard Webhooks allows several signatures).
//
// webhook_deliveries: one row per (endpoint, event), written by the dispatcher when it fans an event out (the unique
// key makes a second fan-out after a crash a no-op), then leased (next_attempt_at moved past the attempt's timeout,
// attempts counted) and attempted until delivered or dead-lettered.
// The due index serves the dispatcher's scan `status = 'pending' AND next_attempt_at <= now ORDER BY next_attempt_at`;
// the log index the per-endpoint listing, newest first, with a keyset cursor.
import { sql, type Kysely, type Migration } from 'kysely';

export function webhookDelivery(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('outbox_events').addColumn('event_id', 'text').execute();
      await sql`update outbox_events set event_id = 'evt_' || id`.execute(db);
      await sql`update outbox_events set dispatched_at = created_at where dispatched_at is null`.execute(db);
      await db.schema.createIndex('outbox_events_event_id_key').on('outbox_events').column('event_id').unique().execute();

      await db.schema
        .createTable('webhook_endpoints')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('event_types', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('disabled_reason', 'text')
        .addColumn('secret_sealed', 'text', (c) => c.notNull())
        .addColumn('previous_secret_sealed', 'text')
        .addColumn('previous_secret_expires_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('webhook_endpoints_pkey', ['tenant_id', 'id'])
        .execute();

      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('endpoint_id', 'text', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'text')
        .addColumn('last_attempt_at', 'text')
        .addColumn('last_status_code', 'integer')
        .addColumn('last_error', 'text')
        .addColumn('last_latency_ms', 'integer')
        .addColumn('last_response', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('delivered_at', 'text')
        .addPrimaryKeyConstraint('webhook_deliveries_pkey', ['tenant_id', 'id'])
        .execute();
      await db.schema
        .createIndex('webhook_deliveries_endpoint_event_key')
        .on('webhook_deliveries')
        .columns(['tenant_id', 'endpoint_id', 'event_id'])
        .unique()
        .execute();
      await db.schema.createIndex('webhook_deliveries_due_ix').on('webhook_deliveries').columns(['status', 'next_attempt_at']).execute();
      await db.schema
        .createIndex('webhook_deliveries_log_ix')
        .on('webhook_deliveries')
        .columns(['tenant_id', 'endpoint_id', 'created_at', 'id'])
        .execute();
    },
  };
}
