// The log's note keys (docs/ledger.md "Signed notes", "Log key rotation"): an Ed25519 key, and with
// `ledger.sm2Signature` a second, SM2-SM3 key (国密) of the same name, each made by `init` or on first start, its
// signer key text sealed under the master key like the invoice signing keys (platform/crypto/key-store.ts), the label
// naming the verifier key so a sealed secret cannot be moved to another row. Their verifier keys (signed-note vkeys)
// are published. Every checkpoint carries one signature line per active key.
//
// Rotation (`fapiao ledger rotate-key [--alg sm2]`): one unit of work retires the active key of that algorithm (it
// stays published, so every checkpoint it signed and every proof carried in a document still verifies) and stores a
// new active key under the same key name — the origin, as C2SP tlog-checkpoint requires — with another key ID. For a
// transition window after the rotation (`transitionMs`, default 7 days) checkpoints carry the previous key's line
// too: a witness or a client that still knows only the old vkey keeps verifying new checkpoints while its operator
// adds the new one. After the window only the new key signs. The integrator asks for the signers every round, so a
// server picks up a rotation made from the command line at its next checkpoint.
import { openSecret, sealSecret, type MasterKey, type MasterKeys } from '../../../platform/crypto/key-store.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';
import { stampEntry, type AuditRepository, type AuditStamp } from '../../audit/index.ts';
import { hex8, parseVerifierKey } from '../domain/signed-note.ts';
import { generateNoteKey, signerFromKey, type NoteSigner, type NoteVerifier, verifierFromKey } from './note-keys.ts';
import type { LedgerRepository, LogKeyAlg, StoredLogKey } from '../storage/ledger-repository.ts';

export interface LedgerTx {
  ledger: LedgerRepository;
  audit: AuditRepository;
}

export interface LogKeyView {
  verifierKey: string;
  alg: LogKeyAlg;
  createdAt: string;
  /** `active`: signs new checkpoints; `retired`: replaced by a rotation, still published for old checkpoints. */
  status: 'active' | 'retired';
}

/** How long the previous key keeps co-signing checkpoints after a rotation. */
export const LOG_KEY_TRANSITION_MS = 7 * 24 * 3600 * 1000;

/** The label a log key's sealed secret is bound to (its verifier key); master-key rotation reseals under it. */
export const logKeyLabel = (vkey: string): string => `ledger-log-key:${vkey}`;
const label = logKeyLabel;

export class LogKeyConflictError extends Error {
  override readonly name = 'LogKeyConflictError';
}

export class LogKeyService {
  /** Opened signers by verifier key (keys are immutable once stored). */
  private readonly opened = new Map<string, NoteSigner>();

  constructor(
    private readonly uow: UnitOfWork<LedgerTx>,
    private readonly clock: Clock,
    /** The log's origin, which is also the key name of its signatures. */
    readonly origin: string,
    private readonly master: { key: MasterKey; version: number; ring: MasterKeys },
    private readonly transitionMs: number = LOG_KEY_TRANSITION_MS,
    /** Sign checkpoints with an SM2 log key too (`ledger.sm2Signature`). */
    private readonly sm2: boolean = false,
  ) {}

  /** The algorithms that sign this log's checkpoints: Ed25519 first, then SM2 when configured. */
  get algorithms(): LogKeyAlg[] {
    return this.sm2 ? ['ed25519', 'sm2'] : ['ed25519'];
  }

  /** The active signer of this origin and algorithm, created (and stored sealed) when there is none. */
  async activeSigner(alg: LogKeyAlg = 'ed25519'): Promise<NoteSigner> {
    let active = await this.uow.read.ledger.activeLogKey(alg);
    if (active && active.name !== this.origin) {
      throw new Error(`the log key is for origin ${active.name}, but the ledger origin is ${this.origin}; rotate the log key to change it`);
    }
    if (!active) {
      const fresh = this.newKey(alg);
      await this.uow.run(this.clock.now(), (tx) => tx.ledger.insertLogKey(fresh));
      active = await this.uow.read.ledger.activeLogKey(alg);
      if (!active) throw new Error('the log key was not stored');
    }
    return this.open(active);
  }

