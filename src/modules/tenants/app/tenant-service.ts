// Tenants and their API keys. A key's secret is shown once, at creation; only its SHA-256 is stored.
import { randomBytes } from 'node:crypto';
import { AppError } from '../../../shared/errors.ts';
import { validateTaxId } from '../../invoicing/index.ts';
import { checkText } from '../../../shared/text-rules.ts';
import { generateApiKey, hashApiKey } from '../../../platform/crypto/api-key-token.ts';
import type { ApiKeyRecord, Tenant } from '../storage/tenant-contract.ts';
import type { ApiKeyRepository } from '../storage/api-key-repository.ts';
import type { AuditStamp } from '../../audit/index.ts';
import type { AuditRepository } from '../../audit/index.ts';
import { stampEntry } from '../../audit/index.ts';
import type { TenantRepository } from '../storage/tenant-repository.ts';
import type { QuotaUsageRepository } from '../../invoicing/index.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';
import { quotaPeriod } from '../../invoicing/index.ts';
import { changedFields, parseSigningAlgorithm, parseTenantUpdate, toTenantView, type TenantView, type UpdateTenantInput } from './tenant-update.ts';

/** What the tenant use cases need of a unit of work. */
export interface TenantTx {
  tenants: TenantRepository;
  apiKeys: ApiKeyRepository;
  quotaUsage: QuotaUsageRepository;
  audit: AuditRepository;
}

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
  /** The algorithm its invoices are signed with; absent = the server's (config `signing.algorithm`). */
  signingAlgorithm?: string;
}

export interface Authenticated {
  tenant: Tenant;
  keyId: string;
  scopes: string[];
}

export interface TenantServiceDeps {
  uow: UnitOfWork<TenantTx>;
  clock: Clock;
  defaultChannel: string;
  taxIdExceptions: readonly string[];
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
  private readonly authCache = new Map<string, { at: number; value: Authenticated | undefined; expiresAt: string | undefined }>();

  private readonly changeListeners: ((tenantId: string) => void)[] = [];

  constructor(private readonly deps: TenantServiceDeps) {}

  /** Called after a tenant's quota, region or seller fields changed (e.g. the issue writer forgets its view). */
  onTenantChanged(listener: (tenantId: string) => void): void {
    this.changeListeners.push(listener);
  }

