// commitIssueBatch: numbering, ledger, invoice, idempotency, outbox and audit rows in one transaction (DESIGN.md §1,
// invariants 1 and 2).
//
// Numbers: the batch was numbered and signed from `firstSeq` before the transaction. The series row is moved with a
// compare-and-set; on PostgreSQL the UPDATE takes the row lock, so a writer on another node that numbered from the same
// `firstSeq` blocks until we commit and then matches 0 rows (READ COMMITTED re-checks the WHERE on the new version):
// it reports `series-moved` and renumbers. On SQLite the transaction begins IMMEDIATE (sqlite-dialect.ts), taking the
// write lock up front.
//
// Quota: right after the series, each tenant's charge is added to its usage row under the guard `used + charge <=
// quota` (quota-usage.ts). A failing guard must undo the series move too, so it throws a private sentinel that rolls
// the transaction back and becomes the `quota-exceeded` result: nothing written, no number consumed. Lock order is
// series row, usage rows (sorted), ledger_state, audit_state.
//
// Ledger: `ledger_state` is one global row and every issuing transaction of every series serialises on it, so it is
// taken as late as possible: after the series CAS and the quota charges. The outbox rows follow it on purpose (their
// ids then follow commit order).
//
// Items: every row of every item is built before the first insert. An item whose rows cannot be built (its tenant's data
// key is unavailable, its stored response does not render) makes the result `items-failed` naming it: nothing
// written, no number consumed, and the writer retries the others without it (modules/invoicing/app/issue-writer.ts).
//
// Audit: the entries are chained (audit-repository.ts) at the very end, because `audit_state` is a second global row
// that every audit writer (admin actions, authentication failures, bans) waits on. Lock order is always ledger_state
// before audit_state; no transaction takes them the other way round.
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Insertable } from 'kysely';
import type { Database, IdempotencyKeysTable, InvoiceLinesTable, InvoicesTable, LedgerLeavesTable } from '../../../platform/storage/database.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import { AppError } from '../../../shared/errors.ts';
import type { Invoice } from '../domain/invoice.ts';
import type { CommitIssueResult, IssueBatch, ItemFailure, PendingIssue } from '../../../platform/storage/storage.ts';
import { rethrow, type EngineTraits } from '../../../platform/storage/engine-traits.ts';
import { toInvoiceRow, toLineRows } from './invoice-rows.ts';
import { appendAuditInTx } from '../../audit/storage/audit-repository.ts';
import { batchCharges, chargeBatch, type QuotaCharge } from './quota-usage.ts';
import type { DataKey } from '../../../platform/crypto/field-cipher.ts';
import type { FieldProtector } from '../../../platform/storage/field-protector.ts';

/** Rows per multi-row INSERT: 500 × ≤22 columns stays well under SQLite's 32,766 and PG's 65,535 parameters. */
const ROWS_PER_INSERT = 500;

/** Thrown inside the transaction to roll it back when a quota guard fails; never leaves this module. */
class QuotaGuardFailed extends Error {
  constructor(readonly charge: QuotaCharge) {
    super('quota guard failed');
  }
}

/** Thrown inside the transaction to roll it back when items' rows cannot be built; never leaves this module. */
class ItemsFailed extends Error {
  constructor(readonly failures: ItemFailure[]) {
    super('items failed');
  }
}

