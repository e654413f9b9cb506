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
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';
import type { AuditRepository } from '../../audit/index.ts';
import { formatAuditHeadExtension } from '../domain/checkpoint.ts';
import { decodeLeafEntry } from '../domain/leaf-entry.ts';
import { planAppend } from '../domain/tiled-log.ts';
import { signCheckpoint } from './checkpoints.ts';
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
}

export type RoundResult =
  | { outcome: 'busy' }
  | { outcome: 'unchanged'; size: number }
  | { outcome: 'signed'; checkpoint: StoredCheckpoint; integrated: number };

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
    const { uow, clock, origin } = this.opts;
    const signers = await this.opts.signers();
    const now = clock.now();
    return uow.run(now, async (tx): Promise<RoundResult> => {
      if (!(await tx.ledger.tryIntegratorLease())) return { outcome: 'busy' };
      const latest = await tx.ledger.latestCheckpoint();
      const size = latest?.size ?? 0;
      await this.rebuildLegacyLeaves(tx.ledger, size);
      const leaves = await tx.ledger.leaves(size, this.maxLeaves);
      const entries: Uint8Array[] = [];
      for (const [i, leaf] of leaves.entries()) {
        if (leaf.index !== size + i) break;
        if (leaf.entry === undefined) throw new LedgerIntegrityError(`leaf ${leaf.index} has no entry`);
        const entry = new Uint8Array(Buffer.from(leaf.entry, 'base64'));
        decodeLeafEntry(entry);
        entries.push(entry);
      }
      if (entries.length === 0 && latest && !force && now.getTime() - Date.parse(latest.createdAt) < this.idleMs) {
        return { outcome: 'unchanged', size };
      }
      const plan = await planAppend(tx.ledger, size, entries);
      plan.leafHashes.forEach((h, i) => {
        if (Buffer.from(h).toString('hex') !== leaves[i]!.leafHash) throw new LedgerIntegrityError(`leaf ${size + i}: the stored leaf hash is not the hash of its entry`);
      });
      await tx.ledger.writeTree(plan.tiles, plan.bundles);
      const head = await tx.audit.head();
      const note = signCheckpoint({ origin, size: plan.newSize, rootHash: plan.root, extensions: [formatAuditHeadExtension(head)] }, signers);
      const rootHash = Buffer.from(plan.root).toString('hex');
      await tx.ledger.addCheckpoint({ size: plan.newSize, rootHash, note });
      const checkpoint = (await tx.ledger.latestCheckpoint())!;
      return { outcome: 'signed', checkpoint, integrated: entries.length };
    });
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
    void this.plan(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clear(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) this.timers.clear(this.timer);
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
      // Another node holds the lease: look again later rather than at once.
      if (r.outcome === 'busy') return this.schedule(this.minIntervalMs);
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
      this.schedule(nextRoundDelay(this.opts.clock.now().getTime(), latest && Date.parse(latest.createdAt), pending, this.minIntervalMs, this.idleMs));
    } catch (err) {
      this.opts.log?.error({ err }, 'planning the next ledger integration failed');
      this.schedule(this.minIntervalMs);
    }
  }
}
