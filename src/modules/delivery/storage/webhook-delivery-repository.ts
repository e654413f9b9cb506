// Deliveries of events to webhook endpoints. The dispatcher takes due rows with row locks (`FOR UPDATE SKIP LOCKED`
// on PostgreSQL, so nodes never take the same row; SQLite's single writer serialises them) and leases them by
// moving next_attempt_at past the attempt's timeout and counting the attempt, in one short transaction. The attempt
// runs outside any transaction; its outcome is recorded with a compare-and-set on that lease, so an attempt whose lease
// ran out (and which another node may have taken over) records nothing. A crash mid-attempt leaves the row leased:
// it is due again when the lease ends, and delivered at least once (receivers dedupe by `webhook-id`).
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import { toSafeInteger, type WebhookDeliveriesTable } from '../../../platform/storage/database.ts';
import type { AttemptRecord, DeliveryStatus, WebhookDelivery } from './webhook-contract.ts';

function toDelivery(r: WebhookDeliveriesTable): WebhookDelivery {
  return {
    tenantId: r.tenant_id, id: r.id, endpointId: r.endpoint_id, eventId: r.event_id, eventType: r.event_type,
    status: r.status as DeliveryStatus, attempts: Number(r.attempts), nextAttemptAt: r.next_attempt_at,
    lastAttemptAt: r.last_attempt_at, lastStatusCode: r.last_status_code === null ? null : Number(r.last_status_code),
    lastError: r.last_error, lastLatencyMs: r.last_latency_ms === null ? null : Number(r.last_latency_ms),
    lastResponse: r.last_response, createdAt: r.created_at, deliveredAt: r.delivered_at,
  };
}

export interface NewDelivery {
  tenantId: string;
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
}

/** A leased delivery: the lease to present when recording its outcome. */
export interface Lease {
  delivery: WebhookDelivery;
  /** attempts after this claim, and the lease's end (next_attempt_at). */
  attempts: number;
  until: string;
}

/** What the attempt decided. */
export type Outcome =
  | { status: 'delivered' }
  | { status: 'pending'; nextAttemptAt: string }
  | { status: 'dead' };

export interface DeliveryCursor {
  createdAt: string;
  id: string;
}

const ROWS_PER_INSERT = 500;

export class WebhookDeliveryRepository {
  constructor(private readonly scope: Scope) {}

  private get db() {
    return this.scope.db;
  }