export async function commitIssueBatch(
  db: Kysely<Database>,
  traits: EngineTraits,
  batch: IssueBatch,
  protector?: FieldProtector,
): Promise<CommitIssueResult> {
  const n = batch.items.length;
  if (n === 0) return { ok: true, invoices: [], usage: [] };
  if (!Number.isSafeInteger(batch.firstSeq) || batch.firstSeq < 1) throw new RangeError(`bad firstSeq: ${batch.firstSeq}`);
  // Data keys first, each in its own committed statement (field-protector.ts): never inside the issuing transaction.
  // A key that cannot be had (e.g. wrapped under a master key version not configured) fails that tenant's items only.
  const dataKeys = new Map<string, DataKey>();
  if (protector) {
    const failures: ItemFailure[] = [];
    const refused = new Map<string, unknown>();
    for (const [index, item] of batch.items.entries()) {
      if (dataKeys.has(item.tenantId)) continue;
      if (!refused.has(item.tenantId)) {
        try {
          dataKeys.set(item.tenantId, await protector.dataKeyFor(db, item.tenantId));
          continue;
        } catch (error) {
          // Only a refusal about this tenant (an AppError) is the tenant's; anything else (the database is gone) is
          // everyone's and fails the batch.
          if (!(error instanceof AppError)) throw error;
          refused.set(item.tenantId, error);
        }
      }
      failures.push({ index, error: refused.get(item.tenantId) });
    }
    if (failures.length > 0) return { ok: false, reason: 'items-failed', failures };
  }
  const protection = (tenantId: string) => (protector ? { protector, dataKey: dataKeys.get(tenantId)! } : undefined);
  const storedBody = (tenantId: string, key: string, body: string) =>
    protector ? protector.sealBody(dataKeys.get(tenantId)!, tenantId, key, body) : body;
  try {
    return await db.transaction().execute(async (trx): Promise<CommitIssueResult> => {
      const current = await advanceSeries(trx, batch.series, batch.firstSeq, n);
      if (current !== undefined) return { ok: false, reason: 'series-moved', nextSeq: current };
      const now = new Date().toISOString();
      const charged = await chargeBatch(trx, batchCharges(batch.items), now);
      if (!charged.ok) throw new QuotaGuardFailed(charged.failed);

      const firstIndex = await takeLedgerIndices(trx, n);
      // Every row of every item is built before the first insert, each item on its own: an item whose rows cannot be
      // built (its stored response does not render, its encryption fails) rolls the transaction back and is reported
      // with its index, so the writer fails that request alone and renumbers the others.
      const issued: Issued[] = [];
      const failures: ItemFailure[] = [];
      batch.items.forEach((item, i) => {
        try {
          issued.push(buildRows(item, firstIndex + i, now, protection(item.tenantId), storedBody, dataKeys.get(item.tenantId)?.version));
        } catch (error) {
          failures.push({ index: i, error });
        }
      });
      if (failures.length > 0) throw new ItemsFailed(failures);

      // Outbox ids are taken under the ledger lock, so they grow in commit order: a live stream (event-stream.ts) that
      // has seen id k never later meets a smaller id committing, and only a rolled-back transaction leaves a hole.
      for (const part of chunks(batch.items, ROWS_PER_INSERT)) {
        await trx
          .insertInto('outbox_events')
          .values(
            part.map((item) => ({
              tenant_id: item.tenantId,
              type: 'invoice.issued',
              payload: JSON.stringify({ number: item.invoice.number, tenantId: item.tenantId }),
              created_at: now,
              dispatched_at: null,
            })),
          )
          .execute();
      }

      for (const part of chunks(issued, ROWS_PER_INSERT)) {
        await trx.insertInto('invoices').values(part.map((r) => r.invoiceRow)).execute();
        const lines = part.flatMap((r) => r.lineRows);
        for (const linePart of chunks(lines, ROWS_PER_INSERT)) {
          await trx.insertInto('invoice_lines').values(linePart).execute();
        }
        await trx.insertInto('ledger_leaves').values(part.map((r) => r.leafRow)).execute();
        const keyed = part.flatMap((r) => (r.idempotencyRow ? [r.idempotencyRow] : []));
        if (keyed.length > 0) await trx.insertInto('idempotency_keys').values(keyed).execute();
      }
      // Last: the audit chain's head row is the other global lock (audit writers of every kind wait on it).
      await appendAuditInTx(
        trx,
        batch.items.map((item) => ({
          tenantId: item.tenantId,
          actor: item.audit?.actor ?? 'system',
          action: 'invoice.issue',
          target: item.invoice.number,
          outcome: 'success' as const,
          ...(item.audit?.ip !== undefined ? { ip: item.audit.ip } : {}),
        })),
        now,
      );
      return { ok: true, invoices: issued.map((r) => r.invoice), usage: charged.usage };
    });
  } catch (error) {
    if (error instanceof QuotaGuardFailed) {
      return { ok: false, reason: 'quota-exceeded', tenantId: error.charge.tenantId, period: error.charge.period };
    }
    if (error instanceof ItemsFailed) return { ok: false, reason: 'items-failed', failures: error.failures };
    rethrow(traits, error);
  }
}