  private get read(): TenantTx {
    return this.deps.uow.read;
  }

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
    const signingAlgorithm = input.signingAlgorithm === undefined ? undefined : parseSigningAlgorithm(input.signingAlgorithm);
    const scopes = checkScopes(keyScopes ?? ALL_SCOPES);
    const key = generateApiKey();
    // The tenant, its first key and both audit entries in one unit of work: never a tenant without its key.
    return this.deps.uow.run(this.deps.clock.now(), async (tx) => {
      const tenant = await tx.tenants.insert({
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
        ...(signingAlgorithm ? { signingAlgorithm } : {}),
      });
      const record = await tx.apiKeys.insert({ tenantId: tenant.id, id: key.id, prefix: key.prefix, hash: key.hash, scopes });
      await tx.audit.append([
        stampEntry(by, 'tenant.create', tenant.id, tenant.id),
        stampEntry(by, 'apikey.create', record.id, tenant.id),
      ]);
      return { tenant, apiKey: key.secret };
    });
  }

  list(): Promise<Tenant[]> {
    return this.read.tenants.list();
  }

  async getOrThrow(id: string): Promise<Tenant> {
    const t = await this.read.tenants.get(id);
    if (!t) throw new AppError('TENANT_NOT_FOUND');
    return t;
  }

  /** The tenant with its monthly quota and this month's usage (UTC+8). */
  async view(id: string): Promise<TenantView> {
    const tenant = await this.getOrThrow(id);
    const period = quotaPeriod(this.deps.clock.now());
    const usage = await this.read.quotaUsage.quotaUsage(id, period);
    return toTenantView(tenant, period, usage?.usedCents ?? 0n);
  }

  /** Every tenant with its quota and this month's usage, in two queries. */
  async listViews(): Promise<TenantView[]> {
    const period = quotaPeriod(this.deps.clock.now());
    const [tenants, used] = await Promise.all([this.read.tenants.list(), this.read.quotaUsage.usageInPeriod(period)]);
    return tenants.map((t) => toTenantView(t, period, used.get(t.id) ?? 0n));
  }

  /**
   * Changes a tenant (name, region, seller contact fields, monthly quota, signing algorithm); one `tenant.update` audit entry naming the
   * changed fields is written in the same transaction. A lowered quota blocks issuing once usage reaches it; a raised
   * one applies to the next request (other nodes learn it from the database when their view refuses or fails).
   */
  async update(id: string, input: UpdateTenantInput, by: AuditStamp = ADMIN): Promise<{ tenant: TenantView; changed: string[] }> {
    const patch = parseTenantUpdate(input);
    const result = await this.deps.uow.run(this.deps.clock.now(), async (tx) => {
      const current = await tx.tenants.get(id, { lock: true });
      if (!current) return undefined;
      const { changed, set } = changedFields(current, patch);
      if (changed.length === 0) return { changed };
      await tx.tenants.update(id, set);
      // Field names only: the values may be the seller's contact data, and the audit log is kept for years.
      await tx.audit.append([{ ...stampEntry(by, 'tenant.update', id, id), details: { fields: changed } }]);
      return { changed };
    });
    if (!result) throw new AppError('TENANT_NOT_FOUND');
    if (result.changed.length > 0) {
      for (const listener of this.changeListeners) listener(id);
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
    const scopes = checkScopes(opts.scopes ?? DEFAULT_SCOPES);
    const at = this.deps.clock.now();
    const key = generateApiKey();
    return this.deps.uow.run(at, async (tx) => {
      // Two active keys per tenant: enough to rotate (create the new one, deploy it, revoke the old one), and a cap
      // on how many live secrets a tenant can leave lying around. Counted in the unit of work that adds the key.
      const now = at.toISOString();
      const active = (await tx.apiKeys.list(tenantId)).filter((k) => !k.revokedAt && !(k.expiresAt && k.expiresAt <= now));
      if (active.length >= MAX_ACTIVE_KEYS) {
        throw new AppError('API_KEY_LIMIT', { detail: `a tenant may have ${MAX_ACTIVE_KEYS} active keys; revoke one first` });
      }
      const record = await tx.apiKeys.insert({
        tenantId,
        id: key.id,
        prefix: key.prefix,
        hash: key.hash,
        scopes,
        ...(opts.expiresAt ? { expiresAt: opts.expiresAt } : {}),
      });
      await tx.audit.append([stampEntry(by, 'apikey.create', record.id, tenantId)]);
      return { record, secret: key.secret };
    });
  }

  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.read.apiKeys.list(tenantId);
  }

  async revokeApiKey(tenantId: string, keyId: string, by: AuditStamp = ADMIN): Promise<void> {
    // The attempt is audited either way: a revocation of a key that is not the tenant's is worth knowing about.
    const ok = await this.deps.uow.run(this.deps.clock.now(), async (tx) => {
      const found = await tx.apiKeys.revoke(tenantId, keyId);
      await tx.audit.append([stampEntry(by, 'apikey.revoke', keyId, tenantId, found ? 'success' : 'failure')]);
      return found;
    });
    if (!ok) throw new AppError('API_KEY_NOT_FOUND');
    this.authCache.clear();
  }

  /** The tenant a key secret belongs to, or undefined for unknown, revoked or expired keys (no difference shown). */
  async authenticate(secret: string): Promise<Authenticated | undefined> {
    const hash = hashApiKey(secret);
    // The cache's freshness is process time; a key's expiry is the use case's clock, checked on every hit so an
    // expired key is refused from the second it expires, cached or not.
    const now = Date.now();
    const cached = this.authCache.get(hash);
    if (cached && now - cached.at < AUTH_CACHE_MS) return live(cached, this.deps.clock.now().toISOString());
    const found = await this.lookup(hash);
    if (this.authCache.size >= AUTH_CACHE_MAX) this.authCache.clear();
    const entry = { at: now, value: found?.value, expiresAt: found?.expiresAt };
    this.authCache.set(hash, entry);
    return entry.value;
  }

  private async lookup(hash: string): Promise<{ value: Authenticated; expiresAt: string | undefined } | undefined> {
    const rec = await this.read.apiKeys.findByHash(hash);
    if (!rec || rec.revokedAt) return undefined;
    const nowIso = this.deps.clock.now().toISOString();
    if (rec.expiresAt && rec.expiresAt <= nowIso) return undefined;
    const tenant = await this.read.tenants.get(rec.tenantId);
    if (!tenant) return undefined;
    return { value: { tenant, keyId: rec.id, scopes: rec.scopes }, expiresAt: rec.expiresAt };
  }
}

function live(entry: { value: Authenticated | undefined; expiresAt: string | undefined }, nowIso: string): Authenticated | undefined {
  return entry.expiresAt !== undefined && entry.expiresAt <= nowIso ? undefined : entry.value;
}

function checkScopes(scopes: string[]): string[] {
  for (const s of scopes) {
    if (!ALL_SCOPES.includes(s)) throw new AppError('VALIDATION_FAILED', { field: '/scopes', detail: `unknown scope ${s}` });
  }
  return scopes;
}
