import type { Kysely, Selectable } from 'kysely';
import type { ApiKeysTable, Database } from '../../../platform/storage/database.ts';
import type { ApiKeyRecord, ApiKeyRepository, AuditStamp, NewApiKey } from '../../../platform/storage/storage.ts';
import { appendAuditInTx, stampEntry } from '../../audit/storage/audit-repository.ts';
import { rethrow, type EngineTraits } from '../../../platform/storage/engine-traits.ts';

/** Explicit columns: the key hash never leaves this file. */
const PUBLIC_COLUMNS = ['tenant_id', 'id', 'prefix', 'scopes', 'created_at', 'expires_at', 'revoked_at'] as const;

export class KyselyApiKeyRepository implements ApiKeyRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly traits: EngineTraits,
  ) {}

  async create(key: NewApiKey, audit?: AuditStamp): Promise<ApiKeyRecord> {
    const createdAt = new Date().toISOString();
    try {
      await this.db.transaction().execute(async (trx) => {
        await trx
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
        if (audit) await appendAuditInTx(trx, [stampEntry(audit, 'apikey.create', key.id, key.tenantId)], createdAt);
      });
    } catch (error) {
      rethrow(this.traits, error);
    }
    const record: ApiKeyRecord = { tenantId: key.tenantId, id: key.id, prefix: key.prefix, scopes: [...key.scopes], createdAt };
    if (key.expiresAt !== undefined) record.expiresAt = key.expiresAt;
    return record;
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_keys').select(PUBLIC_COLUMNS).where('key_hash', '=', hash).executeTakeFirst();
    return row && toRecord(row);
  }

  async list(tenantId: string): Promise<ApiKeyRecord[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .select(PUBLIC_COLUMNS)
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toRecord);
  }

  async revoke(tenantId: string, id: string, at: string, audit?: AuditStamp): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      // A second revocation keeps the first timestamp.
      const result = await trx
        .updateTable('api_keys')
        .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(at)) }))
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .executeTakeFirst();
      const found = result.numUpdatedRows > 0n;
      if (audit) await appendAuditInTx(trx, [stampEntry(audit, 'apikey.revoke', id, tenantId, found ? 'success' : 'failure')]);
      return found;
    });
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
