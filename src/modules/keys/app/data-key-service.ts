// Key rotation for the buyer's personal data at rest (docs/design.md §4 invariant 8): the use cases behind the admin API
// (`/admin/v1/tenants/{id}/data-keys`) and the CLI (`fapiao keys …`). Rotating a data key is instant (a new version
// encrypts new writes); moving the rows written under older versions is the re-encryption job's work
// (modules/keys/app/reencrypt-job.ts), woken through onRotated. Rotating the master key re-wraps every data key at once.
// Each rotation is one unit of work with its audit entry (`datakey.rotate`, `masterkey.rotate`).
import { AppError } from '../../../shared/errors.ts';
import { FieldCipherError } from '../../../platform/crypto/field-cipher.ts';
import { UniqueViolation } from '../../../platform/storage/storage-errors.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';
import type { AuditStamp } from '../../audit/index.ts';
import { stampEntry, type AuditRepository } from '../../audit/index.ts';
import type { TenantRepository } from '../../tenants/index.ts';
import type { ReencryptBatch, ReencryptCursor, ReencryptFailure, ReencryptRepository, ReencryptScope } from '../../invoicing/index.ts';
import type { DataKeyRepository } from '../storage/data-key-repository.ts';
import type { DataKeyAlgorithm, DataKeyInfo, MasterRotationResult, TenantDataKeys } from '../storage/data-keys.ts';

/** What the key-rotation use cases need of a unit of work. */
export interface DataKeyTx {
  dataKeys: DataKeyRepository;
  reencrypt: ReencryptRepository;
  tenants: TenantRepository;
  audit: AuditRepository;
}

export interface DataKeyServiceDeps {
  uow: UnitOfWork<DataKeyTx>;
  clock: Clock;
  /** false when no master key is configured (then every call answers FIELD_PROTECTION_OFF). */
  protection: boolean;
  /** config `fields.algorithm`: used when a rotation names none. */
  defaultAlgorithm: DataKeyAlgorithm;
  /** After a rotation: e.g. wake this node's re-encryption job. */
  onRotated?: () => void;
  /** After a rotation committed here: the field keys of this process read the tenant's keys again. */
  onTenantKeysChanged?: (tenantId: string) => void;
}

export interface ReencryptProgress {
  moved: number;
  conflicts: number;
  failed: number;
}

export type { ReencryptBatch, ReencryptFailure };

export class DataKeyService {
  constructor(private readonly deps: DataKeyServiceDeps) {}

  private get read(): DataKeyTx {
    this.requireProtection();
    return this.deps.uow.read;
  }

  private requireProtection(): void {
    if (!this.deps.protection) throw new AppError('FIELD_PROTECTION_OFF');
  }

  private async tenantOrThrow(tenantId: string): Promise<void> {
    if (!(await this.deps.uow.read.tenants.get(tenantId))) throw new AppError('TENANT_NOT_FOUND', { field: '/tenantId' });
  }

  async status(tenantId: string): Promise<TenantDataKeys> {
    await this.tenantOrThrow(tenantId);
    return this.statusOf(tenantId);
  }

  /** Every tenant, those without a data key yet included (with no keys), in the order tenants are listed. */
  async statusAll(): Promise<TenantDataKeys[]> {
    const out: TenantDataKeys[] = [];
    for (const t of await this.read.tenants.list()) out.push(await this.statusOf(t.id));
    return out;
  }

  /** The tenant's keys (no key material) and how far re-encryption is. */
  private async statusOf(tenantId: string): Promise<TenantDataKeys> {
    const { dataKeys, reencrypt } = this.read;
    let pending = 0;
    const keys: DataKeyInfo[] = [];
    for (const k of await dataKeys.list(tenantId)) {
      // Counting the active key's rows would read the tenant's whole index; the old ones shrink to 0 as the job runs.
      const rows = k.status === 'active' ? null : {
        invoices: await reencrypt.count('invoices', tenantId, k.version),
        idempotency: await reencrypt.count('idempotency_keys', tenantId, k.version),
      };
      if (rows) pending += rows.invoices + rows.idempotency;
      keys.push({ ...k, rows });
    }
    const unlabelled = {
      invoices: await reencrypt.count('invoices', tenantId, null),
      idempotency: await reencrypt.count('idempotency_keys', tenantId, null),
    };
    return { tenantId, keys, unlabelled, pending: pending + unlabelled.invoices + unlabelled.idempotency };
  }

