// The ledger's tree (modules/ledger, docs/ledger.md). Append-only: never edit this once released.
//
// - `ledger_leaves.entry`: the encoded leaf entry (docs/ledger.md "Leaf entries", base64), which the leaf hash is the
//   RFC 9162 hash of and entry bundles are made from. Rows written before this migration have NULL here and a leaf
//   hash made the older way (SHA-256(0x00 ‖ "<number>\n<hash>\n<signature>")); no tree or checkpoint was ever
//   published over them, so the integrator rebuilds them from their invoices (every field of the entry is in the
//   invoice row) before it integrates them, and they join the log at the index they already had.
// - `ledger_tiles`, `ledger_bundles`: the widest version of each C2SP tlog-tiles tile and entry bundle (a partial
//   tile is a prefix of the later one), base64.
// - `ledger_checkpoints`: every signed checkpoint, newest last; the integrator's state is the newest one's size.
// - `ledger_log_keys`: the log's Ed25519 note key, the seed sealed under the master key (as the signing keys).
// None of these tables holds buyer data: an entry names the invoice by number, hash and signature only.
import type { Kysely, Migration } from 'kysely';
import type { Engine } from '../storage-engine.ts';
import { autoIncrementId } from './dialect-aware.ts';

export function ledgerTree(engine: Engine): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('ledger_leaves').addColumn('entry', 'text').execute();
      await db.schema
        .createTable('ledger_tiles')
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('idx', 'bigint', (c) => c.notNull())
        .addColumn('width', 'integer', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_tiles_pkey', ['level', 'idx'])
        .execute();
      await db.schema
        .createTable('ledger_bundles')
        .addColumn('idx', 'bigint', (c) => c.notNull())
        .addColumn('width', 'integer', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_bundles_pkey', ['idx'])
        .execute();
      await db.schema
        .createTable('ledger_checkpoints')
        .addColumn('id', ...autoIncrementId(engine))
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('root_hash', 'text', (c) => c.notNull())
        .addColumn('note', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('ledger_log_keys')
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('verifier_key', 'text', (c) => c.notNull())
        .addColumn('private_key_sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_log_keys_pkey', ['key_id'])
        .execute();
    },
  };
}
