// The master-key layer of field encryption (field-cipher.ts has the overview): per-tenant data keys and blind-index
// keys, sealed under the master key (key-store.ts) so they can be stored next to the data they protect.
//
// A wrapped data key is one compact string, the data-key header followed by a key-store sealed secret:
//   dk1.<alg>.<dataKeyVersion>.v1.aes-256-gcm.<masterVersion>.<iv>.<ciphertext>.<tag>
// sealed with AES-256-GCM under the master key; its AAD (through sealSecret) binds the master version, the tenant id,
// the data-key version and the algorithm, so a wrapped key cannot be handed to another tenant or relabelled.
// A tenant's blind-index key is wrapped the same way (wrapIndexKey, `ik1.<sealed secret>`).
import { randomBytes } from 'node:crypto';
import { isMasterKeyCipher, MasterKeyUnavailableError, openSecret, sealSecret, MASTER_KEY_BYTES, type MasterKey } from './key-store.ts';
import {
  assertAlg, assertKey, assertText, assertVersion, DATA_KEY_BYTES, FieldCipherError, isFieldAlg, parseVersion,
  type DataKey, type FieldAlg,
} from './field-cipher-common.ts';

const WRAP_PREFIX = 'dk1';

// ───────────────────────────── data keys ─────────────────────────────

/** A fresh random data key: 32 bytes for AES-256-GCM, 16 bytes for SM4-GCM. */
export function createDataKey(alg: FieldAlg): Uint8Array {
  assertAlg(alg);
  return new Uint8Array(randomBytes(DATA_KEY_BYTES[alg]));
}

function wrapLabel(tenantId: string, alg: FieldAlg, dataKeyVersion: number): string {
  // JSON of an array of a string and fixed-format values is canonical and unambiguous.
  return `data-key:${JSON.stringify([tenantId, alg, dataKeyVersion])}`;
}

/** Seals a tenant's data key under the master key (AES-256-GCM, AAD: master version, tenant, alg, data-key version). */
export function wrapDataKey(
  masterKey: MasterKey,
  masterVersion: number,
  tenantId: string,
  dataKey: Uint8Array,
  alg: FieldAlg,
  dataKeyVersion: number,
): string {
  if (!isMasterKeyCipher(masterKey) && (!(masterKey instanceof Uint8Array) || masterKey.length !== MASTER_KEY_BYTES)) {
    throw new TypeError('master key must be 32 bytes');
  }
  assertVersion(masterVersion, 'master key version');
  assertText(tenantId, 'tenantId', true);
  assertAlg(alg);
  assertKey(alg, dataKey);
  assertVersion(dataKeyVersion, 'data key version');
  const sealed = sealSecret(masterKey, dataKey, wrapLabel(tenantId, alg, dataKeyVersion), { keyVersion: masterVersion });
  return `${WRAP_PREFIX}.${alg}.${dataKeyVersion}.${sealed}`;
}

/** What a wrapped data key says about itself, without opening it (to find keys still under an old master version). */
export interface WrappedDataKeyInfo {
  alg: FieldAlg;
  version: number;
  masterVersion: number;
}

export function inspectWrappedDataKey(wrapped: string): WrappedDataKeyInfo {
  const parts = typeof wrapped === 'string' ? wrapped.split('.') : [];
  const version = parts[2] === undefined ? undefined : parseVersion(parts[2]);
  const masterVersion = parts[5] === undefined ? undefined : parseVersion(parts[5]);
  if (parts.length !== 9 || parts[0] !== WRAP_PREFIX || !isFieldAlg(parts[1]) || version === undefined ||
    parts[3] !== 'v1' || parts[4] !== 'aes-256-gcm' || masterVersion === undefined) {
    throw new FieldCipherError('malformed', 'not a wrapped data key');
  }
  return { alg: parts[1], version, masterVersion };
}

/**
 * Opens a wrapped data key for `tenantId` with the master key of the version it names. Throws FieldCipherError:
 * 'malformed', 'unknown_key_version' (master version not in the map), 'authentication_failed' (wrong master key,
 * another tenant's key, relabelled alg or version, tampered) or 'key_mismatch' (a key of the wrong length).
 */
