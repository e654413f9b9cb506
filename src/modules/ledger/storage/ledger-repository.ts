// The ledger's sequenced leaves (docs/design.md §1; docs/ledger.md): every issued invoice gets the next leaf index in the
// transaction that stores it, so an acknowledged invoice always has its index. `ledger_state` is one global row that
// every issuing transaction of every series serialises on: take it as late as possible in the transaction (after the
// series compare-and-set and the quota charges), and before the audit chain's head (docs/architecture.md, lock order).
//
// The tree over the leaves (tiles, entry bundles, checkpoints) is written by the integrator alone
// (app/integrator.ts), one node at a time; the public routes only read it.
import { sql } from 'kysely';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { precompile, type Precompiled } from '../../../platform/storage/precompiled.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { BundleReader, EntryBundle } from '../domain/entry-bundle.ts';
import { HASH_SIZE } from '../domain/merkle.ts';
import type { Tile, TileReader } from '../domain/tiles.ts';

export interface NewLeaf {
  tenantId: string;
  number: string;
  /** Hex SHA-256 leaf hash (RFC 9162 §2.1.1) of `entry`. */
  leafHash: string;
  /** The encoded leaf entry (domain/leaf-entry.ts), base64. */
  entry: string;
}

export interface StoredLeaf {
  index: number;
  tenantId: string;
  number: string;
  leafHash: string;
  /** Base64 entry; undefined for a row written before the entries were stored (migration 0009). */
  entry: string | undefined;
}

/** The public fields of the invoice behind a leaf written before 0009, to rebuild its entry from. */
export interface LegacyLeafInvoice {
  index: number;
  number: string;
  kind: string;
  hash: string;
  keyId: string;
  originalNumber: string | undefined;
  /** The signature value (base64 DER), from the stored document. */
  signature: string | undefined;
}

export interface StoredCheckpoint {
  id: number;
  size: number;
  rootHash: string;
  note: string;
  createdAt: string;
  /** Served (false: integrated, waiting for the witnesses' cosignatures). */
  published: boolean;
}

/** The algorithms of the log's own keys: Ed25519 always, SM2 as the 国密 option (`ledger.sm2Signature`). */
export type LogKeyAlg = 'ed25519' | 'sm2';

export interface StoredLogKey {
  keyId: string;
  name: string;
  alg: LogKeyAlg;
  verifierKey: string;
  privateKeySealed: string;
  createdAt: string;
  status: 'active' | 'retired';
}

/** Rows per multi-row INSERT, well under both engines' parameter limits. */
const ROWS_PER_INSERT = 500;
/** The PostgreSQL advisory lock key of the integrator ("fapiao-ledger" as a stable 63-bit number). */
export const INTEGRATOR_LOCK_KEY = 0x66617069616f4cn;

function b64(data: Uint8Array): string {
  return Buffer.from(data).toString('base64');
}

type LeafRow = { idx: number | string; tenant_id: string; number: string; leaf_hash: string; entry?: string | null };
type CheckpointRow = { id: number | string; size: number | string; root_hash: string; note: string; created_at: string; published: number };

export class LedgerRepository implements TileReader, BundleReader {
  /** The reads behind every proof and 查验 answer, compiled once (platform/storage/precompiled.ts). */
  private compiled?: {
    leafOf: Precompiled<'number', LeafRow>;
    tile: Precompiled<'level' | 'idx', { width: number; data: string }>;
    served: Precompiled<'published' | 'one', CheckpointRow>;
  };

  constructor(private readonly scope: Scope) {}

  private lookups() {
    const { db } = this.scope;
    this.compiled ??= {
      leafOf: precompile(db, ['number'], (p) => db.selectFrom('ledger_leaves').select(['idx', 'tenant_id', 'number', 'leaf_hash', 'entry']).where('number', '=', p.number)),
      tile: precompile(db, ['level', 'idx'], (p) => db.selectFrom('ledger_tiles').select(['width', 'data']).where('level', '=', p.level as unknown as number).where('idx', '=', p.idx as unknown as number)),
      // Constants are parameters of the compiled query too.
      served: precompile(db, ['published', 'one'], (p) => db.selectFrom('ledger_checkpoints').selectAll()
        .where('published', '=', p.published as unknown as number).orderBy('id', 'desc').limit(p.one as unknown as number)),
    };
    return this.compiled;
  }

