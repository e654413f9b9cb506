// Storage contract: tenants (with their issuing quota), API keys and signing keys.
import type { AuditStamp } from '../../audit/storage/audit-contract.ts';

export interface Tenant {
  id: string;
  name: string;
  /** The seller's unified social credit code. */
  taxId: string;
  address?: string;
  phone?: string;
  bankName?: string;
  bankAccount?: string;
  /** Two-digit provincial region code, positions 3–4 of the invoice number. */
  regionCode: string;
  /** One-digit issuing channel, position 5 of the invoice number. */
  channel: string;
  /** Rates this tenant may use; undefined = every rate in use. */
  allowedRates?: string[];
  /** Monthly issuing quota (授信额度) on the total amount excluding VAT, a decimal string; undefined = unlimited. */
  monthlyQuota?: string;
  createdAt: string;
}

export type NewTenant = Omit<Tenant, 'createdAt'>;

/** The fields an update may change; `null` clears an optional field (`monthlyQuota: null` = unlimited). */
export interface TenantPatch {
  name?: string;
  regionCode?: string;
  address?: string | null;
  phone?: string | null;
  bankName?: string | null;
  bankAccount?: string | null;
  monthlyQuota?: string | null;
}

/** A tenant's quota and what it used in one period, in integer cents. */
export interface TenantQuotaUsage {
  /** null = unlimited. */
  quotaCents: bigint | null;
  usedCents: bigint;
}

export interface ApiKeyRecord {
  tenantId: string;
  id: string;
  /** The non-secret prefix shown in listings, e.g. `fp_live_AbC1`. */
  prefix: string;
  scopes: string[];
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
}

export interface NewApiKey {
  tenantId: string;
  id: string;
  prefix: string;
  /** Hex SHA-256 of the whole secret; the secret itself is never stored. */
  hash: string;
  scopes: string[];
  expiresAt?: string;
}

export interface SigningKeyRecord {
  id: string;
  alg: 'SM2';
  /** Uncompressed public key, hex (04‖x‖y). */
  publicKey: string;
  createdAt: string;
  status: 'active' | 'retired';
}

export interface SigningKeyWithSecret extends SigningKeyRecord {
  /** The private key sealed under the master key (platform/crypto/key-store.ts envelope). */
  privateKeySealed: string;
}

export interface TenantRepository {
  /** With `audit`, a `tenant.create` entry is chained in the same transaction. */
  create(tenant: NewTenant, audit?: AuditStamp): Promise<Tenant>;
  get(id: string): Promise<Tenant | undefined>;
  list(): Promise<Tenant[]>;
  /**
   * Applies the patch and, with `audit`, chains one `tenant.update` entry naming the changed fields (never their
   * values) in the same transaction. Fields equal to the stored value are not changes; nothing changed = nothing
   * written. undefined when there is no such tenant.
   */
  update(id: string, patch: TenantPatch, audit?: AuditStamp): Promise<{ tenant: Tenant; changed: string[] } | undefined>;
  /** The tenant's quota and its usage in `period` (`YYYY-MM`); undefined when there is no such tenant. */
  quotaUsage(id: string, period: string): Promise<TenantQuotaUsage | undefined>;
  /** Every tenant's usage in `period`, in cents; tenants without usage are absent. */
  usageInPeriod(period: string): Promise<Map<string, bigint>>;
}

export interface ApiKeyRepository {
  /** With `audit`, an `apikey.create` entry is chained in the same transaction. */
  create(key: NewApiKey, audit?: AuditStamp): Promise<ApiKeyRecord>;
  /** Looks a key up by the hash of its secret; revoked and expired keys are returned too (the caller decides). */
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  list(tenantId: string): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; false when the tenant has no such key. */
  revoke(tenantId: string, id: string, at: string, audit?: AuditStamp): Promise<boolean>;
}

export interface SigningKeyRepository {
  insert(key: SigningKeyWithSecret): Promise<void>;
  /** All keys, public parts only, oldest first. */
  list(): Promise<SigningKeyRecord[]>;
  /** The newest active key with its sealed secret. */
  getActive(): Promise<SigningKeyWithSecret | undefined>;
}
