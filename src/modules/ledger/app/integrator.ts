// The integrator (docs/ledger.md "Integration"; transparency-dev/tessera's model: sequence in the request, integrate
// in the background, publish checkpoints on an interval). Issuing only sequences: each invoice gets its leaf index and
// entry in the issuing transaction (storage/ledger-repository.ts append). This job extends the tree from the
// sequenced leaves — tiles in the C2SP tlog-tiles layout and entry bundles — and signs a checkpoint over it that also
// commits to the audit chain's head, all in one transaction, so a checkpoint never names a tile that is not stored.
//
// One node at a time: the transaction takes PostgreSQL's advisory lock first (another node holding it skips its
// round); SQLite has a single writer. The tree's size is the newest checkpoint's. Checkpoints are signed at most
// every `minIntervalMs` while leaves arrive (a round integrates everything waiting, up to `maxLeavesPerRound`) and at
// least every `idleMs` when none do. Issuing wakes the job (nudge); the clock and the timers are injectable.
//
// Leaves cannot have gaps: an index comes from the `ledger_state` counter, incremented in the issuing transaction
// with its leaf rows, so a rolled-back transaction takes its indices back with it (no database sequence is used,
// whose values a rollback would burn), and a committed count always has all its rows. The integrator reads the
// count first and then the leaves below it; a missing one is a deleted or lost row, reported at its index on every
// round (LedgerIntegrityError) and never skipped: the log cannot be published without an acknowledged invoice.
//
// Witnesses (docs/ledger.md "Witnesses of the log"): with a policy, a new checkpoint is stored unpublished, the
// witnesses are asked to cosign it after the transaction (no network call holds the writer), and once k of them
// did it is served with their cosignature lines. Until then the last checkpoint that met the policy stays served,
// and the round is retried.
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';
import type { AuditRepository } from '../../audit/index.ts';
import { formatAuditHeadExtension } from '../domain/checkpoint.ts';
import { decodeLeafEntry } from '../domain/leaf-entry.ts';
import { planAppend } from '../domain/tiled-log.ts';
import type { Tile, TileNodes } from '../domain/tiles.ts';
import { signCheckpoint } from './checkpoints.ts';
import { proveConsistency } from '../domain/tiled-log.ts';
import { cosignCheckpoint } from '../witness/witness-client.ts';
import { addSignatureLines } from './notes.ts';
import type { NoteVerifier } from './note-keys.ts';
import { ledgerLeafOf } from './leaf.ts';
import type { NoteSigner } from './note-keys.ts';
import type { LedgerRepository, StoredCheckpoint } from '../storage/ledger-repository.ts';