  /** Appends the leaves with consecutive indices and returns the first (the leaves get first … first+n-1). */
  async append(leaves: readonly NewLeaf[]): Promise<number> {
    const at = stampOf(this.scope);
    const n = leaves.length;
    if (n === 0) throw new RangeError('no leaves to append');
    const { db } = this.scope;
    const row = await db
      .updateTable('ledger_state')
      .set({ size: sql<number>`size + ${n}` })
      .where('id', '=', 1)
      .returning('size')
      .executeTakeFirstOrThrow();
    const first = toSafeInteger(row.size) - n;
    for (let i = 0; i < n; i += ROWS_PER_INSERT) {
      await db
        .insertInto('ledger_leaves')
        .values(leaves.slice(i, i + ROWS_PER_INSERT).map((l, j) => ({
          idx: first + i + j, tenant_id: l.tenantId, number: l.number, leaf_hash: l.leafHash, entry: l.entry, created_at: at,
        })))
        .execute();
    }
    return first;
  }

  /** The number of leaves sequenced so far. */
  async size(): Promise<number> {
    const row = await this.scope.db.selectFrom('ledger_state').select('size').where('id', '=', 1).executeTakeFirst();
    return row ? toSafeInteger(row.size) : 0;
  }

  /** Leaves with index in [from, from+limit), in index order. */
  async leaves(from: number, limit: number): Promise<StoredLeaf[]> {
    const rows = await this.scope.db
      .selectFrom('ledger_leaves')
      .select(['idx', 'tenant_id', 'number', 'leaf_hash', 'entry'])
      .where('idx', '>=', from)
      .where('idx', '<', from + limit)
      .orderBy('idx')
      .execute();
    return rows.map((r) => ({ index: toSafeInteger(r.idx), tenantId: r.tenant_id, number: r.number, leafHash: r.leaf_hash, entry: r.entry ?? undefined }));
  }

