// Webhook subscriptions of a tenant and their delivery log (docs/webhooks.md). Every use case owns its unit of work
// with its audit entry; every query is scoped by tenant, so another tenant's endpoint or delivery is not found (404).
//
// The signing secret is generated here, returned once (on create and on rotation) and stored sealed. A rotation keeps
// the previous secret valid for PREVIOUS_SECRET_TTL_MS: deliveries meanwhile carry a signature under each.
import { randomBytes } from 'node:crypto';
import { AppError } from '../../../shared/errors.ts';
import type { Clock } from '../../../shared/clock.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import { stampEntry, type AuditRepository, type AuditStamp } from '../../audit/index.ts';
import { EVENT_TYPES, isEventType, outboxEvent, type OutboxRepository } from '../../events/index.ts';
import { newWebhookSecret } from '../domain/signature.ts';
import type { WebhookDelivery, WebhookEndpoint } from '../storage/webhook-contract.ts';
import { publicEndpoint, type EndpointChange, type WebhookEndpointRepository } from '../storage/webhook-endpoint-repository.ts';
import type { DeliveryCursor, WebhookDeliveryRepository } from '../storage/webhook-delivery-repository.ts';
import type { SecretSealer } from './secret-sealer.ts';

export const PREVIOUS_SECRET_TTL_MS = 24 * 60 * 60 * 1000;

/** Events re-enqueued by one replay call at most (the answer says when the range held more). */
export const REPLAY_MAX = 10_000;

export interface WebhookTx {
  outbox: OutboxRepository;
  webhookEndpoints: WebhookEndpointRepository;
  webhookDeliveries: WebhookDeliveryRepository;
  audit: AuditRepository;
}

export interface WebhookInput {
  url: string;
  eventTypes: string[];
  description?: string;
  enabled?: boolean;
}

export interface WebhookServiceOptions {
  uow: UnitOfWork<WebhookTx>;
  clock: Clock;
  sealer: SecretSealer;
  /** Why a URL cannot be a target (scheme, a refused address), or undefined. */
  urlProblem: (url: string) => string | undefined;
  maxEndpointsPerTenant: number;
  maxPageSize: number;
  /** Called after a change a dispatcher should notice at once (a redelivery to this endpoint). */
  onDue?: (tenantId: string, endpointId: string) => void;
}

export const newEndpointId = () => `whe_${randomBytes(12).toString('hex')}`;
export const newDeliveryId = () => `whd_${randomBytes(12).toString('hex')}`;

export function encodeCursor(c: DeliveryCursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id]), 'utf8').toString('base64url');
}

export function decodeCursor(s: string): DeliveryCursor {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string'
      && !Number.isNaN(Date.parse(v[0])) && /^whd_[0-9a-f]{24}$/.test(v[1])) {
      return { createdAt: v[0], id: v[1] };
    }
  } catch {
    // fall through
  }
  throw new AppError('CURSOR_INVALID', { field: 'cursor' });
}

export class WebhookService {
  constructor(private readonly opts: WebhookServiceOptions) {}

  private checkInput(input: Partial<WebhookInput>): void {
    if (input.url !== undefined) {
      const problem = this.opts.urlProblem(input.url);
      if (problem) throw new AppError('WEBHOOK_URL_REFUSED', { field: 'url', detail: problem });
    }
    if (input.eventTypes !== undefined) {
      const unknown = input.eventTypes.find((t) => !isEventType(t));
      if (unknown !== undefined) throw new AppError('VALIDATION_FAILED', { field: 'eventTypes', detail: 'unknown event type' });
    }
  }

