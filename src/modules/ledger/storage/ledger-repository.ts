// The ledger's sequenced leaves (docs/design.md §1; docs/ledger.md): every issued invoice gets the next leaf index in the
// transaction that stores it, so an acknowledged invoice always has its index. `ledger_state` is one global row that
// every issuing transaction of every series serialises on: take it as late as possible in the transaction (after the
// series compare-and-set and the quota charges), and before the audit chain's head (docs/architecture.md, lock order).
import { sql } from 'kysely';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';

export interface NewLeaf {
  tenantId: string;
  number: string;
  /** Hex SHA-256 leaf hash (RFC 9162 §2.1.1). */
  leafHash: string;
}

/** Rows per multi-row INSERT, well under both engines' parameter limits. */
const ROWS_PER_INSERT = 500;

export class LedgerRepository {
  constructor(private readonly scope: Scope) {}

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
          idx: first + i + j, tenant_id: l.tenantId, number: l.number, leaf_hash: l.leafHash, created_at: at,
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
}
