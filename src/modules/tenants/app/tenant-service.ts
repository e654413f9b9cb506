// Tenants and their API keys. A key's secret is shown once, at creation; only its SHA-256 is stored.
import { randomBytes } from 'node:crypto';
import { AppError } from '../../../shared/errors.ts';
import { validateTaxId } from '../../invoicing/domain/tax-id.ts';
import { checkText } from '../../../shared/text-rules.ts';
import { generateApiKey, hashApiKey } from '../../../platform/crypto/api-key-token.ts';
import type { ApiKeyRecord, ApiKeyRepository, AuditStamp, Tenant, TenantRepository } from '../../../platform/storage/storage.ts';
import type { Clock } from '../../../shared/clock.ts';
import { quotaPeriod } from '../../invoicing/domain/issuing-quota.ts';
import { parseTenantUpdate, toTenantView, type TenantView, type UpdateTenantInput } from './tenant-update.ts';

export interface CreateTenantInput {
  name: string;
  taxId: string;
  regionCode: string;
  channel?: string;
  address?: string;
  phone?: string;
  bankName?: string;
  bankAccount?: string;
  allowedRates?: string[];
  /** Monthly issuing quota (decimal string); absent = unlimited. */
  monthlyQuota?: string;
}

export interface Authenticated {
  tenant: Tenant;
  keyId: string;
  scopes: string[];
}

export interface TenantServiceDeps {
  tenants: TenantRepository;
  apiKeys: ApiKeyRepository;
  clock: Clock;
  defaultChannel: string;
  taxIdExceptions: readonly string[];
  /** Called after a tenant's quota or region changed, so the issue writer of this process forgets its view. */
  onTenantChanged?: (tenantId: string) => void;
}

/**
 * `pii:read`: responses show the buyer's personal data in full (else masked), and the signed documents (PDF, XML, OFD,
 * UBL), which carry it in full, may be downloaded. A tenant's first key has every scope: it is the key the seller's
 * integrator starts with, and the first thing tried after issuing is fetching the document. Restricted keys are made
 * afterwards with explicit scopes; a further key made without naming any gets `DEFAULT_SCOPES`.
 */
export const ALL_SCOPES = ['invoices:issue', 'invoices:read', 'pii:read'];
const DEFAULT_SCOPES = ['invoices:issue', 'invoices:read'];
/** Who an administrative change is audited as when the caller does not say (CLI and admin API pass their own). */
const ADMIN: AuditStamp = { actor: 'admin' };
/** Authentication results are cached briefly; a revocation on this node clears the cache at once. */
const MAX_ACTIVE_KEYS = 2;
const AUTH_CACHE_MS = 5_000;
const AUTH_CACHE_MAX = 10_000;

export class TenantService {
  private readonly authCache = new Map<string, { at: number; value: Authenticated | undefined }>();

  constructor(private readonly deps: TenantServiceDeps) {}

  /** Creates the tenant and its first API key (scopes: `keyScopes`, default every scope, see ALL_SCOPES). */
  async create(input: CreateTenantInput, by: AuditStamp = ADMIN, keyScopes?: string[]): Promise<{ tenant: Tenant; apiKey: string }> {
    const name = input.name?.trim();
    if (!name || name.length > 100) throw new AppError('VALIDATION_FAILED', { field: '/name', detail: 'name is required (at most 100 characters)' });
    // The seller's texts are printed, signed and rendered on every invoice of the tenant (shared/text-rules.ts).
    for (const field of ['name', 'address', 'phone', 'bankName', 'bankAccount'] as const) {
      const value = input[field];
      if (typeof value === 'string') checkText(value, `/${field}`);
    }
    validateTaxId(input.taxId ?? '', { exceptions: this.deps.taxIdExceptions, kinds: ['uscc'], field: '/taxId' });
    if (!/^\d{2}$/.test(input.regionCode)) throw new AppError('REGION_CODE_INVALID', { field: '/regionCode' });
    const quota = input.monthlyQuota === undefined ? {} : parseTenantUpdate({ monthlyQuota: input.monthlyQuota });
    const channel = input.channel ?? this.deps.defaultChannel;
    if (!/^\d$/.test(channel)) throw new AppError('VALIDATION_FAILED', { field: '/channel', detail: 'channel is one digit' });
    const tenant = await this.deps.tenants.create({
      id: `t_${randomBytes(8).toString('hex')}`,
      name,
      taxId: input.taxId,
      regionCode: input.regionCode,
      channel,
      ...(input.address ? { address: input.address } : {}),
      ...(input.phone ? { phone: input.phone } : {}),
      ...(input.bankName ? { bankName: input.bankName } : {}),
      ...(input.bankAccount ? { bankAccount: input.bankAccount } : {}),
      ...(input.allowedRates ? { allowedRates: input.allowedRates } : {}),
      ...(typeof quota.monthlyQuota === 'string' ? { monthlyQuota: quota.monthlyQuota } : {}),
    }, by);
    const { secret } = await this.createApiKey(tenant.id, { scopes: keyScopes ?? ALL_SCOPES }, by);
    return { tenant, apiKey: secret };
  }

