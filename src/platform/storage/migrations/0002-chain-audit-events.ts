// The audit log as a hash chain (issue 3). Append-only: never edit this once released; add 0003-… instead.
//
// audit_events gains `seq` (1, 2, 3, … without gaps, assigned in the writing transaction) and `details` (JSON text);
// `prev_hash` and `hash` (already there, so far NULL) are now filled: hash = hex SHA-256 of the canonical encoding in
// modules/audit/domain/audit-chain.ts. `audit_state` is one row holding the chain's head (seq and hash); every audit writer moves
// it with an UPDATE … RETURNING in its own transaction, which serialises audit writers on both engines, as a chain
// needs (the same pattern as ledger_state).
//
// Retention: nothing deletes audit entries automatically. Only an explicit purge (AuditRepository.purgeBefore) does,
// never for entries younger than 180 days, and it records what it deleted in `audit_purges`: the seq and hash of the
// last purged entry, from which verification continues.
//
// Rows written before this migration (issuance entries without hashes) are chained here, in id order.
import { sql, type Kysely, type Migration } from 'kysely';
import { AUDIT_GENESIS_HASH, auditEntryHash } from '../../../modules/audit/domain/audit-chain.ts';
import type { Engine } from '../storage-engine.ts';

interface LegacyRow {
  id: number | string;
  tenant_id: string | null;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  ip: string | null;
  at: string;
}

export function chainAuditEvents(engine: Engine): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('audit_events').addColumn('seq', 'bigint').execute();
      await db.schema.alterTable('audit_events').addColumn('details', 'text').execute();

      const rows = (await sql<LegacyRow>`select id, tenant_id, actor, action, target, outcome, ip, at from audit_events order by id`.execute(db)).rows;
      let prev = AUDIT_GENESIS_HASH;
      let seq = 0;
      for (const r of rows) {
        seq += 1;
        const hash = auditEntryHash({ seq, prevHash: prev, at: r.at, tenantId: r.tenant_id, actor: r.actor, action: r.action, target: r.target, outcome: r.outcome, ip: r.ip, details: null });
        await sql`update audit_events set seq = ${seq}, prev_hash = ${prev}, hash = ${hash} where id = ${r.id}`.execute(db);
        prev = hash;
      }

      if (engine === 'postgres') {
        // SQLite cannot add a NOT NULL column without a default; there the repository guarantees it.
        await sql`alter table audit_events alter column seq set not null, alter column prev_hash set not null, alter column hash set not null`.execute(db);
      }
      await db.schema.createIndex('audit_events_seq_uq').on('audit_events').column('seq').unique().execute();
      await db.schema.createIndex('audit_events_at_ix').on('audit_events').columns(['at', 'seq']).execute();
      await db.schema.createIndex('audit_events_action_ix').on('audit_events').columns(['action', 'seq']).execute();

      await db.schema
        .createTable('audit_state')
        .addColumn('id', 'integer', (c) => c.notNull())
        .addColumn('head_seq', 'bigint', (c) => c.notNull())
        .addColumn('head_hash', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_state_pkey', ['id'])
        .execute();
      await sql`insert into audit_state (id, head_seq, head_hash) values (1, ${seq}, ${prev})`.execute(db);

      await db.schema
        .createTable('audit_purges')
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('cutoff', 'text', (c) => c.notNull())
        .addColumn('purged_at', 'text', (c) => c.notNull())
        .addColumn('count', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_purges_pkey', ['seq'])
        .execute();
    },
  };
}
