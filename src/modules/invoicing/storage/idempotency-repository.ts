import type { Kysely } from 'kysely';
import type { Database } from '../../../platform/storage/database.ts';
import type { FieldProtector } from '../../../platform/storage/field-protector.ts';
import type { IdempotencyRecord, IdempotencyRepository } from '../../../platform/storage/storage.ts';

export class KyselyIdempotencyRepository implements IdempotencyRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly protector?: FieldProtector,
  ) {}

  async get(tenantId: string, key: string): Promise<IdempotencyRecord | undefined> {
    const row = await this.db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'status_code', 'body'])
      .where('tenant_id', '=', tenantId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!row) return undefined;
    const body = this.protector ? await this.protector.openBody(this.db, tenantId, key, row.body) : row.body;
    return { requestHash: row.request_hash, statusCode: row.status_code, body };
  }
}