  /** Adds deliveries, due at once; one that exists for the same (endpoint, event) is kept as it is. */
  async insertMany(rows: readonly NewDelivery[]): Promise<void> {
    const at = stampOf(this.scope);
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      await this.db.insertInto('webhook_deliveries')
        .values(rows.slice(i, i + ROWS_PER_INSERT).map((r) => ({
          tenant_id: r.tenantId, id: r.id, endpoint_id: r.endpointId, event_id: r.eventId, event_type: r.eventType,
          status: 'pending', attempts: 0, next_attempt_at: at, last_attempt_at: null, last_status_code: null,
          last_error: null, last_latency_ms: null, last_response: null, created_at: at, delivered_at: null,
        })))
        .onConflict((oc) => oc.columns(['tenant_id', 'endpoint_id', 'event_id']).doNothing())
        .execute();
    }
  }

  /**
   * Due deliveries (pending, next_attempt_at ≤ the unit of work's time), earliest first, locked for this transaction
   * and skipping rows another transaction holds; endpoints at their concurrency bound on this node are left out, so
   * their backlog does not fill the window of other endpoints.
   */
  async lockDue(limit: number, skipEndpoints: readonly string[] = []): Promise<WebhookDelivery[]> {
    const at = stampOf(this.scope);
    let q = this.db.selectFrom('webhook_deliveries').selectAll()
      .where('status', '=', 'pending').where('next_attempt_at', '<=', at)
      .orderBy('next_attempt_at').limit(limit);
    if (skipEndpoints.length > 0) q = q.where('endpoint_id', 'not in', [...skipEndpoints]);
    if (this.scope.traits.engine === 'postgres') q = q.forUpdate().skipLocked();
    return (await q.execute()).map(toDelivery);
  }

  /** How many deliveries are due at `at` (across tenants), and the earliest time one of them became due. */
  async dueStats(at: string): Promise<{ due: number; oldest: string | null }> {
    const r = await this.db.selectFrom('webhook_deliveries')
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.min('next_attempt_at').as('oldest')])
      .where('status', '=', 'pending').where('next_attempt_at', '<=', at)
      .executeTakeFirstOrThrow();
    return { due: toSafeInteger(r.n), oldest: (r.oldest) ?? null };
  }

  /** Leases a locked due delivery until `until`, counting the attempt. */
  async lease(d: WebhookDelivery, until: string): Promise<Lease> {
    stampOf(this.scope);
    const attempts = d.attempts + 1;
    await this.db.updateTable('webhook_deliveries').set({ attempts, next_attempt_at: until })
      .where('tenant_id', '=', d.tenantId).where('id', '=', d.id).execute();
    return { delivery: { ...d, attempts, nextAttemptAt: until }, attempts, until };
  }

  /** Records an attempt's outcome if the lease is still this attempt's; false when it ran out and was taken over. */
  async record(lease: Lease, outcome: Outcome, attempt: AttemptRecord): Promise<boolean> {
    const at = stampOf(this.scope);
    const r = await this.db.updateTable('webhook_deliveries').set({
      status: outcome.status,
      next_attempt_at: outcome.status === 'pending' ? outcome.nextAttemptAt : null,
      delivered_at: outcome.status === 'delivered' ? at : null,
      last_attempt_at: at, last_status_code: attempt.statusCode, last_error: attempt.error,
      last_latency_ms: attempt.latencyMs, last_response: attempt.response,
    })
      .where('tenant_id', '=', lease.delivery.tenantId).where('id', '=', lease.delivery.id)
      .where('status', '=', 'pending').where('attempts', '=', lease.attempts).where('next_attempt_at', '=', lease.until)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** The earliest next_attempt_at of pending deliveries (leases included), for the dispatcher's sleep. */
  async nextDueAt(): Promise<string | undefined> {
    const r = await this.db.selectFrom('webhook_deliveries').select((eb) => eb.fn.min('next_attempt_at').as('at'))
      .where('status', '=', 'pending').executeTakeFirst();
    return r?.at ?? undefined;
  }

  async get(tenantId: string, id: string): Promise<WebhookDelivery | undefined> {
    const r = await this.db.selectFrom('webhook_deliveries').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r ? toDelivery(r) : undefined;
  }

  /** One endpoint's deliveries, newest first, after the cursor (keyset on created_at, id). */
  async listForEndpoint(tenantId: string, endpointId: string, after: DeliveryCursor | undefined, limit: number): Promise<WebhookDelivery[]> {
    let q = this.db.selectFrom('webhook_deliveries').selectAll()
      .where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId);
    if (after) {
      q = q.where((eb) => eb.or([
        eb('created_at', '<', after.createdAt),
        eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)]),
      ]));
    }
    return (await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute()).map(toDelivery);
  }

  /** Makes a delivery due again now, its retry schedule started over (redelivery by hand). */
  async redeliver(tenantId: string, id: string): Promise<void> {
    const at = stampOf(this.scope);
    await this.db.updateTable('webhook_deliveries').set({ status: 'pending', attempts: 0, next_attempt_at: at, delivered_at: null })
      .where('tenant_id', '=', tenantId).where('id', '=', id).execute();
  }

  /** Dead letters of every tenant, newest first (the operator's view), optionally of one tenant. */
  async listDead(limit: number, tenantId?: string): Promise<WebhookDelivery[]> {
    let q = this.db.selectFrom('webhook_deliveries').selectAll().where('status', '=', 'dead');
    if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
    return (await q.orderBy('last_attempt_at', 'desc').orderBy('id', 'desc').limit(limit).execute()).map(toDelivery);
  }

  /** Replay: a delivery per event, new or reset (pending, attempts 0, due now), under the same event id. */
  async replay(rows: readonly NewDelivery[]): Promise<void> {
    const at = stampOf(this.scope);
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      await this.db.insertInto('webhook_deliveries')
        .values(rows.slice(i, i + ROWS_PER_INSERT).map((r) => ({
          tenant_id: r.tenantId, id: r.id, endpoint_id: r.endpointId, event_id: r.eventId, event_type: r.eventType,
          status: 'pending', attempts: 0, next_attempt_at: at, last_attempt_at: null, last_status_code: null,
          last_error: null, last_latency_ms: null, last_response: null, created_at: at, delivered_at: null,
        })))
        .onConflict((oc) => oc.columns(['tenant_id', 'endpoint_id', 'event_id']).doUpdateSet({ status: 'pending', attempts: 0, next_attempt_at: at, delivered_at: null }))
        .execute();
    }
  }

  /** Stops every pending delivery of an endpoint (disabled or deleted): they are dead-lettered, not lost. */
  async stopPending(tenantId: string, endpointId: string, reason: string): Promise<void> {
    stampOf(this.scope);
    await this.db.updateTable('webhook_deliveries').set({ status: 'dead', next_attempt_at: null, last_error: reason })
      .where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).where('status', '=', 'pending').execute();
  }

  async deleteForEndpoint(tenantId: string, endpointId: string): Promise<void> {
    stampOf(this.scope);
    await this.db.deleteFrom('webhook_deliveries').where('tenant_id', '=', tenantId).where('endpoint_id', '=', endpointId).execute();
  }
}