  /** A new data-key version for the tenant (audited as datakey.rotate); old rows move in the background. */
  async rotate(tenantId: string, opts: { algorithm?: DataKeyAlgorithm } = {}, stamp?: AuditStamp): Promise<DataKeyInfo> {
    this.requireProtection();
    await this.tenantOrThrow(tenantId);
    const key = await this.rotateOne(tenantId, opts.algorithm ?? this.deps.defaultAlgorithm, stamp);
    this.deps.onRotated?.();
    return key;
  }

  /** Rotates every tenant's data key, one unit of work per tenant; `onProgress` after each. */
  async rotateAll(
    opts: { algorithm?: DataKeyAlgorithm } = {},
    stamp?: AuditStamp,
    onProgress?: (done: number, total: number, tenantId: string) => void,
  ): Promise<{ tenantId: string; key: DataKeyInfo }[]> {
    const tenants = await this.read.tenants.list();
    const out: { tenantId: string; key: DataKeyInfo }[] = [];
    for (const t of tenants) {
      out.push({ tenantId: t.id, key: await this.rotateOne(t.id, opts.algorithm ?? this.deps.defaultAlgorithm, stamp) });
      onProgress?.(out.length, tenants.length, t.id);
    }
    this.deps.onRotated?.();
    return out;
  }

  private async rotateOne(tenantId: string, alg: DataKeyAlgorithm, stamp: AuditStamp | undefined): Promise<DataKeyInfo> {
    // A tenant's first write may insert version 1 beside us (platform/storage/field-keys.ts, outside any lock): the
    // primary key lets one win, and the loser here retries on top of it.
    for (let attempt = 1; ; attempt++) {
      try {
        const info = await this.guard(() => this.deps.uow.run(this.deps.clock.now(), async (tx) => {
          const { previousVersion, ...key } = await tx.dataKeys.rotate(tenantId, alg);
          if (stamp) {
            const details = { version: key.version, alg: key.alg, previousVersion };
            await tx.audit.append([{ ...stampEntry(stamp, 'datakey.rotate', tenantId, tenantId), details }]);
          }
          return key;
        }));
        this.deps.onTenantKeysChanged?.(tenantId);
        return info;
      } catch (error) {
        if (attempt < 3 && error instanceof UniqueViolation) continue;
        throw error;
      }
    }
  }

  /**
   * Re-wraps every data key and index key under the configured current master key (audited as masterkey.rotate).
   * The master key it comes from must still be configured as a previous key.
   */
  async rotateMaster(stamp?: AuditStamp): Promise<MasterRotationResult> {
    this.requireProtection();
    return this.guard(() => this.deps.uow.run(this.deps.clock.now(), async (tx) => {
      const result = await tx.dataKeys.rotateMaster();
      if (stamp) {
        await tx.audit.append([{ ...stampEntry(stamp, 'masterkey.rotate', `master-v${result.masterVersion}`), details: { ...result } }]);
      }
      return result;
    }));
  }

