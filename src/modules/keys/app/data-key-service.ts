// Key rotation for the buyer's personal data at rest (DESIGN.md §4 invariant 8): the use cases behind the admin API
// (`/admin/v1/tenants/{id}/data-keys`) and the CLI (`fapiao keys …`). Rotating a data key is instant (a new version
// encrypts new writes); moving the rows written under older versions is the re-encryption job's work
// (modules/keys/app/reencrypt-job.ts), woken through onRotated. Rotating the master key re-wraps every data key at once.
import { AppError } from '../../../shared/errors.ts';
import { FieldCipherError } from '../../../platform/crypto/field-cipher.ts';
import type { AuditStamp, TenantRepository } from '../../../platform/storage/storage.ts';
import type {
  DataKeyAlgorithm, DataKeyInfo, DataKeyRepository, MasterRotationResult, ReencryptBatch, TenantDataKeys,
} from '../storage/data-keys.ts';

export interface DataKeyServiceDeps {
  /** Absent when no master key is configured (then every call answers FIELD_PROTECTION_OFF). */
  dataKeys: DataKeyRepository | undefined;
  tenants: Pick<TenantRepository, 'get' | 'list'>;
  /** config `fields.algorithm`: used when a rotation names none. */
  defaultAlgorithm: DataKeyAlgorithm;
  /** After a rotation: e.g. wake this node's re-encryption job. */
  onRotated?: () => void;
}

export interface ReencryptProgress {
  moved: number;
  conflicts: number;
  failed: number;
}

export class DataKeyService {
  constructor(private readonly deps: DataKeyServiceDeps) {}

  private repo(): DataKeyRepository {
    if (!this.deps.dataKeys) throw new AppError('FIELD_PROTECTION_OFF');
    return this.deps.dataKeys;
  }

  private async tenantOrThrow(tenantId: string): Promise<void> {
    if (!(await this.deps.tenants.get(tenantId))) throw new AppError('TENANT_NOT_FOUND', { field: '/tenantId' });
  }

  async status(tenantId: string): Promise<TenantDataKeys> {
    await this.tenantOrThrow(tenantId);
    return this.repo().status(tenantId);
  }

  /** Every tenant, those without a data key yet included (with no keys), in the order tenants are listed. */
  async statusAll(): Promise<TenantDataKeys[]> {
    const repo = this.repo();
    const out: TenantDataKeys[] = [];
    for (const t of await this.deps.tenants.list()) out.push(await repo.status(t.id));
    return out;
  }

  /** A new data-key version for the tenant (audited as datakey.rotate); old rows move in the background. */
  async rotate(tenantId: string, opts: { algorithm?: DataKeyAlgorithm } = {}, stamp?: AuditStamp): Promise<DataKeyInfo> {
    await this.tenantOrThrow(tenantId);
    const key = await this.guard(() => this.repo().rotate(tenantId, opts.algorithm ?? this.deps.defaultAlgorithm, stamp));
    this.deps.onRotated?.();
    return key;
  }

  /** Rotates every tenant's data key, one transaction per tenant; `onProgress` after each. */
  async rotateAll(
    opts: { algorithm?: DataKeyAlgorithm } = {},
    stamp?: AuditStamp,
    onProgress?: (done: number, total: number, tenantId: string) => void,
  ): Promise<{ tenantId: string; key: DataKeyInfo }[]> {
    const repo = this.repo();
    const tenants = await this.deps.tenants.list();
    const out: { tenantId: string; key: DataKeyInfo }[] = [];
    for (const t of tenants) {
      out.push({ tenantId: t.id, key: await this.guard(() => repo.rotate(t.id, opts.algorithm ?? this.deps.defaultAlgorithm, stamp)) });
      onProgress?.(out.length, tenants.length, t.id);
    }
    this.deps.onRotated?.();
    return out;
  }

  /**
   * Re-wraps every data key and index key under the configured current master key (audited as masterkey.rotate).
   * The master key it comes from must still be configured as a previous key.
   */
  async rotateMaster(stamp?: AuditStamp): Promise<MasterRotationResult> {
    return this.guard(() => this.repo().rotateMaster(stamp));
  }

  /**
   * Runs re-encryption in the foreground until a pass moves nothing (the CLI's `--wait`; the server's job does the same
   * in the background). Safe beside running servers: every row is a compare-and-set.
   */
  async reencryptUntilDone(batchSize: number, onBatch?: (batch: ReencryptBatch, total: ReencryptProgress) => void): Promise<ReencryptProgress> {
    const total: ReencryptProgress = { moved: 0, conflicts: 0, failed: 0 };
    for (;;) {
      let moved = 0;
      for await (const batch of this.repo().reencrypt(batchSize)) {
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
