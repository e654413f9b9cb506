// Signing keys: made by `init` (or on first start), sealed under the master key at rest, published by GET /v1/keys.
import { createSigningKey, openSigningKey, type MasterKey } from '../../../platform/crypto/key-store.ts';
import type { SigningKeyRecord } from '../../tenants/index.ts';
import type { SigningKeyRepository } from '../storage/signing-key-repository.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';
import { stampEntry, type AuditRepository, type AuditStamp } from '../../audit/index.ts';

/** What the signing-key use cases need of a unit of work. */
export interface SigningKeyTx {
  signingKeys: SigningKeyRepository;
  audit: AuditRepository;
}

export interface PublicKeyView {
  keyId: string;
  alg: 'SM2';
  /** Uncompressed point, hex (04‖x‖y). */
  publicKey: string;
  createdAt: string;
  status: 'active' | 'retired';
}

export class KeyService {
  private cache: Map<string, SigningKeyRecord> | undefined;

  constructor(
    private readonly uow: UnitOfWork<SigningKeyTx>,
    private readonly clock: Clock,
    private readonly masterKey: MasterKey,
    /** The master key's version and every configured master key (current + previous), for master-key rotation. */
    private readonly masterRing?: { version: number; keys: ReadonlyMap<number, MasterKey> },
  ) {}

  /** The active key, created when there is none. Returns the private key for the signer pool only. */
  async activeKeyPair(): Promise<{ keyId: string; publicKey: string; privateKey: string }> {
    const keys = this.uow.read.signingKeys;
    let active = await keys.getActive();
    if (!active) {
      const k = createSigningKey(this.masterKey, { keyVersion: this.masterRing?.version ?? 1 });
      const at = this.clock.now();
      await this.uow.run(at, (tx) => tx.signingKeys.insert({
        id: k.id, alg: 'SM2', publicKey: k.publicKey, privateKeySealed: k.privateKeySealed, createdAt: at.toISOString(), status: 'active',
      }));
      this.cache = undefined;
      active = await keys.getActive();
      if (!active) throw new Error('signing key was not stored');
    }
    const privateKey = openSigningKey(this.masterRing?.keys ?? this.masterKey, active);
    return { keyId: active.id, publicKey: active.publicKey, privateKey };
  }

  /**
   * Signing-key rotation: a new SM2 key becomes the active one and the active one is retired, in one transaction with
   * its audit entry (`signingkey.rotate`). Retired keys stay published (GET /v1/keys), so every invoice they signed
   * still verifies. A running server keeps signing with the key it loaded until it restarts (a rolling restart moves
   * every node to the new key; in between, invoices carry either key, both published).
   */
  async rotate(by: AuditStamp): Promise<{ keyId: string; publicKey: string; retired: string[] }> {
    const k = createSigningKey(this.masterKey, { keyVersion: this.masterRing?.version ?? 1 });
    const at = this.clock.now();
    const before = (await this.uow.read.signingKeys.list()).filter((x) => x.status === 'active').map((x) => x.id);
    await this.uow.run(at, async (tx) => {
      await tx.signingKeys.retireActive();
      await tx.signingKeys.insert({
        id: k.id, alg: 'SM2', publicKey: k.publicKey, privateKeySealed: k.privateKeySealed, createdAt: at.toISOString(), status: 'active',
      });
      await tx.audit.append([{ ...stampEntry(by, 'signingkey.rotate', k.id), details: { keyId: k.id, retired: before } }]);
    });
    this.cache = undefined;
    return { keyId: k.id, publicKey: k.publicKey, retired: before };
  }

  async list(): Promise<PublicKeyView[]> {
    const all = await this.uow.read.signingKeys.list();
    return all.map((k) => ({ keyId: k.id, alg: k.alg, publicKey: k.publicKey, createdAt: k.createdAt, status: k.status }));
  }

  /** Public key hex of a keyId, cached (keys are immutable once published). */
  async publicKey(keyId: string): Promise<string | undefined> {
    if (!this.cache?.has(keyId)) {
      this.cache = new Map((await this.uow.read.signingKeys.list()).map((k) => [k.id, k]));
    }
    return this.cache.get(keyId)?.publicKey;
  }
}
