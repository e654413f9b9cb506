// The few column definitions that differ between the engines, for migrations written once for both.
import type { ColumnDataType, ColumnDefinitionBuilder } from 'kysely';
import type { Engine } from '../storage-engine.ts';

type ColumnSpec = [ColumnDataType, (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder];

/** A surrogate key that only grows: SQLite `INTEGER PRIMARY KEY AUTOINCREMENT` (never reuses ids), PG `BIGSERIAL`. */
export function autoIncrementId(engine: Engine): ColumnSpec {
  return engine === 'postgres'
    ? ['bigserial', (c) => c.primaryKey()]
    : ['integer', (c) => c.primaryKey().autoIncrement()];
}
