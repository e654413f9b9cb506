// Migration 0014: checkpoints the log has signed but does not serve yet (docs/ledger.md "Witnesses of the log").
// - `ledger_checkpoints.published`: 1 for a checkpoint that is served (every checkpoint when no witnesses are
//   configured; with witnesses, one that got at least k cosignatures, its note then carrying them), 0 for one
//   that is integrated (its tiles stored) but still waits for its cosignatures. Existing rows were all served.
import type { Kysely, Migration } from 'kysely';

export function ledgerWitnessedCheckpoints(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('ledger_checkpoints').addColumn('published', 'integer', (c) => c.notNull().defaultTo(1)).execute();
    },
  };
}
