// Signing keys: one active key per algorithm (SM2; ECDSA-P256 and Ed25519 for the international profile), made by
// `init` for the configured algorithm or on first use, sealed under the master key at rest, published by GET /v1/keys.
import { createSigningKey, openSigningKey, type MasterKey } from '../../../platform/crypto/key-store.ts';
import { publicKeySpki } from '../../../platform/crypto/signatures.ts';
import type { SigningKeyRecord } from '../../tenants/index.ts';
import type { SigningKeyRepository } from '../storage/signing-key-repository.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';
import type { SigningAlgorithm } from '../../../shared/signing.ts';
import { stampEntry, type AuditRepository, type AuditStamp } from '../../audit/index.ts';

/** What the signing-key use cases need of a unit of work. */
export interface SigningKeyTx {
  signingKeys: SigningKeyRepository;
  audit: AuditRepository;
}

export interface PublicKeyView {
  keyId: string;
  alg: SigningAlgorithm;
  /** Hex: SM2 and ECDSA-P256 the uncompressed point 04‖x‖y, Ed25519 the 32-byte key (RFC 8032 §5.1.5). */
  publicKey: string;
  /** Base64 of the DER SubjectPublicKeyInfo (RFC 5480; RFC 8410 for Ed25519): PEM for OpenSSL once wrapped. */
  spki: string;
  createdAt: string;
  status: 'active' | 'retired';
}

/** A published key as a verifier needs it. */
export interface VerifyingKey {
  keyId: string;
  alg: SigningAlgorithm;
  publicKey: string;
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

  /** The active key of `alg`, created when there is none. Returns the private key for the signer pool only. */
  async activeKeyPair(alg: SigningAlgorithm = 'SM2'): Promise<{ keyId: string; alg: SigningAlgorithm; publicKey: string; privateKey: string }> {
    const keys = this.uow.read.signingKeys;
    let active = await keys.getActive(alg);
    if (!active) {
      const k = createSigningKey(this.masterKey, { keyVersion: this.masterRing?.version ?? 1, alg });
      const at = this.clock.now();
      await this.uow.run(at, (tx) => tx.signingKeys.insert({
        id: k.id, alg, publicKey: k.publicKey, privateKeySealed: k.privateKeySealed, createdAt: at.toISOString(), status: 'active',
      }));
      this.cache = undefined;
      active = await keys.getActive(alg);
      if (!active) throw new Error('signing key was not stored');
    }
    const privateKey = openSigningKey(this.masterRing?.keys ?? this.masterKey, active);
    return { keyId: active.id, alg, publicKey: active.publicKey, privateKey };
  }

  /**
   * Signing-key rotation: a new key of `alg` (default SM2) becomes the active one and the active one of that algorithm
   * is retired, in one transaction with its audit entry (`signingkey.rotate`). Keys of the other algorithms are not
   * touched. Retired keys stay published (GET /v1/keys), so every invoice they signed still verifies. A running server
   * keeps signing with the key it loaded until it restarts (a rolling restart moves every node to the new key; in
   * between, invoices carry either key, both published).
   */
  async rotate(by: AuditStamp, alg: SigningAlgorithm = 'SM2'): Promise<{ keyId: string; alg: SigningAlgorithm; publicKey: string; retired: string[] }> {
    const k = createSigningKey(this.masterKey, { keyVersion: this.masterRing?.version ?? 1, alg });
    const at = this.clock.now();
    const before = (await this.uow.read.signingKeys.list()).filter((x) => x.status === 'active' && x.alg === alg).map((x) => x.id);
    await this.uow.run(at, async (tx) => {
      await tx.signingKeys.retireActive(alg);
      await tx.signingKeys.insert({
        id: k.id, alg, publicKey: k.publicKey, privateKeySealed: k.privateKeySealed, createdAt: at.toISOString(), status: 'active',
      });
      await tx.audit.append([{ ...stampEntry(by, 'signingkey.rotate', k.id), details: { keyId: k.id, alg, retired: before } }]);
    });
    this.cache = undefined;
    return { keyId: k.id, alg, publicKey: k.publicKey, retired: before };
  }

  async list(): Promise<PublicKeyView[]> {
    const all = await this.uow.read.signingKeys.list();
    return all.map((k) => ({
      keyId: k.id, alg: k.alg, publicKey: k.publicKey, spki: Buffer.from(publicKeySpki(k.alg, k.publicKey)).toString('base64'),
      createdAt: k.createdAt, status: k.status,
    }));
  }

  /** A published key by keyId, cached (keys are immutable once published). */
  async verifyingKey(keyId: string): Promise<VerifyingKey | undefined> {
    if (!this.cache?.has(keyId)) {
      this.cache = new Map((await this.uow.read.signingKeys.list()).map((k) => [k.id, k]));
    }
    const k = this.cache.get(keyId);
    return k && { keyId: k.id, alg: k.alg, publicKey: k.publicKey };
  }

  /** Public key hex of a keyId (any algorithm: see verifyingKey for which). */
  async publicKey(keyId: string): Promise<string | undefined> {
    return (await this.verifyingKey(keyId))?.publicKey;
  }
}
