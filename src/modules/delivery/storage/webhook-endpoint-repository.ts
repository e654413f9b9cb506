// Webhook subscriptions, always scoped by tenant: another tenant's endpoint is simply not found.
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { WebhookEndpointsTable } from '../../../platform/storage/database.ts';
import type { WebhookEndpoint, WebhookEndpointSecrets } from './webhook-contract.ts';

function toEndpoint(r: WebhookEndpointsTable): WebhookEndpointSecrets {
  return {
    tenantId: r.tenant_id, id: r.id, url: r.url, eventTypes: JSON.parse(r.event_types) as string[], description: r.description,
    enabled: Number(r.enabled) === 1, disabledReason: r.disabled_reason, createdAt: r.created_at, updatedAt: r.updated_at,
    secretSealed: r.secret_sealed, previousSecretSealed: r.previous_secret_sealed, previousSecretExpiresAt: r.previous_secret_expires_at,
  };
}

/** The public part (no sealed secrets). */
export function publicEndpoint(e: WebhookEndpointSecrets): WebhookEndpoint {
  const { secretSealed: _s, previousSecretSealed: _p, previousSecretExpiresAt: _x, ...rest } = e;
  return rest;
}

export interface NewEndpoint {
  tenantId: string;
  id: string;
  url: string;
  eventTypes: string[];
  description: string;
  enabled: boolean;
  secretSealed: string;
}

export interface EndpointChange {
  url?: string;
  eventTypes?: string[];
  description?: string;
  enabled?: boolean;
}

export class WebhookEndpointRepository {
  constructor(private readonly scope: Scope) {}

  private get db() {
    return this.scope.db;
  }

  async insert(e: NewEndpoint): Promise<void> {
    const at = stampOf(this.scope);
    await this.db.insertInto('webhook_endpoints').values({
      tenant_id: e.tenantId, id: e.id, url: e.url, event_types: JSON.stringify(e.eventTypes), description: e.description,
      enabled: e.enabled ? 1 : 0, disabled_reason: null, secret_sealed: e.secretSealed, previous_secret_sealed: null,
      previous_secret_expires_at: null, created_at: at, updated_at: at,
    }).execute();
  }

  async count(tenantId: string): Promise<number> {
    const r = await this.db.selectFrom('webhook_endpoints').select((eb) => eb.fn.countAll().as('n')).where('tenant_id', '=', tenantId).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async get(tenantId: string, id: string): Promise<WebhookEndpointSecrets | undefined> {
    const r = await this.db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r ? toEndpoint(r) : undefined;
  }

  /** Locks the row for the rest of the transaction on PostgreSQL (SQLite's writer holds the database anyway). */
  async getForUpdate(tenantId: string, id: string): Promise<WebhookEndpointSecrets | undefined> {
    let q = this.db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id);
    if (this.scope.traits.engine === 'postgres') q = q.forUpdate();
    const r = await q.executeTakeFirst();
    return r ? toEndpoint(r) : undefined;
  }

  async list(tenantId: string): Promise<WebhookEndpointSecrets[]> {
    const rows = await this.db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute();
    return rows.map(toEndpoint);
  }

  /** Enabled endpoints of these tenants, for fanning events out. */
  async enabledOf(tenantIds: readonly string[]): Promise<WebhookEndpointSecrets[]> {
    if (tenantIds.length === 0) return [];
    const rows = await this.db.selectFrom('webhook_endpoints').selectAll()
      .where('tenant_id', 'in', [...new Set(tenantIds)]).where('enabled', '=', 1).execute();
    return rows.map(toEndpoint);
  }

  /** Endpoints by (tenant, id), for the dispatcher's attempts. */
  async getMany(keys: readonly { tenantId: string; id: string }[]): Promise<WebhookEndpointSecrets[]> {
    if (keys.length === 0) return [];
    const rows = await this.db.selectFrom('webhook_endpoints').selectAll()
      .where('id', 'in', [...new Set(keys.map((k) => k.id))]).execute();
    const wanted = new Set(keys.map((k) => `${k.tenantId}\u0000${k.id}`));
    return rows.map(toEndpoint).filter((e) => wanted.has(`${e.tenantId}\u0000${e.id}`));
  }

  async update(tenantId: string, id: string, change: EndpointChange): Promise<boolean> {
    const at = stampOf(this.scope);
    const r = await this.db.updateTable('webhook_endpoints').set({
      updated_at: at,
      ...(change.url !== undefined ? { url: change.url } : {}),
      ...(change.eventTypes !== undefined ? { event_types: JSON.stringify(change.eventTypes) } : {}),
      ...(change.description !== undefined ? { description: change.description } : {}),
      // Enabling by hand clears the server's reason for disabling it.
      ...(change.enabled !== undefined ? { enabled: change.enabled ? 1 : 0, disabled_reason: null } : {}),
    }).where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async disable(tenantId: string, id: string, reason: string): Promise<void> {
    const at = stampOf(this.scope);
    await this.db.updateTable('webhook_endpoints').set({ enabled: 0, disabled_reason: reason, updated_at: at })
      .where('tenant_id', '=', tenantId).where('id', '=', id).execute();
  }

  async rotateSecret(tenantId: string, id: string, secretSealed: string, previousSealed: string, previousExpiresAt: string): Promise<void> {
    const at = stampOf(this.scope);
    await this.db.updateTable('webhook_endpoints').set({
      secret_sealed: secretSealed, previous_secret_sealed: previousSealed, previous_secret_expires_at: previousExpiresAt, updated_at: at,
    }).where('tenant_id', '=', tenantId).where('id', '=', id).execute();
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    stampOf(this.scope);
    const r = await this.db.deleteFrom('webhook_endpoints').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }
}