  list(): Promise<Tenant[]> {
    return this.deps.tenants.list();
  }

  async getOrThrow(id: string): Promise<Tenant> {
    const t = await this.deps.tenants.get(id);
    if (!t) throw new AppError('TENANT_NOT_FOUND');
    return t;
  }

  /** The tenant with its monthly quota and this month's usage (UTC+8). */
  async view(id: string): Promise<TenantView> {
    const tenant = await this.getOrThrow(id);
    const period = quotaPeriod(this.deps.clock.now());
    const usage = await this.deps.tenants.quotaUsage(id, period);
    return toTenantView(tenant, period, usage?.usedCents ?? 0n);
  }

  /** Every tenant with its quota and this month's usage, in two queries. */
  async listViews(): Promise<TenantView[]> {
    const period = quotaPeriod(this.deps.clock.now());
    const [tenants, used] = await Promise.all([this.deps.tenants.list(), this.deps.tenants.usageInPeriod(period)]);
    return tenants.map((t) => toTenantView(t, period, used.get(t.id) ?? 0n));
  }

  /**
   * Changes a tenant (name, region, seller contact fields, monthly quota); one `tenant.update` audit entry naming the
   * changed fields is written in the same transaction. A lowered quota blocks issuing once usage reaches it; a raised
   * one applies to the next request (other nodes learn it from the database when their view refuses or fails).
   */
  async update(id: string, input: UpdateTenantInput, by: AuditStamp = ADMIN): Promise<{ tenant: TenantView; changed: string[] }> {
    const patch = parseTenantUpdate(input);
    const result = await this.deps.tenants.update(id, patch, by);
    if (!result) throw new AppError('TENANT_NOT_FOUND');
    if (result.changed.length > 0) {
      this.deps.onTenantChanged?.(id);
      // Authenticated requests carry the tenant (region, seller fields) from the cache: drop it.
      this.authCache.clear();
    }
    return { tenant: await this.view(id), changed: result.changed };
  }

  async createApiKey(
    tenantId: string,
    opts: { scopes?: string[]; expiresAt?: string } = {},
    by: AuditStamp = ADMIN,
  ): Promise<{ record: ApiKeyRecord; secret: string }> {
    await this.getOrThrow(tenantId);
    const scopes = opts.scopes ?? DEFAULT_SCOPES;
    for (const s of scopes) {
      if (!ALL_SCOPES.includes(s)) throw new AppError('VALIDATION_FAILED', { field: '/scopes', detail: `unknown scope ${s}` });
    }
    // Two active keys per tenant: enough to rotate (create the new one, deploy it, revoke the old one), and a cap on
    // how many live secrets a tenant can leave lying around.
    const now = this.deps.clock.now().toISOString();
    const active = (await this.deps.apiKeys.list(tenantId)).filter((k) => !k.revokedAt && !(k.expiresAt && k.expiresAt <= now));
    if (active.length >= MAX_ACTIVE_KEYS) {
      throw new AppError('API_KEY_LIMIT', { detail: `a tenant may have ${MAX_ACTIVE_KEYS} active keys; revoke one first` });
    }
    const key = generateApiKey();
    const record = await this.deps.apiKeys.create({
      tenantId,
      id: key.id,
      prefix: key.prefix,
      hash: key.hash,
      scopes,
      ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
    }, by);
    return { record, secret: key.secret };
  }

  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.deps.apiKeys.list(tenantId);
  }

  async revokeApiKey(tenantId: string, keyId: string, by: AuditStamp = ADMIN): Promise<void> {
    const ok = await this.deps.apiKeys.revoke(tenantId, keyId, this.deps.clock.now().toISOString(), by);
    if (!ok) throw new AppError('API_KEY_NOT_FOUND');
    this.authCache.clear();
  }

  /** The tenant a key secret belongs to, or undefined for unknown, revoked or expired keys (no difference shown). */
  async authenticate(secret: string): Promise<Authenticated | undefined> {
    const hash = hashApiKey(secret);
    const now = Date.now();
    const cached = this.authCache.get(hash);
    if (cached && now - cached.at < AUTH_CACHE_MS) return cached.value;
    const value = await this.lookup(hash);
    if (this.authCache.size >= AUTH_CACHE_MAX) this.authCache.clear();
    this.authCache.set(hash, { at: now, value });
    return value;
  }

  private async lookup(hash: string): Promise<Authenticated | undefined> {
    const rec = await this.deps.apiKeys.findByHash(hash);
    if (!rec || rec.revokedAt) return undefined;
    const nowIso = this.deps.clock.now().toISOString();
    if (rec.expiresAt && rec.expiresAt <= nowIso) return undefined;
    const tenant = await this.deps.tenants.get(rec.tenantId);
    if (!tenant) return undefined;
    return { tenant, keyId: rec.id, scopes: rec.scopes };
  }
}
