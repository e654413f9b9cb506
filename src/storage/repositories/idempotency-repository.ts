import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import type { IdempotencyRecord, IdempotencyRepository } from '../storage.ts';

export class KyselyIdempotencyRepository implements IdempotencyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(tenantId: string, key: string): Promise<IdempotencyRecord | undefined> {
    const row = await this.db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'status_code', 'body'])
      .where('tenant_id', '=', tenantId)
      .where('key', '=', key)
      .executeTakeFirst();
    return row && { requestHash: row.request_hash, statusCode: row.status_code, body: row.body };
  }
}
