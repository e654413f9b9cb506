import type { Kysely } from 'kysely';
import type { Database } from '../../../platform/storage/database.ts';
import type { SigningKeyRecord, SigningKeyRepository, SigningKeyWithSecret } from '../../../platform/storage/storage.ts';
import { rethrow, type EngineTraits } from '../../../platform/storage/engine-traits.ts';

export class KyselySigningKeyRepository implements SigningKeyRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly traits: EngineTraits,
  ) {}

  async insert(key: SigningKeyWithSecret): Promise<void> {
    try {
      await this.db
        .insertInto('signing_keys')
        .values({
          id: key.id,
          alg: key.alg,
          public_key: key.publicKey,
          private_key_sealed: key.privateKeySealed,
          created_at: key.createdAt,
          status: key.status,
        })
        .execute();
    } catch (error) {
      rethrow(this.traits, error);
    }
  }

  async list(): Promise<SigningKeyRecord[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .select(['id', 'alg', 'public_key', 'created_at', 'status'])
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      alg: r.alg as SigningKeyRecord['alg'],
      publicKey: r.public_key,
      createdAt: r.created_at,
      status: r.status as SigningKeyRecord['status'],
    }));
  }

  async getActive(): Promise<SigningKeyWithSecret | undefined> {
    const r = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('status', '=', 'active')
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!r) return undefined;
    return {
      id: r.id,
      alg: r.alg as SigningKeyRecord['alg'],
      publicKey: r.public_key,
      privateKeySealed: r.private_key_sealed,
      createdAt: r.created_at,
      status: r.status as SigningKeyRecord['status'],
    };
  }
}
