// The ledger's read side (docs/ledger.md): the newest checkpoint, tiles and entry bundles as stored, inclusion proofs
// of a tenant's own invoices and consistency proofs between two sizes, all answered from tiles (O(log n) reads).
import { AppError } from '../../../shared/errors.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import { proveConsistency, proveInclusion } from '../domain/tiled-log.ts';
import { tileNodesKey, type Tile, type TileNodes, type TileTreeCache } from '../domain/tiles.ts';
import type { LedgerRepository, StoredCheckpoint } from '../storage/ledger-repository.ts';

export interface LedgerReadTx {
  ledger: LedgerRepository;
}

export interface CheckpointView {
  treeSize: number;
  /** Base64, as in the checkpoint. */
  rootHash: string;
  /** The signed note (C2SP tlog-checkpoint). */
  checkpoint: string;
}

export interface InclusionView {
  number: string;
  leafIndex: number;
  /** Base64 RFC 9162 leaf hash. */
  leafHash: string;
  /** Base64 of the encoded leaf entry (docs/ledger.md "Leaf entries"). */
  leafEntry: string;
  /** Base64 hashes, leaf to root. */
  inclusionProof: string[];
  treeSize: number;
  rootHash: string;
  checkpoint: string;
}

/** Whether an invoice is in the published log (the 查验 page): no proof, only the index and the checkpoint. */
export type Membership =
  | { status: 'integrated'; leafIndex: number; treeSize: number; rootHash: string }
  | { status: 'pending'; leafIndex: number };

export type ProofAnswer = { status: 'integrated'; proof: InclusionView } | { status: 'pending'; leafIndex: number };

const b64 = (h: Uint8Array | string) => (typeof h === 'string' ? Buffer.from(h, 'hex') : Buffer.from(h)).toString('base64');

function view(c: StoredCheckpoint): CheckpointView {
  return { treeSize: c.size, rootHash: b64(c.rootHash), checkpoint: c.note };
}

/** Memory for tile nodes by default: 4,096 full tiles (16 KiB each), every level-0 tile of a log of 1 M leaves. */
export const DEFAULT_TILE_CACHE_BYTES = 64 * 1024 * 1024;
/** Numbers whose membership is remembered per served checkpoint (查验 asks the same invoices again and again). */
const MEMBERS_MAX = 65_536;
/** Inclusion proofs remembered per served checkpoint (≈ 1 KiB each): an invoice's proof is asked by its seller and
 * its buyer, by ERPs polling after issue and by documents rendered again. */
const PROOFS_MAX = 16_384;

export interface LedgerServiceOptions {
  /**
   * How long a read of the served checkpoint is reused, in ms (the server passes `ledger.checkpointIntervalMs`).
   * This node's integrator replaces it at once (`checkpointServed`); one published by another node (PostgreSQL)
   * is answered within this time. A leaf past the reused checkpoint makes a fresh read before it is called pending.
   */
  checkpointTtlMs?: number;
  /** Bytes of tile nodes kept for proofs (least recently used first out). */
  tileCacheBytes?: number;
  /** A monotonic clock in ms (performance.now by default). */
  now?: () => number;
}

/** Least recently used first out, bounded by the bytes held; a tile at a width never changes, so no entry is stale. */
class TileNodeCache implements TileTreeCache {
  private readonly map = new Map<string, TileNodes>();
  private held = 0;
  constructor(private readonly maxBytes: number) {}
  get(key: string): TileNodes | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, nodes: TileNodes): void {
    if (nodes.bytes > this.maxBytes) return;
    const had = this.map.get(key);
    if (had) {
      this.held -= had.bytes;
      this.map.delete(key);
    }
    this.map.set(key, nodes);
    this.held += nodes.bytes;
    for (const [k, v] of this.map) {
      if (this.held <= this.maxBytes) break;
      this.map.delete(k);
      this.held -= v.bytes;
    }
  }
}

/** The served checkpoint as read, with what is derived from it once. */
interface Served {
  checkpoint: StoredCheckpoint;
  view: CheckpointView;
  /** Integrated memberships under this checkpoint, by number. */
  members: Map<string, Membership & { status: 'integrated' }>;
  /** Inclusion proofs answered under this checkpoint, by number, with the tenant they belong to. */
  proofs: Map<string, { tenantId: string; proof: InclusionView }>;
}

export class LedgerService {
  /** Nodes of the tiles proofs went through: a proof otherwise re-reads and re-hashes ≈ 250 nodes per tile level. */
  private readonly tiles: TileNodeCache;
  private readonly ttlMs: number;
  private readonly now: () => number;
  /** The last read of the served checkpoint (undefined: none, or dropped). */
  private cached: { served: Served | undefined; readAt: number } | undefined;
  /** Bumped when this node serves a new checkpoint: a read begun before must not be kept. */
  private generation = 0;
  private reading: { generation: number; promise: Promise<Served | undefined> } | undefined;

  constructor(
    private readonly uow: UnitOfWork<LedgerReadTx>,
    opts: LedgerServiceOptions = {},
  ) {
    this.tiles = new TileNodeCache(opts.tileCacheBytes ?? DEFAULT_TILE_CACHE_BYTES);
    this.ttlMs = opts.checkpointTtlMs ?? 1000;
    this.now = opts.now ?? (() => performance.now());
  }

  private get ledger(): LedgerRepository {
    return this.uow.read.ledger;
  }

  /**
   * This node served a new checkpoint (the integrator, after its commit): the next answer reads it. `tiles`: the
   * nodes of the tiles that commit stored, kept as if a proof had read them (the newest invoices are asked most).
   */
  checkpointServed(tiles: readonly { tile: Tile; nodes: TileNodes }[] = []): void {
    this.generation++;
    this.cached = undefined;
    for (const { tile, nodes } of tiles) this.tiles.set(tileNodesKey(tile.level, tile.index, tile.width), nodes);
  }