  /**
   * One pass of re-encryption: rows under older data-key versions or unlabelled, moved to their tenant's current key
   * in batches of `batchSize`, each batch one unit of work with a compare-and-set per row. Yields after every batch;
   * the pass ends when no row is left but those that failed or conflicted.
   *
   * PostgreSQL: each batch is read `FOR UPDATE SKIP LOCKED` in the transaction that writes it, so jobs on several
   * nodes take disjoint batches. SQLite (one writer): rows are read and re-encrypted outside the write lock and only
   * the updates run in a transaction, so issuing waits for milliseconds, not for the crypto.
   */
  async *reencryptPass(batchSize: number): AsyncGenerator<ReencryptBatch> {
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`bad batch size: ${batchSize}`);
    const rotated = await this.read.reencrypt.rotatedTenants();
    for (const table of ['invoices', 'idempotency_keys'] as const) {
      yield* this.walk({ table }, batchSize);
      for (const r of rotated) yield* this.walk({ table, stale: { tenantId: r.tenantId, current: r.current } }, batchSize);
    }
  }

  private async *walk(scope: ReencryptScope, n: number): AsyncGenerator<ReencryptBatch> {
    const { uow, clock } = this.deps;
    let cursor: ReencryptCursor | undefined;
    for (;;) {
      let rows;
      let result: ReencryptBatch;
      if (uow.engine === 'postgres') {
        [rows, result] = await uow.run(clock.now(), async (tx) => {
          const read = await tx.reencrypt.select(scope, cursor, n, true);
          return [read, await tx.reencrypt.apply(scope.table, await uow.read.reencrypt.plan(scope, read))] as const;
        });
      } else {
        rows = await uow.read.reencrypt.select(scope, cursor, n, false);
        const plans = await uow.read.reencrypt.plan(scope, rows);
        result = await uow.run(clock.now(), (tx) => tx.reencrypt.apply(scope.table, plans));
      }
      if (rows.length > 0) yield result;
      if (rows.length < n) return;
      const last = rows.at(-1)!;
      cursor = { tenantId: last.tenantId, version: last.version, id: last.id };
    }
  }

  /** Marks retiring keys retired when no row references them and they were replaced before `replacedBefore`. */
  async retireDrained(replacedBefore: string): Promise<{ tenantId: string; version: number }[]> {
    const { dataKeys, reencrypt } = this.read;
    const retired: { tenantId: string; version: number }[] = [];
    for (const k of await dataKeys.retiring()) {
      // A node may write under the old key until its cache expires (field-keys.ts TTL): wait out that grace.
      if (k.activeCreatedAt === undefined || k.activeCreatedAt >= replacedBefore) continue;
      if (await reencrypt.any('invoices', k.tenantId, k.version) || await reencrypt.any('idempotency_keys', k.tenantId, k.version)) continue;
      // Unlabelled rows may hold envelopes under any version: they keep every retiring key of the tenant.
      if (await reencrypt.any('invoices', k.tenantId, null) || await reencrypt.any('idempotency_keys', k.tenantId, null)) continue;
      const done = await this.deps.uow.run(this.deps.clock.now(), (tx) => tx.dataKeys.markRetired(k.tenantId, k.version));
      if (done) retired.push({ tenantId: k.tenantId, version: k.version });
    }
    return retired;
  }

  /**
   * Runs re-encryption in the foreground until a pass moves nothing (the CLI's `--wait`; the server's job does the same
   * in the background). Safe beside running servers: every row is a compare-and-set.
   */
  async reencryptUntilDone(batchSize: number, onBatch?: (batch: ReencryptBatch, total: ReencryptProgress) => void): Promise<ReencryptProgress> {
    this.requireProtection();
    const total: ReencryptProgress = { moved: 0, conflicts: 0, failed: 0 };
    for (;;) {
      let moved = 0;
      for await (const batch of this.reencryptPass(batchSize)) {
        moved += batch.moved;
        total.moved += batch.moved;
        total.conflicts += batch.conflicts;
        total.failed += batch.failures.length;
        onBatch?.(batch, total);
      }
      if (moved === 0) return total;
    }
  }

  /** Key errors become a stable code; nothing about the key itself is said. */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof FieldCipherError && error.reason === 'unknown_key_version') {
        throw new AppError('MASTER_KEY_UNAVAILABLE', {
          detail: 'A stored key is wrapped under a master key version that is not configured (masterKeyPrevious)',
          cause: error,
        });
      }
      throw error;
    }
  }
}
