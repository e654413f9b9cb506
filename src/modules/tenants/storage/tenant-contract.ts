// The value types of tenants (with their issuing quota and signing algorithm), API keys and signing keys.
import type { SigningAlgorithm } from '../../../shared/signing.ts';

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
  /** The algorithm its invoices are signed with; undefined = the server's (config `signing.algorithm`). */
  signingAlgorithm?: SigningAlgorithm;
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
  /** null = the server's algorithm. */
  signingAlgorithm?: SigningAlgorithm | null;
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
  alg: SigningAlgorithm;
  /** Hex: SM2 and ECDSA-P256 the uncompressed point 04‖x‖y, Ed25519 the 32-byte key (platform/crypto/key-store.ts). */
  publicKey: string;
  createdAt: string;
  status: 'active' | 'retired';
}

export interface SigningKeyWithSecret extends SigningKeyRecord {
  /** The private key sealed under the master key (platform/crypto/key-store.ts envelope). */
  privateKeySealed: string;
}

