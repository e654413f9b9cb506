// The number series (docs/invoice-rules.md, "Invoice number": year, region, channel → the next sequence). Gap-free across nodes by a
// compare-and-set: on PostgreSQL the UPDATE takes the row lock, so a writer on another node that numbered from the
// same sequence blocks until the first commits and then matches 0 rows (READ COMMITTED re-checks the WHERE on the new
// version) and renumbers. On SQLite the transaction began IMMEDIATE (sqlite-dialect.ts) and holds the write lock.
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';

export class SeriesRepository {
  constructor(private readonly scope: Scope) {}

  /** The next sequence number of a series (1 for a new series). */
  async nextSeq(series: string): Promise<number> {
    const row = await this.scope.db.selectFrom('number_series').select('next_seq').where('series', '=', series).executeTakeFirst();
    return row ? toSafeInteger(row.next_seq) : 1;
  }

  /** Moves the series from `first` to `first + n`; undefined on success, else the series' current next sequence. */
  async advance(series: string, first: number, n: number): Promise<number | undefined> {
    stampOf(this.scope);
    if (!Number.isSafeInteger(first) || first < 1) throw new RangeError(`bad first sequence: ${first}`);
    const { db } = this.scope;
    const moved = await db
      .updateTable('number_series')
      .set({ next_seq: first + n })
      .where('series', '=', series)
      .where('next_seq', '=', first)
      .executeTakeFirst();
    if (moved.numUpdatedRows === 1n) return undefined;
    if (first === 1) {
      // A new series. Two writers may both get here; the unique key lets exactly one insert (the other waits for it
      // on PostgreSQL, then does nothing and reads the winner's row below).
      const created = await db
        .insertInto('number_series')
        .values({ series, next_seq: 1 + n })
        .onConflict((oc) => oc.column('series').doNothing())
        .executeTakeFirst();
      if (created.numInsertedOrUpdatedRows === 1n) return undefined;
    }
    return this.nextSeq(series);
  }
}
