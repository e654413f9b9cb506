// Signing keys: public part and the private half sealed under the master key (platform/crypto/key-store.ts), one active
// key per algorithm (`alg`: SM2, ECDSA-P256, Ed25519).
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { SigningKeyRecord, SigningKeyWithSecret } from '../../tenants/index.ts';
import type { SigningAlgorithm } from '../../../shared/signing.ts';

export class SigningKeyRepository {
  constructor(private readonly scope: Scope) {}

  async insert(key: SigningKeyWithSecret): Promise<void> {
    stampOf(this.scope);
    await this.scope.db
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
  }

  /** All keys, public parts only, oldest first. */
  async list(): Promise<SigningKeyRecord[]> {
    const rows = await this.scope.db
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

  /** Retires every active key of `alg` (signing-key rotation, in the transaction that inserts the new one). */
  async retireActive(alg: SigningAlgorithm = 'SM2'): Promise<number> {
    stampOf(this.scope);
    const r = await this.scope.db.updateTable('signing_keys').set({ status: 'retired' }).where('status', '=', 'active').where('alg', '=', alg).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  /** The newest active key of `alg` with its sealed secret. */
  async getActive(alg: SigningAlgorithm = 'SM2'): Promise<SigningKeyWithSecret | undefined> {
    const r = await this.scope.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('status', '=', 'active')
      .where('alg', '=', alg)
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
