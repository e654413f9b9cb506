// API keys: rows only, and never the hash outside this file (explicit columns). Audit entries for key changes are the
// tenant use cases' (modules/tenants/app/tenant-service.ts).
import type { Selectable } from 'kysely';
import type { ApiKeysTable } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { ApiKeyRecord, NewApiKey } from './tenant-contract.ts';

/** Explicit columns: the key hash never leaves this file. */
const PUBLIC_COLUMNS = ['tenant_id', 'id', 'prefix', 'scopes', 'created_at', 'expires_at', 'revoked_at'] as const;

export class ApiKeyRepository {
  constructor(private readonly scope: Scope) {}

  async insert(key: NewApiKey): Promise<ApiKeyRecord> {
    const createdAt = stampOf(this.scope);
    await this.scope.db
      .insertInto('api_keys')
      .values({
        tenant_id: key.tenantId,
        id: key.id,
        prefix: key.prefix,
        key_hash: key.hash,
        scopes: JSON.stringify(key.scopes),
        created_at: createdAt,
        expires_at: key.expiresAt ?? null,
        revoked_at: null,
      })
      .execute();
    const record: ApiKeyRecord = { tenantId: key.tenantId, id: key.id, prefix: key.prefix, scopes: [...key.scopes], createdAt };
    if (key.expiresAt !== undefined) record.expiresAt = key.expiresAt;
    return record;
  }

  /** Looks a key up by the hash of its secret; revoked and expired keys are returned too (the caller decides). */
  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.scope.db.selectFrom('api_keys').select(PUBLIC_COLUMNS).where('key_hash', '=', hash).executeTakeFirst();
    return row && toRecord(row);
  }

  async list(tenantId: string): Promise<ApiKeyRecord[]> {
    const rows = await this.scope.db
      .selectFrom('api_keys')
      .select(PUBLIC_COLUMNS)
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRecord);
  }

  /** Marks the key revoked at the unit of work's time (a second revocation keeps the first); false when absent. */
  async revoke(tenantId: string, id: string): Promise<boolean> {
    const at = stampOf(this.scope);
    const result = await this.scope.db
      .updateTable('api_keys')
      .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(at)) }))
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }
}

function toRecord(row: Omit<Selectable<ApiKeysTable>, 'key_hash'>): ApiKeyRecord {
  const record: ApiKeyRecord = {
    tenantId: row.tenant_id,
    id: row.id,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: row.created_at,
  };
  if (row.expires_at !== null) record.expiresAt = row.expires_at;
  if (row.revoked_at !== null) record.revokedAt = row.revoked_at;
  return record;
}