  /** Up to `limit` leaves with index ≥ from, in index order (gaps skipped: for checking the stored log). */
  async leavesFrom(from: number, limit: number): Promise<StoredLeaf[]> {
    const rows = await this.scope.db
      .selectFrom('ledger_leaves')
      .select(['idx', 'tenant_id', 'number', 'leaf_hash', 'entry'])
      .where('idx', '>=', from)
      .orderBy('idx')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ index: toSafeInteger(r.idx), tenantId: r.tenant_id, number: r.number, leafHash: r.leaf_hash, entry: r.entry ?? undefined }));
  }

  /** The leaf of an invoice number. */
  async leafOf(number: string): Promise<StoredLeaf | undefined> {
    const [r] = await this.lookups().leafOf.run({ number });
    return r && { index: toSafeInteger(r.idx), tenantId: r.tenant_id, number: r.number, leafHash: r.leaf_hash, entry: r.entry ?? undefined };
  }

  /** Leaves from `from` on whose entry is not stored (written before 0009), with their invoices' public fields. */
  async legacyLeaves(from: number, limit: number): Promise<LegacyLeafInvoice[]> {
    const rows = await this.scope.db
      .selectFrom('ledger_leaves as l')
      .innerJoin('invoices as i', (j) => j.onRef('i.tenant_id', '=', 'l.tenant_id').onRef('i.number', '=', 'l.number'))
      .select(['l.idx', 'i.number', 'i.kind', 'i.hash', 'i.key_id', 'i.original_number', 'i.document'])
      .where('l.idx', '>=', from)
      .where('l.entry', 'is', null)
      .orderBy('l.idx')
      .limit(limit)
      .execute();
    return rows.map((r) => {
      let signature: string | undefined;
      try {
        const v = (JSON.parse(r.document) as { signature?: { value?: unknown } }).signature?.value;
        signature = typeof v === 'string' ? v : undefined;
      } catch {
        signature = undefined;
      }
      return { index: toSafeInteger(r.idx), number: r.number, kind: r.kind, hash: r.hash, keyId: r.key_id, originalNumber: r.original_number ?? undefined, signature };
    });
  }

  /** Stores the rebuilt entry of a leaf written before 0009 (integrator only). */
  async setEntry(index: number, entry: string, leafHash: string): Promise<void> {
    stampOf(this.scope);
    await this.scope.db.updateTable('ledger_leaves').set({ entry, leaf_hash: leafHash }).where('idx', '=', index).where('entry', 'is', null).execute();
  }

  /**
   * The integrator's lease for this transaction: PostgreSQL's transaction-scoped advisory lock (false when another
   * node holds it); SQLite has a single writer, whose transaction is the lease.
   */
  async tryIntegratorLease(): Promise<boolean> {
    stampOf(this.scope);
    if (this.scope.traits.engine !== 'postgres') return true;
    const r = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${INTEGRATOR_LOCK_KEY.toString()}::bigint) as ok`.execute(this.scope.db);
    return r.rows[0]?.ok === true;
  }

  async readTile(level: number, index: number, width: number): Promise<Uint8Array | undefined> {
    const [r] = await this.lookups().tile.run({ level, idx: index });
    if (!r || r.width < width) return undefined;
    return new Uint8Array(Buffer.from(r.data, 'base64').subarray(0, width * HASH_SIZE));
  }

  async readBundle(index: number, width: number): Promise<Uint8Array | undefined> {
    const r = await this.scope.db.selectFrom('ledger_bundles').select(['width', 'data']).where('idx', '=', index).executeTakeFirst();
    if (!r || r.width < width) return undefined;
    const data = new Uint8Array(Buffer.from(r.data, 'base64'));
    if (width === r.width) return data;
    // Cut the wider bundle after `width` entries.
    let at = 0;
    for (let i = 0; i < width; i++) at += 2 + ((data[at]! << 8) | data[at + 1]!);
    return data.subarray(0, at);
  }

  /** Every stored tile (for `fapiao ledger verify`), level by level. */
  async *allTiles(): AsyncIterable<Tile> {
    let after: [number, number] = [-1, -1];
    for (;;) {
      const rows = await this.scope.db.selectFrom('ledger_tiles').select(['level', 'idx', 'width', 'data'])
        .where((eb) => eb.or([eb('level', '>', after[0]), eb.and([eb('level', '=', after[0]), eb('idx', '>', after[1])])]))
        .orderBy('level').orderBy('idx').limit(500).execute();
      if (rows.length === 0) return;
      for (const r of rows) yield { level: r.level, index: toSafeInteger(r.idx), width: r.width, data: new Uint8Array(Buffer.from(r.data, 'base64')) };
      const last = rows[rows.length - 1]!;
      after = [last.level, toSafeInteger(last.idx)];
    }
  }

  /** Stores tiles and bundles at their new widths (each replaces a narrower version, of which it is an extension). */
  async writeTree(tiles: readonly Tile[], bundles: readonly EntryBundle[]): Promise<void> {
    stampOf(this.scope);
    const { db } = this.scope;
    for (const t of tiles) {
      const data = b64(t.data);
      await db.insertInto('ledger_tiles').values({ level: t.level, idx: t.index, width: t.width, data })
        .onConflict((oc) => oc.columns(['level', 'idx']).doUpdateSet({ width: t.width, data })).execute();
    }
    for (const b of bundles) {
      const data = b64(b.data);
      await db.insertInto('ledger_bundles').values({ idx: b.index, width: b.width, data })
        .onConflict((oc) => oc.column('idx').doUpdateSet({ width: b.width, data })).execute();
    }
  }

  /**
   * Stores a signed checkpoint, served at once unless `published` is false (it waits for cosignatures), and drops
   * the checkpoints no one needs any more: only the newest (the integrator's state) and the newest served one are
   * kept. Documents and clients hold the checkpoints they were given; the tree itself lives in the tiles, from which
   * every proof to any earlier size is still answered (docs/ledger.md "Checkpoints kept").
   */
  async addCheckpoint(c: { size: number; rootHash: string; note: string; published?: boolean }): Promise<void> {
    const at = stampOf(this.scope);
    await this.scope.db.insertInto('ledger_checkpoints')
      .values({ size: c.size, root_hash: c.rootHash, note: c.note, created_at: at, published: c.published === false ? 0 : 1 }).execute();
    await this.pruneCheckpoints();
  }

  /** Serves a waiting checkpoint with the note that now carries its cosignatures (the integrator only). */
  async publishCheckpoint(id: number, note: string): Promise<void> {
    stampOf(this.scope);
    await this.scope.db.updateTable('ledger_checkpoints').set({ note, published: 1 }).where('id', '=', id).execute();
    await this.pruneCheckpoints();
  }

  private async pruneCheckpoints(): Promise<void> {
    const { db } = this.scope;
    const newest = await db.selectFrom('ledger_checkpoints').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
    const served = await db.selectFrom('ledger_checkpoints').select('id').where('published', '=', 1).orderBy('id', 'desc').limit(1).executeTakeFirst();
    const keep = [newest?.id, served?.id].filter((id) => id !== undefined).map((id) => toSafeInteger(id));
    if (keep.length > 0) await db.deleteFrom('ledger_checkpoints').where('id', 'not in', keep).execute();
  }

  /** The newest checkpoint, served or not: the integrated tree. */
  async latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const r = await this.scope.db.selectFrom('ledger_checkpoints').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
    return r && toCheckpoint(r);
  }

  /** The newest served checkpoint: what the public routes and proofs answer with. */
  async servedCheckpoint(): Promise<StoredCheckpoint | undefined> {
    const [r] = await this.lookups().served.run({ published: 1, one: 1 });
    return r && toCheckpoint(r);
  }

  /** How many checkpoints are stored (at most two: the newest and the newest served). */
  async checkpointCount(): Promise<number> {
    const r = await this.scope.db.selectFrom('ledger_checkpoints').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return toSafeInteger(r.n);
  }

  /** The active log key of an algorithm (one per algorithm). */
  async activeLogKey(alg: LogKeyAlg = 'ed25519'): Promise<StoredLogKey | undefined> {
    const r = await this.scope.db.selectFrom('ledger_log_keys').selectAll().where('status', '=', 'active').where('alg', '=', alg)
      .orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    return r && toLogKey(r);
  }

  async logKeys(): Promise<StoredLogKey[]> {
    const rows = await this.scope.db.selectFrom('ledger_log_keys').selectAll().orderBy('created_at').orderBy('status', 'desc').orderBy('key_id').execute();
    return rows.map(toLogKey);
  }

  /** Marks an active log key retired (it stays published); the number of rows changed (0: not active). */
  async retireLogKey(keyId: string): Promise<number> {
    const r = await this.scope.db.updateTable('ledger_log_keys').set({ status: 'retired' })
      .where('key_id', '=', keyId).where('status', '=', 'active').executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async insertLogKey(k: Omit<StoredLogKey, 'createdAt'>): Promise<void> {
    const at = stampOf(this.scope);
    await this.scope.db.insertInto('ledger_log_keys').values({
      key_id: k.keyId, name: k.name, alg: k.alg, verifier_key: k.verifierKey, private_key_sealed: k.privateKeySealed, created_at: at, status: k.status,
    }).execute();
  }
}

function toCheckpoint(r: CheckpointRow): StoredCheckpoint {
  return { id: toSafeInteger(r.id), size: toSafeInteger(r.size), rootHash: r.root_hash, note: r.note, createdAt: r.created_at, published: Number(r.published) === 1 };
}

function toLogKey(r: { key_id: string; name: string; alg: string; verifier_key: string; private_key_sealed: string; created_at: string; status: string }): StoredLogKey {
  return {
    keyId: r.key_id, name: r.name, alg: r.alg === 'sm2' ? 'sm2' : 'ed25519', verifierKey: r.verifier_key, privateKeySealed: r.private_key_sealed,
    createdAt: r.created_at, status: r.status === 'retired' ? 'retired' : 'active',
  };
}
