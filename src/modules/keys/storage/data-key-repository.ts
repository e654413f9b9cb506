// Tenant data keys and the master key they are wrapped under (migration 0003, 0005): rows only, inside the caller's
// unit of work. The audit entries of rotations, and what the counts mean, are the key use cases'
// (modules/keys/app/data-key-service.ts).
import { logKeyLabel } from '../../ledger/index.ts';
import { webhookSecretLabel } from '../../delivery/index.ts';
import {
  createDataKey, inspectWrappedDataKey, inspectWrappedIndexKey, unwrapDataKey, unwrapIndexKey,
} from '../../../platform/crypto/field-cipher.ts';
import { sealedSecretVersion, signingKeyLabel } from '../../../platform/crypto/key-store.ts';
import type { FieldKeys } from '../../../platform/storage/field-keys.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { DataKeyAlgorithm, DataKeyInfo, DataKeyStatus, MasterRotationResult } from './data-keys.ts';

export interface DataKeyRow {
  version: number;
  alg: DataKeyAlgorithm;
  status: DataKeyStatus;
  createdAt: string;
  masterVersion: number;
}

export class DataKeyRepository {
  constructor(private readonly scope: Scope) {}

  private fields(): FieldKeys {
    if (!this.scope.fields) throw new Error('data keys need a master key');
    return this.scope.fields;
  }

  /** Tenants that have at least one data key, by id. */
  async tenantIds(): Promise<string[]> {
    const rows = await this.scope.db.selectFrom('tenant_data_keys').select('tenant_id').distinct().orderBy('tenant_id').execute();
    return rows.map((r) => r.tenant_id);
  }

  /** The tenant's keys, oldest first (no key material). */
  async list(tenantId: string): Promise<DataKeyRow[]> {
    const rows = await this.scope.db
      .selectFrom('tenant_data_keys')
      .select(['version', 'alg', 'status', 'created_at', 'wrapped_key'])
      .where('tenant_id', '=', tenantId)
      .orderBy('version')
      .execute();
    return rows.map((r) => ({
      version: Number(r.version), alg: r.alg as DataKeyAlgorithm, status: r.status as DataKeyStatus, createdAt: r.created_at,
      masterVersion: inspectWrappedDataKey(r.wrapped_key).masterVersion,
    }));
  }

  /**
   * The next data-key version of the tenant with `alg` (status active; the previous active one becomes retiring); a
   * tenant without keys gets version 1. A tenant's first write may insert version 1 beside us (field-keys.ts, outside
   * any lock): the primary key lets one win and the caller retries the unit of work on top of it.
   */
  async rotate(tenantId: string, alg: DataKeyAlgorithm): Promise<DataKeyInfo & { previousVersion: number | null }> {
    const now = stampOf(this.scope);
    const { db, traits } = this.scope;
    const fields = this.fields();
    // PostgreSQL: the tenant row serialises rotations of one tenant; each then reads the versions afresh. SQLite: the
    // transaction began IMMEDIATE and holds the write lock.
    if (traits.engine === 'postgres') await db.selectFrom('tenants').select('id').where('id', '=', tenantId).forUpdate().execute();
    const rows = await db.selectFrom('tenant_data_keys').select('version').where('tenant_id', '=', tenantId).execute();
    const previous = rows.reduce((m, r) => Math.max(m, Number(r.version)), 0);
    const version = previous + 1;
    const wrapped = fields.wrap(tenantId, createDataKey(alg), alg, version);
    await db.updateTable('tenant_data_keys').set({ status: 'retiring' }).where('tenant_id', '=', tenantId).where('status', '=', 'active').execute();
    await db.insertInto('tenant_data_keys').values({ tenant_id: tenantId, version, alg, wrapped_key: wrapped, created_at: now, status: 'active' }).execute();
    return { version, alg, status: 'active', createdAt: now, masterVersion: fields.masterVersion, rows: null, previousVersion: previous === 0 ? null : previous };
  }

