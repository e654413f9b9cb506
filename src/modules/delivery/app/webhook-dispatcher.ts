// The webhook dispatcher: a lifecycle job on every node (docs/webhooks.md, "Delivery"). Each cycle
//
// 1. fans new outbox events out: the events not yet dispatched, locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL),
//    get one delivery row per enabled endpoint of their tenant subscribed to their type, and are marked dispatched,
//    in one unit of work: an event is fanned out exactly once, and a crash before the commit leaves it undispatched;
// 2. claims due deliveries in one short unit of work: locked, skipping endpoints already at their concurrency bound on
//    this node (so one slow endpoint's backlog never fills the window of other tenants), leased past the attempt's
//    timeouts and counted;
// 3. attempts each outside any transaction and records the outcome with a compare-and-set on the lease
//    (storage/webhook-delivery-repository.ts). A node killed mid-attempt leaves a lease that runs out: the delivery is
//    attempted again, by any node, with the same id and bytes. Nothing is delivered that no event announced.
//
// Idle, it costs two indexed reads per `idlePollMs` and no write transaction (commits on other nodes are seen then);
// a commit on this node that wrote an outbox event wakes it at once (nudge, called after the commit of every unit of
// work that appended one: UnitOfWork.afterCommit, wired in server-services.ts).
import type { Clock } from '../../../shared/clock.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { OutboxRepository, UndispatchedEvent } from '../../events/index.ts';
import { nextAttemptAt } from '../domain/retry-schedule.ts';
import { signatureHeader } from '../domain/signature.ts';
import type { WebhookEndpointSecrets } from '../storage/webhook-contract.ts';
import type { Lease, Outcome, WebhookDeliveryRepository } from '../storage/webhook-delivery-repository.ts';
import type { WebhookEndpointRepository } from '../storage/webhook-endpoint-repository.ts';
import type { SecretSealer } from './secret-sealer.ts';
import type { SendRequest, SendResult } from './webhook-sender.ts';
import { newDeliveryId } from './webhook-service.ts';

export interface DispatchTx {
  outbox: OutboxRepository;
  webhookEndpoints: WebhookEndpointRepository;
  webhookDeliveries: WebhookDeliveryRepository;
}

export interface DispatcherOptions<T extends DispatchTx = DispatchTx> {
  uow: UnitOfWork<T>;
  clock: Clock;
  sealer: SecretSealer;
  send: (req: SendRequest) => Promise<SendResult>;
  perEndpointConcurrency: number;
  maxInFlight: number;
  /** How long a claimed attempt holds its delivery (longer than connect + response timeouts). */
  leaseMs: number;
  idlePollMs: number;
  /** Circuit breaker: consecutive failures that open it, and how long it stays open before a probe. */
  breaker?: { threshold: number; cooldownMs: number };
  batchSize?: number;
  random?: () => number;
  log?: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /**
   * Runs in each fan-out transaction with the events taken (e-mail on issue: app/email-dispatcher.ts autoSendRows);
   * answers how many outbox events it appended, which the next cycle fans out in turn.
   */
  onFanOut?: (tx: T, events: readonly UndispatchedEvent[], at: Date) => Promise<number>;
  /** Called after a delivery is dead-lettered (the metrics count them). */
  onDead?: () => void;
}

interface Claimed {
  lease: Lease;
  endpoint: WebhookEndpointSecrets;
}

const key = (tenantId: string, id: string) => `${tenantId}\u0000${id}`;

/**
 * One endpoint's circuit breaker on this node: closed (attempts flow), open (after `threshold` consecutive failures:
 * no attempt until `openUntil`, so a dead endpoint stops using places and its deliveries keep their remaining retries),
 * then half-open (one probe attempt: success closes it, failure opens it again for another cool-down).
 */