export function unwrapDataKey(masterKeys: ReadonlyMap<number, MasterKey>, wrapped: string, tenantId: string): DataKey {
  assertText(tenantId, 'tenantId', true);
  const info = inspectWrappedDataKey(wrapped);
  if (!masterKeys.has(info.masterVersion)) {
    throw new FieldCipherError('unknown_key_version', `master key version ${info.masterVersion} is not available`);
  }
  const sealed = wrapped.split('.').slice(3).join('.');
  let key: Uint8Array;
  try {
    key = openSecret(masterKeys, sealed, wrapLabel(tenantId, info.alg, info.version));
  } catch (e) {
    if (e instanceof MasterKeyUnavailableError) throw e;
    throw new FieldCipherError('authentication_failed', 'data key does not open (wrong master key, tenant, or tampered)');
  }
  if (key.length !== DATA_KEY_BYTES[info.alg]) throw new FieldCipherError('key_mismatch', 'data key has the wrong length');
  return { alg: info.alg, version: info.version, key };
}

/** Master-key rotation: the same data key (same alg and version), wrapped again under the new master key. */
export function rewrapDataKey(
  masterKeys: ReadonlyMap<number, MasterKey>,
  wrapped: string,
  tenantId: string,
  newMasterKey: MasterKey,
  newMasterVersion: number,
): string {
  const dk = unwrapDataKey(masterKeys, wrapped, tenantId);
  return wrapDataKey(newMasterKey, newMasterVersion, tenantId, dk.key, dk.alg, dk.version);
}

// ───────────────────────────── blind-index keys ─────────────────────────────

const INDEX_WRAP_PREFIX = 'ik1';
export const INDEX_KEY_BYTES = 32;

function indexLabel(tenantId: string): string {
  return `index-key:${JSON.stringify([tenantId])}`;
}

/**
 * Seals a tenant's blind-index key under the master key: `ik1.<sealed secret>` (AAD: master version and tenant). Stored
 * wrapped like the data keys, so a master-key rotation re-wraps it and the indexes made with it stay valid.
 */
export function wrapIndexKey(masterKey: MasterKey, masterVersion: number, tenantId: string, indexKey: Uint8Array): string {
  assertVersion(masterVersion, 'master key version');
  assertText(tenantId, 'tenantId', true);
  if (!(indexKey instanceof Uint8Array) || indexKey.length !== INDEX_KEY_BYTES) throw new TypeError(`index key must be ${INDEX_KEY_BYTES} bytes`);
  return `${INDEX_WRAP_PREFIX}.${sealSecret(masterKey, indexKey, indexLabel(tenantId), { keyVersion: masterVersion })}`;
}

/** The master version a wrapped index key names, without opening it. */
export function inspectWrappedIndexKey(wrapped: string): { masterVersion: number } {
  const parts = typeof wrapped === 'string' ? wrapped.split('.') : [];
  const masterVersion = parts[3] === undefined ? undefined : parseVersion(parts[3]);
  if (parts.length !== 7 || parts[0] !== INDEX_WRAP_PREFIX || parts[1] !== 'v1' || masterVersion === undefined) {
    throw new FieldCipherError('malformed', 'not a wrapped index key');
  }
  return { masterVersion };
}

/** Opens a wrapped index key; the same FieldCipherError reasons as unwrapDataKey. */
export function unwrapIndexKey(masterKeys: ReadonlyMap<number, MasterKey>, wrapped: string, tenantId: string): Uint8Array {
  assertText(tenantId, 'tenantId', true);
  const { masterVersion } = inspectWrappedIndexKey(wrapped);
  if (!masterKeys.has(masterVersion)) {
    throw new FieldCipherError('unknown_key_version', `master key version ${masterVersion} is not available`);
  }
  let key: Uint8Array;
  try {
    key = openSecret(masterKeys, wrapped.slice(INDEX_WRAP_PREFIX.length + 1), indexLabel(tenantId));
  } catch (e) {
    if (e instanceof MasterKeyUnavailableError) throw e;
    throw new FieldCipherError('authentication_failed', 'index key does not open (wrong master key, tenant, or tampered)');
  }
  if (key.length !== INDEX_KEY_BYTES) throw new FieldCipherError('key_mismatch', 'index key has the wrong length');
  return key;
}