  /**
   * Re-wraps every data key, index key and sealed signing key not under the current master version with the current
   * master key. Throws FieldCipherError (unknown_key_version) when a key names a master version that is not
   * configured: the unit of work then rolls back and nothing is changed.
   */
  async rotateMaster(): Promise<MasterRotationResult> {
    const now = stampOf(this.scope);
    const { db, traits } = this.scope;
    const fields = this.fields();
    const { masterKeys, masterVersion } = fields;
    let dataQuery = db.selectFrom('tenant_data_keys').select(['tenant_id', 'version', 'wrapped_key']).orderBy('tenant_id').orderBy('version');
    // PostgreSQL: two rotations at once serialise here (SQLite: the IMMEDIATE transaction already does).
    if (traits.engine === 'postgres') dataQuery = dataQuery.forUpdate();
    const dataKeys = await dataQuery.execute();
    const indexKeys = await db.selectFrom('tenant_index_keys').select(['tenant_id', 'wrapped_key']).execute();
    const result: MasterRotationResult = { masterVersion, dataKeys: 0, indexKeys: 0, signingKeys: 0 };
    // Tenants whose index key was never stored: store the key their indexes were made with (derived from the master
    // key that wrapped their first data key) before that master key may be dropped from the configuration.
    const indexed = new Set(indexKeys.map((k) => k.tenant_id));
    const first = new Map<string, string>();
    for (const k of dataKeys) if (!first.has(k.tenant_id)) first.set(k.tenant_id, k.wrapped_key);
    for (const [tenantId, wrapped] of first) {
      if (indexed.has(tenantId)) continue;
      const key = fields.deriveIndexKey(tenantId, wrapped);
      await db.insertInto('tenant_index_keys').values({ tenant_id: tenantId, wrapped_key: fields.wrapIndex(tenantId, key), created_at: now }).execute();
      result.indexKeys++;
    }
    for (const k of dataKeys) {
      if (inspectWrappedDataKey(k.wrapped_key).masterVersion === masterVersion) continue;
      const dk = unwrapDataKey(masterKeys, k.wrapped_key, k.tenant_id);
      await db
        .updateTable('tenant_data_keys')
        .set({ wrapped_key: fields.wrap(k.tenant_id, dk.key, dk.alg, dk.version) })
        .where('tenant_id', '=', k.tenant_id)
        .where('version', '=', k.version)
        .execute();
      result.dataKeys++;
    }
    for (const k of indexKeys) {
      if (inspectWrappedIndexKey(k.wrapped_key).masterVersion === masterVersion) continue;
      const key = unwrapIndexKey(masterKeys, k.wrapped_key, k.tenant_id);
      await db.updateTable('tenant_index_keys').set({ wrapped_key: fields.wrapIndex(k.tenant_id, key) }).where('tenant_id', '=', k.tenant_id).execute();
      result.indexKeys++;
    }
    // The signing keys' private halves are sealed under the master key too (platform/crypto/key-store.ts): same rotation.
    const signing = await db.selectFrom('signing_keys').select(['id', 'private_key_sealed']).execute();
    for (const k of signing) {
      if (sealedSecretVersion(k.private_key_sealed) === masterVersion) continue;
      const resealed = fields.reseal(k.private_key_sealed, signingKeyLabel(k.id));
      await db.updateTable('signing_keys').set({ private_key_sealed: resealed }).where('id', '=', k.id).execute();
      result.signingKeys++;
    }
    // So is the ledger's log key (modules/ledger/app/log-keys.ts); counted with the signing keys.
    const logKeys = await db.selectFrom('ledger_log_keys').select(['key_id', 'verifier_key', 'private_key_sealed']).execute();
    for (const k of logKeys) {
      if (sealedSecretVersion(k.private_key_sealed) === masterVersion) continue;
      const resealed = fields.reseal(k.private_key_sealed, logKeyLabel(k.verifier_key));
      await db.updateTable('ledger_log_keys').set({ private_key_sealed: resealed }).where('key_id', '=', k.key_id).execute();
      result.signingKeys++;
    }
    // And the webhook signing secrets (modules/delivery/app/secret-sealer.ts), the current and a rotated-out one.
    const endpoints = await db.selectFrom('webhook_endpoints').select(['tenant_id', 'id', 'secret_sealed', 'previous_secret_sealed']).execute();
    for (const e of endpoints) {
      const label = webhookSecretLabel(e.tenant_id, e.id);
      const current = sealedSecretVersion(e.secret_sealed) === masterVersion ? undefined : fields.reseal(e.secret_sealed, label);
      const previous = e.previous_secret_sealed === null || sealedSecretVersion(e.previous_secret_sealed) === masterVersion
        ? undefined : fields.reseal(e.previous_secret_sealed, label);
      if (current === undefined && previous === undefined) continue;
      await db.updateTable('webhook_endpoints')
        .set({ ...(current ? { secret_sealed: current } : {}), ...(previous ? { previous_secret_sealed: previous } : {}) })
        .where('tenant_id', '=', e.tenant_id).where('id', '=', e.id)
        .execute();
      result.signingKeys++;
    }
    return result;
  }

  /** Keys being moved off, with when their tenant's active key was made. */
  async retiring(): Promise<{ tenantId: string; version: number; activeCreatedAt: string | undefined }[]> {
    const { db } = this.scope;
    const retiring = await db.selectFrom('tenant_data_keys').select(['tenant_id', 'version']).where('status', '=', 'retiring').execute();
    const out: { tenantId: string; version: number; activeCreatedAt: string | undefined }[] = [];
    for (const k of retiring) {
      const active = await db
        .selectFrom('tenant_data_keys').select('created_at').where('tenant_id', '=', k.tenant_id).where('status', '=', 'active').executeTakeFirst();
      out.push({ tenantId: k.tenant_id, version: Number(k.version), activeCreatedAt: active?.created_at });
    }
    return out;
  }

  /** Marks a retiring key retired; false when it was not retiring any more. */
  async markRetired(tenantId: string, version: number): Promise<boolean> {
    stampOf(this.scope);
    const done = await this.scope.db
      .updateTable('tenant_data_keys').set({ status: 'retired' })
      .where('tenant_id', '=', tenantId).where('version', '=', version).where('status', '=', 'retiring')
      .executeTakeFirst();
    return done.numUpdatedRows === 1n;
  }
}