interface Issued {
  invoice: Invoice;
  invoiceRow: Insertable<InvoicesTable>;
  lineRows: Insertable<InvoiceLinesTable>[];
  leafRow: Insertable<LedgerLeavesTable>;
  idempotencyRow?: Insertable<IdempotencyKeysTable>;
}

/** The rows of one item; throws when one of them cannot be built. */
function buildRows(
  item: PendingIssue,
  ledgerIndex: number,
  now: string,
  protection: { protector: FieldProtector; dataKey: DataKey } | undefined,
  storedBody: (tenantId: string, key: string, body: string) => string,
  dataKeyVersion: number | undefined,
): Issued {
  const invoice: Invoice = { ...item.invoice, ledger: { index: ledgerIndex } };
  const rows: Issued = {
    invoice,
    invoiceRow: toInvoiceRow(item.tenantId, invoice, now, protection),
    lineRows: toLineRows(item.tenantId, invoice),
    leafRow: { idx: ledgerIndex, tenant_id: item.tenantId, number: invoice.number, leaf_hash: item.leafHash, created_at: now },
  };
  if (item.idempotency) {
    rows.idempotencyRow = {
      tenant_id: item.tenantId,
      key: item.idempotency.key,
      request_hash: item.idempotency.requestHash,
      status_code: 201,
      // The response carries the buyer's personal data too: encrypted whole.
      body: storedBody(item.tenantId, item.idempotency.key, item.renderResponse(invoice)),
      invoice_number: invoice.number,
      created_at: now,
      data_key_version: dataKeyVersion ?? null,
    };
  }
  return rows;
}

/** Moves the series from `first` to `first + n`; undefined on success, else the series' current next sequence. */
async function advanceSeries(trx: Transaction<Database>, series: string, first: number, n: number): Promise<number | undefined> {
  const moved = await trx
    .updateTable('number_series')
    .set({ next_seq: first + n })
    .where('series', '=', series)
    .where('next_seq', '=', first)
    .executeTakeFirst();
  if (moved.numUpdatedRows === 1n) return undefined;
  if (first === 1) {
    // A new series. Two writers may both get here; the unique key lets exactly one insert (the other waits for it on
    // PostgreSQL, then does nothing and reads the winner's row below).
    const created = await trx
      .insertInto('number_series')
      .values({ series, next_seq: 1 + n })
      .onConflict((oc) => oc.column('series').doNothing())
      .executeTakeFirst();
    if (created.numInsertedOrUpdatedRows === 1n) return undefined;
  }
  const row = await trx.selectFrom('number_series').select('next_seq').where('series', '=', series).executeTakeFirst();
  return row ? toSafeInteger(row.next_seq) : 1;
}

/** Appends n leaves' worth of ledger size and returns the first index (indices are first … first+n-1). */
async function takeLedgerIndices(trx: Transaction<Database>, n: number): Promise<number> {
  const row = await trx
    .updateTable('ledger_state')
    .set({ size: sql<number>`size + ${n}` })
    .where('id', '=', 1)
    .returning('size')
    .executeTakeFirstOrThrow();
  return toSafeInteger(row.size) - n;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
