// The storage contract for key rotation of personal data at rest (field-protector.ts): tenant data keys, the master
// key they are wrapped under, and the re-encryption of rows still under an older data key. Present on Storage only
// when a master key is configured.
import type { AuditStamp } from '../../../platform/storage/storage.ts';

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
  /** Signing keys' private halves, sealed under the master key as well. */
  signingKeys: number;
}

export interface ReencryptFailure {
  tenantId: string;
  table: 'invoices' | 'idempotency_keys';
  /** The invoice number (not personal data); absent for idempotency records, whose keys are client-chosen text. */
  number?: string;
  /** A FieldCipherError reason, e.g. authentication_failed. */
  reason: string;
}

/** One committed batch of the re-encryption job. */
export interface ReencryptBatch {
  table: 'invoices' | 'idempotency_keys';
  /** Rows read. */
  scanned: number;
  /** Rows written under the current key. */
  moved: number;
  /** Rows that changed between read and write (compare-and-set lost): left for the next pass. */
  conflicts: number;
  /** Rows that did not open; skipped for the rest of the pass. */
  failures: ReencryptFailure[];
}

export interface DataKeyRepository {
  /** Tenants that have at least one data key, by id. */
  tenantIds(): Promise<string[]>;
  /** The tenant's keys (no key material) and how far re-encryption is. */
  status(tenantId: string): Promise<TenantDataKeys>;
  /**
   * Creates the next data-key version (status active; the previous active one becomes retiring) with `alg`, and with
   * `audit` a `datakey.rotate` entry, in one transaction. A tenant without keys gets version 1.
   */
  rotate(tenantId: string, alg: DataKeyAlgorithm, audit?: AuditStamp): Promise<DataKeyInfo>;
  /**
   * Re-wraps every data key, index key and sealed signing key not under the current master version with the current
   * master key, and with
   * `audit` records `masterkey.rotate`, in one transaction. Throws FieldCipherError (unknown_key_version) when a key
   * names a master version that is not configured: nothing is changed then.
   */
  rotateMaster(audit?: AuditStamp): Promise<MasterRotationResult>;
  /**
   * One pass of re-encryption: rows under older data-key versions or unlabelled, moved to their tenant's current key
   * in batches of `batchSize`, each batch one transaction with a compare-and-set per row. Yields after every batch;
   * the pass ends when no row is left but those that failed or conflicted.
   */
  reencrypt(batchSize: number): AsyncIterable<ReencryptBatch>;
  /** Marks retiring keys retired when no row references them and they were replaced before `replacedBefore`. */
  retireDrained(replacedBefore: string): Promise<{ tenantId: string; version: number }[]>;
}
