// The value types of tenants (with their issuing quota), API keys and signing keys.

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

