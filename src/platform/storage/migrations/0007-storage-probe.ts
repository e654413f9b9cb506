// Readiness after a write failure (platform/storage/storage-health.ts). Append-only: never edit this once released.
//
// When the database refused a write (a full disk, an I/O error), readiness stays false until a write succeeds again.
// Reads keep working in that state, so the check must write: KyselyStorage.probeWrite inserts one row here with a
// payload of random bytes (so no engine compresses it to nothing), commits, and deletes the table's rows again. The
// table is empty but for a probe in flight, and holds nothing of any tenant.
import type { Kysely, Migration } from 'kysely';
import type { Engine } from '../storage-engine.ts';
import { autoIncrementId } from './dialect-aware.ts';

export function storageProbe(engine: Engine): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('storage_probe')
        .addColumn('id', ...autoIncrementId(engine))
        .addColumn('probed_at', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