interface Breaker {
  failures: number;
  openUntil: number | undefined;
  probing: boolean;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export class WebhookDispatcher<T extends DispatchTx = DispatchTx> {
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private cycling = false;
  private again = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Attempts running on this node, per endpoint. */
  private readonly active = new Map<string, number>();
  private readonly batchSize: number;
  private readonly random: () => number;
  private lastErrorLog = 0;
  private readonly breakers = new Map<string, Breaker>();

  constructor(private readonly opts: DispatcherOptions<T>) {
    this.batchSize = opts.batchSize ?? 100;
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Runs a cycle now (a commit in this process, a redelivery), instead of at the next poll. */
  nudge(): void {
    if (!this.running) return;
    if (this.cycling) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  /** Stops taking work and waits for the attempts in flight to be recorded (each is bounded by its timeouts). */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Attempts in flight on this node (all endpoints, or one). */
  activeCount(tenantId?: string, endpointId?: string): number {
    return tenantId === undefined || endpointId === undefined ? this.inFlight.size : this.active.get(key(tenantId, endpointId)) ?? 0;
  }

  /** The circuit breaker of an endpoint on this node. */
  breakerState(tenantId: string, endpointId: string): BreakerState {
    const b = this.breakers.get(key(tenantId, endpointId));
    if (!b || b.openUntil === undefined) return 'closed';
    return this.opts.clock.now().getTime() < b.openUntil ? 'open' : 'half-open';
  }

  /**
   * A redelivery by hand: an open breaker of the endpoint goes half-open at once, so the delivery is the probe
   * (the tenant says the endpoint is back) instead of waiting out the cool-down.
   */
  probeNow(tenantId: string, endpointId: string): void {
    const b = this.breakers.get(key(tenantId, endpointId));
    if (b?.openUntil !== undefined && !b.probing) b.openUntil = Math.min(b.openUntil, this.opts.clock.now().getTime());
    this.nudge();
  }

  /** Whether a delivery of this endpoint may be claimed now (closed, or half-open with no probe running). */
  private admits(k: string, now: number): boolean {
    const b = this.breakers.get(k);
    if (!b || b.openUntil === undefined) return true;
    return now >= b.openUntil && !b.probing;
  }

  private recordBreaker(k: string, ok: boolean): void {
    const cfg = this.opts.breaker;
    if (!cfg) return;
    if (ok) {
      this.breakers.delete(k);
      return;
    }
    const b = this.breakers.get(k) ?? { failures: 0, openUntil: undefined, probing: false };
    b.failures++;
    if (b.probing || b.failures >= cfg.threshold) b.openUntil = this.opts.clock.now().getTime() + cfg.cooldownMs;
    b.probing = false;
    this.breakers.set(k, b);
  }

  private schedule(delayMs: number): void {
    if (!this.running || this.timer !== undefined || this.cycling) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.cycle();
    }, delayMs);
    this.timer.unref();
  }

  private async cycle(): Promise<void> {
    this.cycling = true;
    this.again = false;
    let delay = this.opts.idlePollMs;
    try {
      // Idle, a cycle is two indexed reads: no write transaction (SQLite's write lock) unless there is work.
      if (await this.opts.uow.read.outbox.hasUndispatched()) while (this.running && (await this.fanOut()) === this.batchSize);
      let due = await this.opts.uow.read.webhookDeliveries.nextDueAt();
      let claimed: Claimed[] = [];
      if (this.running && due !== undefined && Date.parse(due) <= this.opts.clock.now().getTime()) {
        claimed = await this.claim();
        for (const c of claimed) this.launch(c);
        due = await this.opts.uow.read.webhookDeliveries.nextDueAt();
      }
      const now = this.opts.clock.now().getTime();
      if (due !== undefined && Date.parse(due) > now) delay = Math.min(delay, Date.parse(due) - now);
      // A claim may have left due work behind: go on at once while it takes some. Due rows it cannot take (their
      // endpoints or this node at their bound) wait for a finished attempt's nudge or the next poll, not a busy loop.
      else if (claimed.length > 0 && this.inFlight.size < this.opts.maxInFlight) delay = 0;
    } catch (err) {
      const now = Date.now();
      if (now - this.lastErrorLog >= 10_000) {
        this.lastErrorLog = now;
        this.opts.log?.error({ err }, 'webhook dispatch cycle failed; retrying');
      }
    } finally {
      this.cycling = false;
    }
    this.schedule(this.again ? 0 : delay);
  }

  /** Fans one batch of undispatched events out to deliveries; the number of events taken. */
  private async fanOut(): Promise<number> {
    const at = this.opts.clock.now();
    return this.opts.uow.run(at, async (tx) => {
      const events = await tx.outbox.lockUndispatched(this.batchSize);
      if (events.length === 0) return 0;
      const endpoints = await tx.webhookEndpoints.enabledOf(events.map((e) => e.tenantId));
      const rows = [];
      for (const e of events) {
        for (const ep of endpoints) {
          // An endpoint gets the events written after it was created, of the types it subscribed to.
          if (ep.tenantId !== e.tenantId || !ep.eventTypes.includes(e.type) || ep.createdAt > e.createdAt) continue;
          rows.push({ tenantId: e.tenantId, id: newDeliveryId(), endpointId: ep.id, eventId: e.eventId, eventType: e.type });
        }
      }
      await tx.webhookDeliveries.insertMany(rows);
      if (this.opts.onFanOut && (await this.opts.onFanOut(tx, events, at)) > 0) this.again = true;
      await tx.outbox.markDispatched(events.map((e) => e.id));
      return events.length;
    });
  }

  private async claim(): Promise<Claimed[]> {
    const free = this.opts.maxInFlight - this.inFlight.size;
    if (free <= 0) return [];
    const now = this.opts.clock.now();
    const until = new Date(now.getTime() + this.opts.leaseMs).toISOString();
    const saturated = [...this.active].filter(([, n]) => n >= this.opts.perEndpointConcurrency).map(([k]) => k)
      // An open breaker's endpoint (or a half-open one already probing) is left out like a saturated one.
      .concat([...this.breakers.keys()].filter((k) => !this.admits(k, now.getTime())));
    return this.opts.uow.run(now, async (tx) => {
      const due = await tx.webhookDeliveries.lockDue(Math.min(free * 4, 500), saturated.map((k) => k.split('\u0000')[1]!));
      if (due.length === 0) return [];
      const endpoints = new Map((await tx.webhookEndpoints.getMany(due.map((d) => ({ tenantId: d.tenantId, id: d.endpointId }))))
        .map((e) => [key(e.tenantId, e.id), e]));
      const counts = new Map(this.active);
      const out: Claimed[] = [];
      const stopped = new Set<string>();
      for (const d of due) {
        if (out.length >= free) break;
        const k = key(d.tenantId, d.endpointId);
        const endpoint = endpoints.get(k);
        if (!endpoint || !endpoint.enabled) {
          // Its endpoint was disabled (by the tenant, or after a 410): dead-lettered, redeliverable once enabled.
          if (!stopped.has(k)) await tx.webhookDeliveries.stopPending(d.tenantId, d.endpointId, 'endpoint disabled');
          stopped.add(k);
          continue;
        }
        if ((counts.get(k) ?? 0) >= this.opts.perEndpointConcurrency || !this.admits(k, now.getTime())) continue;
        const breaker = this.breakers.get(k);
        if (breaker?.openUntil !== undefined) breaker.probing = true;
        counts.set(k, (counts.get(k) ?? 0) + 1);
        out.push({ lease: await tx.webhookDeliveries.lease(d, until), endpoint });
      }
      return out;
    });
  }

  private launch(c: Claimed): void {
    const k = key(c.endpoint.tenantId, c.endpoint.id);
    this.active.set(k, (this.active.get(k) ?? 0) + 1);
    const p = this.attempt(c)
      .catch((err: unknown) => this.opts.log?.error({ err, delivery: c.lease.delivery.id }, 'recording a webhook attempt failed; the lease will run out and it is tried again'))
      .finally(() => {
        const n = (this.active.get(k) ?? 1) - 1;
        if (n <= 0) this.active.delete(k);
        else this.active.set(k, n);
        this.inFlight.delete(p);
        this.nudge();
      });
    this.inFlight.add(p);
  }

  /** The secrets that sign now: the current one, and the previous one while it is still valid. */
  private secrets(e: WebhookEndpointSecrets, now: Date): string[] {
    const out = [this.opts.sealer.open(e.secretSealed, e.tenantId, e.id)];
    if (e.previousSecretSealed && e.previousSecretExpiresAt && Date.parse(e.previousSecretExpiresAt) > now.getTime()) {
      out.push(this.opts.sealer.open(e.previousSecretSealed, e.tenantId, e.id));
    }
    return out;
  }

  private async attempt({ lease, endpoint }: Claimed): Promise<void> {
    const d = lease.delivery;
    const body = (await this.opts.uow.read.outbox.payloads([d.eventId])).get(d.eventId);
    let result: SendResult;
    const now = this.opts.clock.now();
    let secrets: string[] | undefined;
    try {
      secrets = this.secrets(endpoint, now);
    } catch {
      // Sealed under a master key version no longer configured: a failed attempt (retried on the schedule), not a
      // lease left to run out forever.
    }
    if (body === undefined) {
      result = { statusCode: null, error: 'the event is gone', latencyMs: 0, response: null };
    } else if (!secrets) {
      result = { statusCode: null, error: 'the signing secret cannot be opened (master key version not configured)', latencyMs: 0, response: null };
    } else {
      const timestamp = Math.floor(now.getTime() / 1000);
      result = await this.opts.send({
        url: endpoint.url, body,
        headers: {
          'webhook-id': d.eventId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader(secrets, d.eventId, timestamp, body),
        },
      });
    }
    const at = this.opts.clock.now();
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const gone = result.statusCode === 410;
    this.recordBreaker(key(endpoint.tenantId, endpoint.id), ok);
    let outcome: Outcome;
    if (ok) outcome = { status: 'delivered' };
    else if (gone || body === undefined) outcome = { status: 'dead' };
    else {
      const next = nextAttemptAt(lease.attempts, at, this.random());
      outcome = next ? { status: 'pending', nextAttemptAt: next.toISOString() } : { status: 'dead' };
    }
    let dead = false;
    await this.opts.uow.run(at, async (tx) => {
      const recorded = await tx.webhookDeliveries.record(lease, outcome, {
        statusCode: result.statusCode, error: result.error, latencyMs: result.latencyMs, response: result.response,
      });
      // 410 Gone: the receiver says the endpoint no longer exists (Standard Webhooks); stop sending to it.
      if (recorded && gone) {
        await tx.webhookEndpoints.disable(endpoint.tenantId, endpoint.id, 'gone');
        await tx.webhookDeliveries.stopPending(endpoint.tenantId, endpoint.id, 'endpoint disabled');
      }
      if (!recorded) this.opts.log?.warn({ delivery: d.id }, 'a webhook attempt outlived its lease; its outcome was not recorded');
      dead = recorded && outcome.status === 'dead';
    });
    if (dead) this.opts.onDead?.();
  }
}