  /** The served checkpoint, read at most every `checkpointTtlMs` (`fresh`: read now, unless a read is under way). */
  private served(fresh = false): Promise<Served | undefined> {
    const c = this.cached;
    if (!fresh && c && this.now() - c.readAt < this.ttlMs) return Promise.resolve(c.served);
    if (this.reading?.generation === this.generation) return this.reading.promise;
    const generation = this.generation;
    const promise = this.ledger.servedCheckpoint().then((checkpoint) => {
      const before = this.cached?.served;
      // The same checkpoint keeps what was derived from it; another one starts afresh.
      const served = !checkpoint ? undefined
        : before && before.checkpoint.id === checkpoint.id && before.checkpoint.note === checkpoint.note ? before
          : { checkpoint, view: view(checkpoint), members: new Map(), proofs: new Map() };
      if (generation === this.generation) this.cached = { served, readAt: this.now() };
      return served;
    }).finally(() => {
      if (this.reading?.promise === promise) this.reading = undefined;
    });
    this.reading = { generation, promise };
    return promise;
  }

  /** The served checkpoint if it covers leaf `index`, reading again when the one kept does not. */
  private async servedCovering(index: number, first?: Served): Promise<Served | undefined> {
    const s = first ?? (await this.served());
    if (s && index < s.checkpoint.size) return s;
    const again = await this.served(true);
    return again && index < again.checkpoint.size ? again : undefined;
  }

  async checkpoint(): Promise<CheckpointView | undefined> {
    return (await this.served())?.view;
  }

  /**
   * Tile (level, index) at `width`, or undefined when the published tree has no such tile. A tile of a tree the log
   * has passed is the prefix of the stored one: tiles only grow at their end, so every answer is immutable.
   */
  tile(level: number, index: number, width: number): Promise<Uint8Array | undefined> {
    return this.ledger.readTile(level, index, width);
  }

  bundle(index: number, width: number): Promise<Uint8Array | undefined> {
    return this.ledger.readBundle(index, width);
  }

  /**
   * The inclusion proof of the tenant's invoice in the served checkpoint; INVOICE_NOT_FOUND for anyone else's. The
   * proof is always of the checkpoint the answer carries.
   */
  async proof(tenantId: string, number: string): Promise<ProofAnswer> {
    // A proof under a checkpoint never changes (leaf and tiles are immutable): one answered before is answered again
    // from memory, to its own tenant only.
    const first = await this.served();
    const kept = first?.proofs.get(number);
    if (kept) {
      if (kept.tenantId !== tenantId) throw new AppError('INVOICE_NOT_FOUND');
      return { status: 'integrated', proof: kept.proof };
    }
    const leaf = await this.ledger.leafOf(number);
    if (!leaf || leaf.tenantId !== tenantId) throw new AppError('INVOICE_NOT_FOUND');
    const s = await this.servedCovering(leaf.index, first);
    if (!s || leaf.entry === undefined) return { status: 'pending', leafIndex: leaf.index };
    const { size } = s.checkpoint;
    const path = await proveInclusion(this.ledger, leaf.index, size, this.tiles);
    const proof: InclusionView = {
      number, leafIndex: leaf.index, leafHash: b64(leaf.leafHash), leafEntry: leaf.entry,
      inclusionProof: path.map((h) => b64(h)), ...s.view,
    };
    Object.freeze(proof.inclusionProof);
    Object.freeze(proof);
    if (s.proofs.size >= PROOFS_MAX) s.proofs.clear();
    s.proofs.set(number, { tenantId, proof });
    return { status: 'integrated', proof };
  }

  /**
   * The leaf of an invoice number and the served checkpoint it is under; undefined for a number without a leaf. An
   * integrated answer is remembered with its checkpoint (a leaf's index never changes), so 查验 asking again under
   * the same checkpoint reads nothing.
   */
  async membership(number: string): Promise<Membership | undefined> {
    const first = await this.served();
    const known = first?.members.get(number);
    if (known) return known;
    const leaf = await this.ledger.leafOf(number);
    if (!leaf) return undefined;
    const s = await this.servedCovering(leaf.index, first);
    if (!s) return { status: 'pending', leafIndex: leaf.index };
    const m = { status: 'integrated' as const, leafIndex: leaf.index, treeSize: s.checkpoint.size, rootHash: s.view.rootHash };
    if (s.members.size >= MEMBERS_MAX) s.members.clear();
    s.members.set(number, m);
    return m;
  }

  /** The consistency proof from tree size `from` to `to` (1 ≤ from ≤ to ≤ the newest checkpoint's size). */
  async consistency(from: number, to: number): Promise<{ from: number; to: number; consistencyProof: string[]; checkpoint: CheckpointView }> {
    let c = (await this.served())?.checkpoint;
    // A size past the kept checkpoint may be one another node served since: read it again before refusing.
    if (Number.isSafeInteger(to) && to > (c?.size ?? 0)) c = (await this.served(true))?.checkpoint;
    const size = c?.size ?? 0;
    if (!Number.isSafeInteger(from) || from < 1) throw new AppError('LEDGER_SIZE_INVALID', { field: '/from', detail: 'from is a tree size of at least 1' });
    if (!Number.isSafeInteger(to) || to > size) throw new AppError('LEDGER_SIZE_INVALID', { field: '/to', detail: `to is at most the log's size, ${size}` });
    if (from > to) throw new AppError('LEDGER_SIZE_INVALID', { field: '/from', detail: 'from is at most to' });
    const proof = await proveConsistency(this.ledger, from, to);
    return { from, to, consistencyProof: proof.map((h) => b64(h)), checkpoint: view(c!) };
  }
}