  /** Every configured algorithm's active signer, each created when missing (`init`, the server's start). */
  async ensureKeys(): Promise<NoteSigner[]> {
    const out: NoteSigner[] = [];
    for (const alg of this.algorithms) out.push(await this.activeSigner(alg));
    return out;
  }

  /**
   * The signers of the next checkpoint: per configured algorithm the active key, and during the transition window
   * after a rotation also the key it replaced (the newest retired key of this origin and algorithm).
   */
  async signers(): Promise<NoteSigner[]> {
    const out: NoteSigner[] = [];
    for (const alg of this.algorithms) out.push(await this.activeSigner(alg));
    const all = await this.uow.read.ledger.logKeys();
    for (const alg of this.algorithms) {
      const keys = all.filter((k) => k.alg === alg);
      const row = keys.find((k) => k.status === 'active')!;
      if (this.clock.now().getTime() >= Date.parse(row.createdAt) + this.transitionMs) continue;
      const previous = keys.filter((k) => k.status === 'retired' && k.name === this.origin && k.createdAt <= row.createdAt).at(-1);
      if (previous) out.push(this.open(previous));
    }
    return out;
  }

  /**
   * Retires the active key of an algorithm (still published) and makes a new one under the origin's name, audited
   * as `ledger.rotate-key`. Returns the new and the retired key.
   */
  async rotate(stamp: AuditStamp, alg: LogKeyAlg = 'ed25519'): Promise<{ active: LogKeyView; retired: LogKeyView }> {
    await this.activeSigner(alg);
    const fresh = this.newKey(alg);
    const at = this.clock.now();
    const retiredKeyId = await this.uow.run(at, async (tx) => {
      const old = await tx.ledger.activeLogKey(alg);
      if (!old) throw new LogKeyConflictError('there is no active log key');
      // Two rotations at once: only one retires the key it read.
      if (await tx.ledger.retireLogKey(old.keyId) !== 1) throw new LogKeyConflictError('the log key was rotated meanwhile');
      await tx.ledger.insertLogKey(fresh);
      await tx.audit.append([stampEntry(stamp, 'ledger.rotate-key', `${old.keyId}->${fresh.keyId}`)]);
      return old.keyId;
    });
    const all = await this.uow.read.ledger.logKeys();
    const view = (id: string) => toView(all.find((k) => k.keyId === id)!);
    return { active: view(fresh.keyId), retired: view(retiredKeyId) };
  }

  async list(): Promise<LogKeyView[]> {
    return (await this.uow.read.ledger.logKeys()).map(toView);
  }

  /** Verifiers of every log key, active and retired (old checkpoints stay verifiable). */
  async verifiers(): Promise<NoteVerifier[]> {
    return (await this.uow.read.ledger.logKeys()).map((k) => verifierFromKey(k.verifierKey));
  }

  private newKey(alg: LogKeyAlg): Omit<StoredLogKey, 'createdAt'> {
    const { signerKey, verifierKey } = generateNoteKey(this.origin, alg);
    const sealed = sealSecret(this.master.key, Buffer.from(signerKey, 'utf8'), label(verifierKey), { keyVersion: this.master.version });
    const keyId = hex8(parseVerifierKey(verifierKey).keyId);
    return { keyId, name: this.origin, alg, verifierKey, privateKeySealed: sealed, status: 'active' };
  }

  private open(k: StoredLogKey): NoteSigner {
    const cached = this.opened.get(k.verifierKey);
    if (cached) return cached;
    const text = Buffer.from(openSecret(this.master.ring, k.privateKeySealed, label(k.verifierKey))).toString('utf8');
    const signer = signerFromKey(text);
    if (signer.verifierKey !== k.verifierKey) throw new Error('the sealed log key does not match its verifier key');
    this.opened.set(k.verifierKey, signer);
    return signer;
  }
}

function toView(k: StoredLogKey): LogKeyView {
  return { verifierKey: k.verifierKey, alg: k.alg, createdAt: k.createdAt, status: k.status };
}
