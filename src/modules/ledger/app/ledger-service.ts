// The ledger's read side (docs/ledger.md): the newest checkpoint, tiles and entry bundles as stored, inclusion proofs
// of a tenant's own invoices and consistency proofs between two sizes, all answered from tiles (O(log n) reads).
import { AppError } from '../../../shared/errors.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import { proveConsistency, proveInclusion } from '../domain/tiled-log.ts';
import type { TileTreeCache } from '../domain/tiles.ts';
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

/** Full tiles whose inner hashes are kept for proofs: 1,024 × 511 hashes ≈ 16 MiB (BENCHMARKS.md "Ledger"). */
const CACHED_TILES = 1024;

/** Least recently used first; a full tile never changes, so an entry is never stale. */
class TileTrees implements TileTreeCache {
  private readonly map = new Map<string, Uint8Array[][]>();
  constructor(private readonly max: number) {}
  get(key: string): Uint8Array[][] | undefined {
    const v = this.map.get(key);
    if (v) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, rows: Uint8Array[][]): void {
    this.map.set(key, rows);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

export class LedgerService {
  /** Inner hashes of full tiles: a proof otherwise re-hashes ≈ 250 nodes per tile level from the tile's row. */
  private readonly tileTrees = new TileTrees(CACHED_TILES);

  constructor(private readonly uow: UnitOfWork<LedgerReadTx>) {}

  private get ledger(): LedgerRepository {
    return this.uow.read.ledger;
  }

  async checkpoint(): Promise<CheckpointView | undefined> {
    const c = await this.ledger.servedCheckpoint();
    return c && view(c);
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

  /** The inclusion proof of the tenant's invoice in the newest checkpoint; INVOICE_NOT_FOUND for anyone else's. */
  async proof(tenantId: string, number: string): Promise<ProofAnswer> {
    const leaf = await this.ledger.leafOf(number);
    if (!leaf || leaf.tenantId !== tenantId) throw new AppError('INVOICE_NOT_FOUND');
    const c = await this.ledger.servedCheckpoint();
    if (!c || leaf.index >= c.size || leaf.entry === undefined) return { status: 'pending', leafIndex: leaf.index };
    const proof = await proveInclusion(this.ledger, leaf.index, c.size, this.tileTrees);
    return {
      status: 'integrated',
      proof: {
        number, leafIndex: leaf.index, leafHash: b64(leaf.leafHash), leafEntry: leaf.entry,
        inclusionProof: proof.map((h) => b64(h)), ...view(c),
      },
    };
  }

  /** The leaf of an invoice number and the newest checkpoint it is under; undefined for a number without a leaf. */
  async membership(number: string): Promise<Membership | undefined> {
    const leaf = await this.ledger.leafOf(number);
    if (!leaf) return undefined;
    const c = await this.ledger.servedCheckpoint();
    if (!c || leaf.index >= c.size) return { status: 'pending', leafIndex: leaf.index };
    return { status: 'integrated', leafIndex: leaf.index, treeSize: c.size, rootHash: b64(c.rootHash) };
  }

  /** The consistency proof from tree size `from` to `to` (1 ≤ from ≤ to ≤ the newest checkpoint's size). */
  async consistency(from: number, to: number): Promise<{ from: number; to: number; consistencyProof: string[]; checkpoint: CheckpointView }> {
    const c = await this.ledger.servedCheckpoint();
    const size = c?.size ?? 0;
    if (!Number.isSafeInteger(from) || from < 1) throw new AppError('LEDGER_SIZE_INVALID', { field: '/from', detail: 'from is a tree size of at least 1' });
    if (!Number.isSafeInteger(to) || to > size) throw new AppError('LEDGER_SIZE_INVALID', { field: '/to', detail: `to is at most the log's size, ${size}` });
    if (from > to) throw new AppError('LEDGER_SIZE_INVALID', { field: '/from', detail: 'from is at most to' });
    const proof = await proveConsistency(this.ledger, from, to);
    return { from, to, consistencyProof: proof.map((h) => b64(h)), checkpoint: view(c!) };
  }
}