  async create(tenantId: string, input: WebhookInput, by: AuditStamp): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    this.checkInput(input);
    const id = newEndpointId();
    const secret = newWebhookSecret();
    const sealed = this.opts.sealer.seal(secret, tenantId, id);
    const endpoint = await this.opts.uow.run(this.opts.clock.now(), async (tx) => {
      if (await tx.webhookEndpoints.count(tenantId) >= this.opts.maxEndpointsPerTenant) {
        throw new AppError('WEBHOOK_LIMIT', { detail: `at most ${this.opts.maxEndpointsPerTenant} webhook endpoints per tenant` });
      }
      await tx.webhookEndpoints.insert({
        tenantId, id, url: input.url, eventTypes: [...new Set(input.eventTypes)], description: input.description ?? '',
        enabled: input.enabled ?? true, secretSealed: sealed,
      });
      await tx.audit.append([stampEntry(by, 'webhook.create', id, tenantId)]);
      return (await tx.webhookEndpoints.get(tenantId, id))!;
    });
    return { endpoint: publicEndpoint(endpoint), secret };
  }

  async list(tenantId: string): Promise<WebhookEndpoint[]> {
    return (await this.opts.uow.read.webhookEndpoints.list(tenantId)).map(publicEndpoint);
  }

  async get(tenantId: string, id: string): Promise<WebhookEndpoint> {
    const e = await this.opts.uow.read.webhookEndpoints.get(tenantId, id);
    if (!e) throw new AppError('WEBHOOK_NOT_FOUND');
    return publicEndpoint(e);
  }

  async update(tenantId: string, id: string, change: EndpointChange, by: AuditStamp): Promise<WebhookEndpoint> {
    this.checkInput(change);
    return this.opts.uow.run(this.opts.clock.now(), async (tx) => {
      const clean = change.eventTypes ? { ...change, eventTypes: [...new Set(change.eventTypes)] } : change;
      if (!(await tx.webhookEndpoints.update(tenantId, id, clean))) throw new AppError('WEBHOOK_NOT_FOUND');
      await tx.audit.append([stampEntry(by, 'webhook.update', id, tenantId)]);
      return publicEndpoint((await tx.webhookEndpoints.get(tenantId, id))!);
    });
  }

  async remove(tenantId: string, id: string, by: AuditStamp): Promise<void> {
    await this.opts.uow.run(this.opts.clock.now(), async (tx) => {
      if (!(await tx.webhookEndpoints.delete(tenantId, id))) throw new AppError('WEBHOOK_NOT_FOUND');
      await tx.webhookDeliveries.deleteForEndpoint(tenantId, id);
      await tx.audit.append([stampEntry(by, 'webhook.delete', id, tenantId)]);
    });
  }

  /** A new secret, returned once; the previous one stays valid for 24 hours (both sign meanwhile). */
  async rotateSecret(tenantId: string, id: string, by: AuditStamp): Promise<{ secret: string; previousSecretExpiresAt: string }> {
    const secret = newWebhookSecret();
    const now = this.opts.clock.now();
    const expires = new Date(now.getTime() + PREVIOUS_SECRET_TTL_MS).toISOString();
    await this.opts.uow.run(now, async (tx) => {
      const e = await tx.webhookEndpoints.getForUpdate(tenantId, id);
      if (!e) throw new AppError('WEBHOOK_NOT_FOUND');
      await tx.webhookEndpoints.rotateSecret(tenantId, id, this.opts.sealer.seal(secret, tenantId, id), e.secretSealed, expires);
      await tx.audit.append([stampEntry(by, 'webhook.rotate-secret', id, tenantId)]);
    });
    return { secret, previousSecretExpiresAt: expires };
  }

  async deliveries(tenantId: string, endpointId: string, cursor: string | undefined, limit: number | undefined): Promise<{ items: WebhookDelivery[]; next: string | undefined }> {
    const after = cursor === undefined || cursor === '' ? undefined : decodeCursor(cursor);
    await this.get(tenantId, endpointId);
    const n = Math.min(limit ?? 50, this.opts.maxPageSize);
    const rows = await this.opts.uow.read.webhookDeliveries.listForEndpoint(tenantId, endpointId, after, n + 1);
    const items = rows.slice(0, n);
    const last = items.at(-1);
    return { items, next: rows.length > n && last ? encodeCursor(last) : undefined };
  }

  /**
   * A `webhook.test` event to this endpoint alone (whatever it subscribed to): the event in the outbox, its delivery
   * and the audit entry in one unit of work; delivered, signed and logged like any other.
   */
  async sendTest(tenantId: string, endpointId: string, by: AuditStamp): Promise<WebhookDelivery> {
    const at = this.opts.clock.now();
    const d = await this.opts.uow.run(at, async (tx) => {
      if (!(await tx.webhookEndpoints.get(tenantId, endpointId))) throw new AppError('WEBHOOK_NOT_FOUND');
      const event = outboxEvent(tenantId, 'webhook.test', EVENT_TYPES['webhook.test'].version, at, { endpointId, message: 'This is a test event from Fapiao.' }, by);
      await tx.outbox.append([event]);
      const id = newDeliveryId();
      await tx.webhookDeliveries.insertMany([{ tenantId, id, endpointId, eventId: event.eventId, eventType: event.type }]);
      await tx.audit.append([stampEntry(by, 'webhook.test', endpointId, tenantId)]);
      return (await tx.webhookDeliveries.get(tenantId, id))!;
    });
    this.opts.onDue?.(tenantId, endpointId);
    return d;
  }

  /**
   * Replay: every event of the tenant written in [from, to) of a type the endpoint subscribes to is delivered to it
   * again (a new delivery, or its existing one reset), with the same id and bytes. At most REPLAY_MAX events a call.
   */
  async replay(tenantId: string, endpointId: string, from: string, to: string, by: AuditStamp): Promise<{ replayed: number; truncated: boolean }> {
    if (!(Date.parse(from) < Date.parse(to))) throw new AppError('VALIDATION_FAILED', { field: '/to', detail: 'to must be after from' });
    const fromIso = new Date(from).toISOString();
    const toIso = new Date(to).toISOString();
    const r = await this.opts.uow.run(this.opts.clock.now(), async (tx) => {
      const e = await tx.webhookEndpoints.get(tenantId, endpointId);
      if (!e) throw new AppError('WEBHOOK_NOT_FOUND');
      const events = await tx.outbox.listForTenantBetween(tenantId, fromIso, toIso, e.eventTypes, REPLAY_MAX + 1);
      const taken = events.slice(0, REPLAY_MAX);
      await tx.webhookDeliveries.replay(taken.map((ev) => ({ tenantId, id: newDeliveryId(), endpointId, eventId: ev.eventId, eventType: ev.type })));
      await tx.audit.append([{ ...stampEntry(by, 'webhook.replay', endpointId, tenantId), details: { from: fromIso, to: toIso, events: taken.length } }]);
      return { replayed: taken.length, truncated: events.length > REPLAY_MAX };
    });
    this.opts.onDue?.(tenantId, endpointId);
    return r;
  }

  /** The operator's view: dead-lettered deliveries across tenants, newest first. */
  async deadLetters(limit: number, tenantId?: string): Promise<WebhookDelivery[]> {
    return this.opts.uow.read.webhookDeliveries.listDead(Math.min(limit, this.opts.maxPageSize), tenantId);
  }

  /** Sends a delivery again: the same event bytes under the same `webhook-id`, its retry schedule started over. */
  async redeliver(tenantId: string, endpointId: string, deliveryId: string, by: AuditStamp): Promise<WebhookDelivery> {
    const d = await this.opts.uow.run(this.opts.clock.now(), async (tx) => {
      const found = await tx.webhookDeliveries.get(tenantId, deliveryId);
      if (!found || found.endpointId !== endpointId) throw new AppError('WEBHOOK_DELIVERY_NOT_FOUND');
      await tx.webhookDeliveries.redeliver(tenantId, deliveryId);
      await tx.audit.append([stampEntry(by, 'webhook.redeliver', deliveryId, tenantId)]);
      return (await tx.webhookDeliveries.get(tenantId, deliveryId))!;
    });
    this.opts.onDue?.(tenantId, endpointId);
    return d;
  }
}
