// Tenant data keys and the master key they are wrapped under: rotation, status, retirement (data-keys.ts). The
// re-encryption of rows is in reencrypt-rows.ts.
import type { Kysely } from 'kysely';
import type { Database } from '../../../platform/storage/database.ts';
import {
  createDataKey, inspectWrappedDataKey, inspectWrappedIndexKey, unwrapDataKey, unwrapIndexKey,
} from '../../../platform/crypto/field-cipher.ts';
import { sealedSecretVersion, signingKeyLabel } from '../../../platform/crypto/key-store.ts';
import type { FieldProtector } from '../../../platform/storage/field-protector.ts';
import type { AuditStamp } from '../../../platform/storage/storage.ts';
import type {
  DataKeyAlgorithm, DataKeyInfo, DataKeyRepository, DataKeyStatus, MasterRotationResult, ReencryptBatch, TenantDataKeys,
} from './data-keys.ts';
import { appendAuditInTx, stampEntry } from '../../audit/storage/audit-repository.ts';
import { rethrow, type EngineTraits } from '../../../platform/storage/engine-traits.ts';
import { reencryptRows } from './reencrypt-rows.ts';

type RowTable = 'invoices' | 'idempotency_keys';

export class KyselyDataKeyRepository implements DataKeyRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly traits: EngineTraits,
    private readonly protector: FieldProtector,
  ) {}

  async tenantIds(): Promise<string[]> {
    const rows = await this.db.selectFrom('tenant_data_keys').select('tenant_id').distinct().orderBy('tenant_id').execute();
    return rows.map((r) => r.tenant_id);
  }

  async status(tenantId: string): Promise<TenantDataKeys> {
    const rows = await this.db
      .selectFrom('tenant_data_keys')
      .select(['version', 'alg', 'status', 'created_at', 'wrapped_key'])
      .where('tenant_id', '=', tenantId)
      .orderBy('version')
      .execute();
    const keys: DataKeyInfo[] = [];
    let pending = 0;
    for (const r of rows) {
      const version = Number(r.version);
      // Counting the active key's rows would read the tenant's whole index; the old ones shrink to 0 as the job runs.
      const counted = r.status === 'active' ? null : {
        invoices: await this.count('invoices', tenantId, version),
        idempotency: await this.count('idempotency_keys', tenantId, version),
      };
      if (counted) pending += counted.invoices + counted.idempotency;
      keys.push({
        version, alg: r.alg as DataKeyAlgorithm, status: r.status as DataKeyStatus, createdAt: r.created_at,
        masterVersion: inspectWrappedDataKey(r.wrapped_key).masterVersion, rows: counted,
      });
    }
    const unlabelled = { invoices: await this.count('invoices', tenantId, null), idempotency: await this.count('idempotency_keys', tenantId, null) };
    return { tenantId, keys, unlabelled, pending: pending + unlabelled.invoices + unlabelled.idempotency };
  }

  /** Rows of a tenant under one version (null: unlabelled), through the 0005 indexes. */
  private async count(table: RowTable, tenantId: string, version: number | null): Promise<number> {
    const row = await this.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('tenant_id', '=', tenantId)
      .where('data_key_version', version === null ? 'is' : '=', version)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async rotate(tenantId: string, alg: DataKeyAlgorithm, audit?: AuditStamp): Promise<DataKeyInfo> {
    // A tenant's first write may insert version 1 beside us (field-protector.ts, outside any lock): the primary key
    // lets one win, and the loser here retries on top of it.
    for (let attempt = 1; ; attempt++) {
      try {
        const info = await this.db.transaction().execute(async (trx) => {
          // PostgreSQL: the tenant row serialises rotations of one tenant; each then reads the versions afresh.
          // SQLite: the transaction began IMMEDIATE and holds the write lock.
          if (this.traits.engine === 'postgres') await trx.selectFrom('tenants').select('id').where('id', '=', tenantId).forUpdate().execute();
          const rows = await trx.selectFrom('tenant_data_keys').select('version').where('tenant_id', '=', tenantId).execute();
          const previous = rows.reduce((m, r) => Math.max(m, Number(r.version)), 0);
          const version = previous + 1;
          const now = new Date().toISOString();
          const wrapped = this.protector.wrap(tenantId, createDataKey(alg), alg, version);
          await trx.updateTable('tenant_data_keys').set({ status: 'retiring' }).where('tenant_id', '=', tenantId).where('status', '=', 'active').execute();
          await trx
            .insertInto('tenant_data_keys')
            .values({ tenant_id: tenantId, version, alg, wrapped_key: wrapped, created_at: now, status: 'active' })
            .execute();
          if (audit) {
            const details = { version, alg, previousVersion: previous === 0 ? null : previous };
            await appendAuditInTx(trx, [{ ...stampEntry(audit, 'datakey.rotate', tenantId, tenantId), details }], now);
          }
          return { version, alg, status: 'active', createdAt: now, masterVersion: this.protector.masterVersion, rows: null } satisfies DataKeyInfo;
        });
        this.protector.forget(tenantId);
        return info;
      } catch (error) {
        if (attempt < 3 && this.traits.toUniqueViolation(error)) continue;
        rethrow(this.traits, error);
      }
    }
  }

  async rotateMaster(audit?: AuditStamp): Promise<MasterRotationResult> {
    const { masterKeys, masterVersion } = this.protector;
    return this.db.transaction().execute(async (trx) => {
      let dataQuery = trx.selectFrom('tenant_data_keys').select(['tenant_id', 'version', 'wrapped_key']).orderBy('tenant_id').orderBy('version');
      // PostgreSQL: two rotations at once serialise here (SQLite: the IMMEDIATE transaction already does).
      if (this.traits.engine === 'postgres') dataQuery = dataQuery.forUpdate();
      const dataKeys = await dataQuery.execute();
      const indexKeys = await trx.selectFrom('tenant_index_keys').select(['tenant_id', 'wrapped_key']).execute();
      const now = new Date().toISOString();
      const result: MasterRotationResult = { masterVersion, dataKeys: 0, indexKeys: 0, signingKeys: 0 };
      // Tenants whose index key was never stored: store the key their indexes were made with (derived from the master
      // key that wrapped their first data key) before that master key may be dropped from the configuration.
      const indexed = new Set(indexKeys.map((k) => k.tenant_id));
      const first = new Map<string, string>();
      for (const k of dataKeys) if (!first.has(k.tenant_id)) first.set(k.tenant_id, k.wrapped_key);
      for (const [tenantId, wrapped] of first) {
        if (indexed.has(tenantId)) continue;
        const key = this.protector.deriveIndexKey(tenantId, wrapped);
        await trx.insertInto('tenant_index_keys').values({ tenant_id: tenantId, wrapped_key: this.protector.wrapIndex(tenantId, key), created_at: now }).execute();
        result.indexKeys++;
      }
      for (const k of dataKeys) {
        if (inspectWrappedDataKey(k.wrapped_key).masterVersion === masterVersion) continue;
        const dk = unwrapDataKey(masterKeys, k.wrapped_key, k.tenant_id);
        await trx
          .updateTable('tenant_data_keys')
          .set({ wrapped_key: this.protector.wrap(k.tenant_id, dk.key, dk.alg, dk.version) })
          .where('tenant_id', '=', k.tenant_id)
          .where('version', '=', k.version)
          .execute();
        result.dataKeys++;
      }
      for (const k of indexKeys) {
        if (inspectWrappedIndexKey(k.wrapped_key).masterVersion === masterVersion) continue;
        const key = unwrapIndexKey(masterKeys, k.wrapped_key, k.tenant_id);
        await trx.updateTable('tenant_index_keys').set({ wrapped_key: this.protector.wrapIndex(k.tenant_id, key) }).where('tenant_id', '=', k.tenant_id).execute();
        result.indexKeys++;
      }
      // The signing keys' private halves are sealed under the master key too (key-store.ts): same rotation.
      const signing = await trx.selectFrom('signing_keys').select(['id', 'private_key_sealed']).execute();
      for (const k of signing) {
        if (sealedSecretVersion(k.private_key_sealed) === masterVersion) continue;
        const resealed = this.protector.reseal(k.private_key_sealed, signingKeyLabel(k.id));
        await trx.updateTable('signing_keys').set({ private_key_sealed: resealed }).where('id', '=', k.id).execute();
        result.signingKeys++;
      }
      if (audit) await appendAuditInTx(trx, [{ ...stampEntry(audit, 'masterkey.rotate', `master-v${masterVersion}`), details: { ...result } }], now);
      return result;
    });
  }

  reencrypt(batchSize: number): AsyncIterable<ReencryptBatch> {
    return reencryptRows(this.db, this.traits, this.protector, batchSize);
  }

  async retireDrained(replacedBefore: string): Promise<{ tenantId: string; version: number }[]> {
    const retiring = await this.db.selectFrom('tenant_data_keys').select(['tenant_id', 'version']).where('status', '=', 'retiring').execute();
    const retired: { tenantId: string; version: number }[] = [];
    for (const k of retiring) {
      const tenantId = k.tenant_id;
      const version = Number(k.version);
      // A node may write under the old key until its cache expires (field-protector.ts TTL): wait out that grace.
      const active = await this.db
        .selectFrom('tenant_data_keys').select('created_at').where('tenant_id', '=', tenantId).where('status', '=', 'active').executeTakeFirst();
      if (!active || active.created_at >= replacedBefore) continue;
      // Unlabelled rows may hold envelopes under any version: they keep every retiring key of the tenant.
      if (await this.any('invoices', tenantId, version) || await this.any('idempotency_keys', tenantId, version)) continue;
      if (await this.any('invoices', tenantId, null) || await this.any('idempotency_keys', tenantId, null)) continue;
      const done = await this.db
        .updateTable('tenant_data_keys').set({ status: 'retired' })
        .where('tenant_id', '=', tenantId).where('version', '=', version).where('status', '=', 'retiring')
        .executeTakeFirst();
      if (done.numUpdatedRows === 1n) retired.push({ tenantId, version });
    }
    return retired;
  }

  private async any(table: RowTable, tenantId: string, version: number | null): Promise<boolean> {
    const row = await this.db
      .selectFrom(table)
      .select('tenant_id')
      .where('tenant_id', '=', tenantId)
      .where('data_key_version', version === null ? 'is' : '=', version)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }
}