export interface IntegratorTx {
  ledger: LedgerRepository;
  audit: AuditRepository;
}

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: Timers = {
  set: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface IntegratorLog {
  error(obj: object, msg: string): void;
  warn?(obj: object, msg: string): void;
}

export interface WitnessPolicy {
  witnesses: { url: string; verifier: NoteVerifier }[];
  /** Cosignatures a checkpoint needs before it is served (1 ≤ k ≤ witnesses.length). */
  quorum: number;
  timeoutMs?: number;
}

export interface IntegratorOptions {
  uow: UnitOfWork<IntegratorTx>;
  clock: Clock;
  origin: string;
  signers: () => Promise<NoteSigner[]>;
  minIntervalMs?: number;
  idleMs?: number;
  maxLeavesPerRound?: number;
  timers?: Timers;
  log?: IntegratorLog;
  witnesses?: WitnessPolicy;
  /**
   * Called after a commit that served a new checkpoint (signed without witnesses, or cosigned by k of them): the
   * read side drops the checkpoint it keeps and keeps the nodes of the tiles just stored (LedgerService
   * checkpointServed: built while planning the append anyway, so a proof of a new invoice hashes nothing).
   */
  onServed?: (checkpoint: StoredCheckpoint, tiles: { tile: Tile; nodes: TileNodes }[]) => void;
}

export type RoundResult =
  | { outcome: 'busy' }
  | { outcome: 'unchanged'; size: number }
  | { outcome: 'signed'; checkpoint: StoredCheckpoint; integrated: number; /** The stored tiles' nodes (keepNodes). */ nodes?: { tile: Tile; nodes: TileNodes }[] }
  /** Witnessed: the checkpoint asked; `published` when k cosigned it (its note then carries their lines). */
  | { outcome: 'witnessed'; checkpoint: StoredCheckpoint; cosigned: string[]; published: boolean };

export class LedgerIntegrityError extends Error {
  override readonly name = 'LedgerIntegrityError';
}

/**
 * How long to wait before the next round: while leaves wait, until `minIntervalMs` after the last checkpoint; when
 * none do, until `idleMs` after it; at once when there is no checkpoint yet.
 */
export function nextRoundDelay(nowMs: number, lastCheckpointMs: number | undefined, pending: boolean, minIntervalMs: number, idleMs: number): number {
  if (lastCheckpointMs === undefined) return 0;
  return Math.max(0, lastCheckpointMs + (pending ? minIntervalMs : idleMs) - nowMs);
}

export class Integrator {
  private readonly minIntervalMs: number;
  private readonly idleMs: number;
  private readonly maxLeaves: number;
  private readonly timers: Timers;
  private timer: unknown;
  private running: Promise<void> | undefined;
  private stopped = true;
  private again = false;
  /** Whether the timer set is a round for waiting leaves (minIntervalMs after the last checkpoint, or sooner). */
  private timerForLeaves = false;
  /** The size each witness last cosigned, as far as this node knows (a 409 corrects it). */
  private readonly witnessSizes = new Map<string, number>();

  constructor(private readonly opts: IntegratorOptions) {
    this.minIntervalMs = opts.minIntervalMs ?? 1000;
    this.idleMs = opts.idleMs ?? 3_600_000;
    this.maxLeaves = opts.maxLeavesPerRound ?? 16_384;
    this.timers = opts.timers ?? realTimers;
  }

  /**
   * One round: integrates the leaves sequenced since the newest checkpoint and signs a checkpoint over them, or
   * re-signs the current tree when the newest checkpoint is older than `idleMs` (`force`: whenever nothing is new).
   */
  async integrateOnce(force = false): Promise<RoundResult> {
    const r = await this.integrateTx(force);
    if (r.outcome === 'signed' && r.checkpoint.published) this.served(r.checkpoint, r.nodes ?? []);
    const policy = this.opts.witnesses;
    if (!policy || r.outcome === 'busy') return r;
    // A checkpoint waiting for cosignatures: the one just signed, or one a failed earlier round left.
    const waiting = r.outcome === 'signed' ? r.checkpoint : await this.opts.uow.read.ledger.latestCheckpoint();
    if (!waiting || waiting.published) return r;
    return this.witness(waiting, policy);
  }

  /** Asks every witness to cosign `c`; serves it when k did. */
  private async witness(c: StoredCheckpoint, policy: WitnessPolicy): Promise<RoundResult> {
    const read = this.opts.uow.read.ledger;
    const answers = await Promise.allSettled(policy.witnesses.map(async (w) => {
      const lines = await cosignCheckpoint(w.url, c.note, {
        oldSize: Math.min(this.witnessSizes.get(w.url) ?? 0, c.size),
        proofFrom: (from) => proveConsistency(read, from, c.size),
        witness: w.verifier,
        timeoutMs: policy.timeoutMs ?? 5000,
      });
      this.witnessSizes.set(w.url, c.size);
      return { name: w.verifier.name, lines };
    }));
    const got: { name: string; lines: string }[] = [];
    answers.forEach((a, i) => {
      if (a.status === 'fulfilled') got.push(a.value);
      else this.opts.log?.warn?.({ err: a.reason as unknown, witness: policy.witnesses[i]!.url, size: c.size }, 'a witness did not cosign the checkpoint');
    });
    const cosigned = got.map((g) => g.name);
    if (got.length < policy.quorum) {
      this.opts.log?.warn?.({ size: c.size, cosigned, quorum: policy.quorum }, 'too few witnesses cosigned the checkpoint; the last one that met the policy stays served');
      return { outcome: 'witnessed', checkpoint: c, cosigned, published: false };
    }
    const note = got.reduce((n, g) => addSignatureLines(n, g.lines), c.note);
    await this.opts.uow.run(this.opts.clock.now(), (tx) => tx.ledger.publishCheckpoint(c.id, note));
    const served = { ...c, note, published: true };
    this.served(served, []);
    return { outcome: 'witnessed', checkpoint: served, cosigned, published: true };
  }

  private served(c: StoredCheckpoint, nodes: { tile: Tile; nodes: TileNodes }[]): void {
    try {
      this.opts.onServed?.(c, nodes);
    } catch (err) {
      this.opts.log?.error({ err }, 'a listener of served checkpoints failed');
    }
  }

  private integrateTx(force: boolean): Promise<RoundResult> {
    const { uow, clock, origin } = this.opts;
    const now = clock.now();
    return this.opts.signers().then((signers) => uow.run(now, async (tx): Promise<RoundResult> => {
      if (!(await tx.ledger.tryIntegratorLease())) return { outcome: 'busy' };
      const latest = await tx.ledger.latestCheckpoint();
      const size = latest?.size ?? 0;
      // The count first, then the leaves below it: every one of them is committed (see the top of this file).
      const sequenced = await tx.ledger.size();
      await this.rebuildLegacyLeaves(tx.ledger, size);
      const want = Math.max(0, Math.min(sequenced - size, this.maxLeaves));
      const leaves = want === 0 ? [] : await tx.ledger.leaves(size, want);
      const entries: Uint8Array[] = [];
      for (let i = 0; i < want; i++) {
        const leaf = leaves[i];
        if (leaf?.index !== size + i) {
          throw new LedgerIntegrityError(`leaf ${size + i} is missing (${sequenced} leaves were sequenced): a deleted or lost row; restore it, \`fapiao ledger verify\` lists every gap`);
        }
        if (leaf.entry === undefined) throw new LedgerIntegrityError(`leaf ${leaf.index} has no entry`);
        const entry = new Uint8Array(Buffer.from(leaf.entry, 'base64'));
        decodeLeafEntry(entry);
        entries.push(entry);
      }
      if (entries.length === 0 && latest && !force && now.getTime() - Date.parse(latest.createdAt) < this.idleMs) {
        return { outcome: 'unchanged', size };
      }
      const plan = await planAppend(tx.ledger, size, entries, { keepNodes: this.opts.onServed !== undefined });
      plan.leafHashes.forEach((h, i) => {
        if (Buffer.from(h).toString('hex') !== leaves[i]!.leafHash) throw new LedgerIntegrityError(`leaf ${size + i}: the stored leaf hash is not the hash of its entry`);
      });
      await tx.ledger.writeTree(plan.tiles, plan.bundles);
      const head = await tx.audit.head();
      const note = signCheckpoint({ origin, size: plan.newSize, rootHash: plan.root, extensions: [formatAuditHeadExtension(head)] }, signers);
      const rootHash = Buffer.from(plan.root).toString('hex');
      await tx.ledger.addCheckpoint({ size: plan.newSize, rootHash, note, published: !this.opts.witnesses });
      const checkpoint = (await tx.ledger.latestCheckpoint())!;
      return { outcome: 'signed', checkpoint, integrated: entries.length, ...(this.opts.onServed ? { nodes: plan.nodes } : {}) };
    }));
  }

  /** Leaves written before entries were stored (migration 0009) get theirs from their invoices, hash included. */
  private async rebuildLegacyLeaves(ledger: LedgerRepository, from: number): Promise<void> {
    const legacy = await ledger.legacyLeaves(from, this.maxLeaves);
    for (const l of legacy) {
      if (l.signature === undefined || (l.kind !== 'blue' && l.kind !== 'red')) throw new LedgerIntegrityError(`leaf ${l.index}: its invoice cannot be read`);
      const leaf = ledgerLeafOf({
        number: l.number, kind: l.kind, hash: l.hash, signature: { keyId: l.keyId, value: l.signature },
        ...(l.originalNumber !== undefined ? { originalNumber: l.originalNumber } : {}),
      });
      await ledger.setEntry(l.index, leaf.entry, leaf.leafHash);
    }
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** New leaves were committed: a round soon (no sooner than `minIntervalMs` after the last checkpoint). */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    // The round for waiting leaves is already set: planning again would read the newest checkpoint to set the same
    // time (a read on every issuing commit).
    if (this.timer !== undefined && this.timerForLeaves) return;
    void this.plan(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number, forLeaves = true): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timerForLeaves = forLeaves;
    this.timer = this.timers.set(() => {
      this.timer = undefined;
      this.running = this.round().finally(() => {
        this.running = undefined;
      });
    }, ms);
  }

  private async round(): Promise<void> {
    try {
      const r = await this.integrateOnce();
      // Another node holds the lease, or too few witnesses cosigned: look again later rather than at once.
      if (r.outcome === 'busy' || (r.outcome === 'witnessed' && !r.published)) return this.schedule(this.minIntervalMs);
    } catch (err) {
      this.opts.log?.error({ err }, 'ledger integration failed; retrying');
      return this.schedule(this.minIntervalMs);
    }
    const pending = this.again;
    this.again = false;
    await this.plan(pending);
  }

  /** Sets the timer for the next round from the newest checkpoint and whether leaves wait. */
  private async plan(pendingHint: boolean): Promise<void> {
    if (this.stopped) return;
    try {
      const read = this.opts.uow.read.ledger;
      const latest = await read.latestCheckpoint();
      const pending = pendingHint || (await read.size()) > (latest?.size ?? 0);
      this.schedule(nextRoundDelay(this.opts.clock.now().getTime(), latest && Date.parse(latest.createdAt), pending, this.minIntervalMs, this.idleMs), pending);
    } catch (err) {
      this.opts.log?.error({ err }, 'planning the next ledger integration failed');
      this.schedule(this.minIntervalMs);
    }
  }
}
