// The value types of key rotation for personal data at rest (platform/storage/field-keys.ts): tenant data keys and
// the master key they are wrapped under. The re-encryption of rows is modules/invoicing/storage/reencrypt-repository.ts.

export type DataKeyAlgorithm = 'aes-256-gcm' | 'sm4-gcm';
export type DataKeyStatus = 'active' | 'retiring' | 'retired';

/** One data key of a tenant as the admin API and CLI show it (never the key itself). */
export interface DataKeyInfo {
  version: number;
  alg: DataKeyAlgorithm;
  /** active: encrypts new writes · retiring: rows are being moved off it · retired: no row uses it, decrypt-only. */
  status: DataKeyStatus;
  createdAt: string;
  /** The master-key version it is wrapped under. */
  masterVersion: number;
  /** Rows still under this version; null for the active key (those are not counted: it would mean a full count). */
  rows: { invoices: number; idempotency: number } | null;
}

export interface TenantDataKeys {
  tenantId: string;
  /** Oldest first. */
  keys: DataKeyInfo[];
  /** Rows not yet protected or not yet labelled with a version (written before migration 0005); the job reads them once. */
  unlabelled: { invoices: number; idempotency: number };
  /** Rows the re-encryption job still has to move: under older versions plus unlabelled. 0 = done. */
  pending: number;
}

export interface MasterRotationResult {
  /** The master-key version everything is wrapped under now. */
  masterVersion: number;
  /** Data keys and index keys re-wrapped (those already under masterVersion are left alone). */
  dataKeys: number;
  indexKeys: number;
  /** Signing keys' private halves, sealed under the master key as well (with the ledger's log key and webhook secrets). */
  signingKeys: number;
}
