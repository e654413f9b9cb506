// The log's Ed25519 note key (docs/ledger.md "Signed notes"): made by `init` or on first start, its signer key text
// sealed under the master key like the invoice signing keys (platform/crypto/key-store.ts), the label naming the
// verifier key so a sealed secret cannot be moved to another row. Its verifier key (signed-note vkey) is published.
import { openSecret, sealSecret, type MasterKey, type MasterKeys } from '../../../platform/crypto/key-store.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';
import { hex8, parseVerifierKey } from '../domain/signed-note.ts';
import { generateNoteKey, signerFromKey, type NoteSigner, type NoteVerifier, verifierFromKey } from './note-keys.ts';
import type { LedgerRepository } from '../storage/ledger-repository.ts';

export interface LedgerTx {
  ledger: LedgerRepository;
}

export interface LogKeyView {
  verifierKey: string;
  alg: 'ed25519';
  createdAt: string;
  status: 'active' | 'retired';
}

/** The label a log key's sealed secret is bound to (its verifier key); master-key rotation reseals under it. */
export const logKeyLabel = (vkey: string): string => `ledger-log-key:${vkey}`;
const label = logKeyLabel;

export class LogKeyService {
  private signer: NoteSigner | undefined;

  constructor(
    private readonly uow: UnitOfWork<LedgerTx>,
    private readonly clock: Clock,
    /** The log's origin, which is also the key name of its signatures. */
    readonly origin: string,
    private readonly master: { key: MasterKey; version: number; ring: MasterKeys },
  ) {}

  /** The active signer of this origin, created (and stored sealed) when there is none. */
  async activeSigner(): Promise<NoteSigner> {
    if (this.signer) return this.signer;
    let active = await this.uow.read.ledger.activeLogKey();
    if (active && active.name !== this.origin) {
      throw new Error(`the log key is for origin ${active.name}, but the ledger origin is ${this.origin}; rotate the log key to change it`);
    }
    if (!active) {
      const { signerKey, verifierKey } = generateNoteKey(this.origin, 'ed25519');
      const sealed = sealSecret(this.master.key, Buffer.from(signerKey, 'utf8'), label(verifierKey), { keyVersion: this.master.version });
      const keyId = hex8(parseVerifierKey(verifierKey).keyId);
      await this.uow.run(this.clock.now(), (tx) => tx.ledger.insertLogKey({
        keyId, name: this.origin, alg: 'ed25519', verifierKey, privateKeySealed: sealed, status: 'active',
      }));
      active = await this.uow.read.ledger.activeLogKey();
      if (!active) throw new Error('the log key was not stored');
    }
    const text = Buffer.from(openSecret(this.master.ring, active.privateKeySealed, label(active.verifierKey))).toString('utf8');
    const signer = signerFromKey(text);
    if (signer.verifierKey !== active.verifierKey) throw new Error('the sealed log key does not match its verifier key');
    this.signer = signer;
    return signer;
  }

  async list(): Promise<LogKeyView[]> {
    return (await this.uow.read.ledger.logKeys()).map((k) => ({ verifierKey: k.verifierKey, alg: k.alg, createdAt: k.createdAt, status: k.status }));
  }

  /** Verifiers of every log key, active and retired (old checkpoints stay verifiable). */
  async verifiers(): Promise<NoteVerifier[]> {
    return (await this.uow.read.ledger.logKeys()).map((k) => verifierFromKey(k.verifierKey));
  }
}
