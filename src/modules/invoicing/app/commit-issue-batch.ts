// The issuing transaction (docs/design.md §1, invariants 1 and 2): numbering, quota, ledger leaf, outbox event, invoice
// with its lines, idempotency record and audit entry of every invoice of a batch, in one unit of work — committed
// durably before any request of the batch is answered.
//
// Lock order (docs/architecture.md, "Lock order"), the same in every transaction that takes these rows:
// 1. the series row: a compare-and-set (series-repository.ts). Another writer that numbered from the same sequence
//    renumbers (`series-moved`); nothing is written.
// 2. quota usage rows, in (tenant, period) order (quota-usage-repository.ts): the guard `used + charge <= quota`. A
//    failing guard rolls everything back, series move included (`quota-exceeded`); no number is consumed.
// 3. `ledger_state`, one global row every issuing transaction serialises on: as late as possible, after 1 and 2. The
//    outbox rows follow it, so their ids grow in commit order (modules/events/app/event-stream.ts).
// 4. `audit_state`, the audit chain's head, the other global row (every audit writer waits on it): last.
//
// Before the transaction, one indexed read of the tenants holding the batch's buyer tax IDs (tenants_tax_id_ix): an
// invoice addressed to a tenant of this server is announced to that buyer too (`invoice.received`, in the same outbox
// append as `invoice.issued`), by the rule of modules/tenants/domain/buyer-tenant.ts. No row is locked by it.
//
// Every row of every item is built before the first insert, each item on its own: an item whose rows cannot be built
// (its data key is unavailable, its encryption fails) rolls the transaction back and is reported with its index
// (`items-failed`), so the writer fails that request alone and renumbers the others.
import { AppError } from '../../../shared/errors.ts';
import type { DataKey } from '../../../platform/crypto/field-cipher.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Insertable } from 'kysely';
import type { IdempotencyKeysTable } from '../../../platform/storage/database.ts';
import type { AuditRepository } from '../../audit/index.ts';
import { EVENT_TYPES, outboxEvent, type OutboxRepository } from '../../events/index.ts';
import type { LedgerRepository } from '../../ledger/index.ts';
import { buyerTenantAmong, type TaxIdHolder, type TenantRepository } from '../../tenants/index.ts';
import type { Invoice } from '../../../shared/invoice.ts';
import { periodOfIssueDate, quotaCharge } from '../domain/issuing-quota.ts';
import { withLedgerIndex } from '../domain/invoice-json.ts';
import type { QuotaUsed } from '../storage/invoice-contract.ts';
import type { IdempotencyRepository } from '../storage/idempotency-repository.ts';
import type { InvoiceRepository, InvoiceRows } from '../storage/invoice-repository.ts';
import type { QuotaCharge, QuotaUsageRepository } from '../storage/quota-usage-repository.ts';
import type { SeriesRepository } from '../storage/series-repository.ts';

/** The event every issued invoice announces (docs/architecture.md, "Live events"). */
export const INVOICE_ISSUED = 'invoice.issued' as const;
/** The event of an invoice (blue or red) addressed to a buyer that is a tenant of this server, to that buyer. */
export const INVOICE_RECEIVED = 'invoice.received' as const;
/** Who asked for an invoice, for its `invoice.issue` audit entry, and the HTTP request it was asked in. */
export interface IssueStamp {
  actor: string;
  ip?: string;
  requestId?: string;
  /**
   * The request is another tenant's (a buyer confirming a red-letter form issues the seller's red invoice): its id is
   * on the audit entry but stays out of the seller's `invoice.issued`.
   */
  foreignRequest?: true;
}

/** The audit action of an issued invoice. */
export const INVOICE_ISSUE_ACTION = 'invoice.issue';

/** What issuing needs of a unit of work. */
export interface IssueTx {
  series: SeriesRepository;
  quotaUsage: QuotaUsageRepository;
  ledger: LedgerRepository;
  outbox: OutboxRepository;
  invoices: InvoiceRepository;
  idempotency: IdempotencyRepository;
  audit: AuditRepository;
  /** Read only, before the transaction (uow.read): who the buyers of the batch are on this server. */
  tenants: TenantRepository;
}

/** One invoice of an issuance batch, numbered and signed, waiting for its ledger index. */
export interface PendingIssue {
  tenantId: string;
  invoice: Omit<Invoice, 'ledger'>;
  /** The ledger leaf committed for this invoice: the encoded entry (base64) and its hex RFC 9162 leaf hash. */
  leaf: { entry: string; leafHash: string };
  /**
   * The invoice's JSON without its ledger index (invoice-json.ts), rendered once outside the transaction; the stored
   * idempotent response is this with the index put in, byte for byte what the first answer was.
   */
  json: string;
  /** With an Idempotency-Key: the record a replay answers (`statusCode` is the adapter's choice). */
  idempotency?: { key: string; requestHash: string; statusCode: number };
  /** Who issued it, for the audit entry (actor defaults to `system`); its request id also goes in the seller's event. */
  audit?: IssueStamp;
  /**
   * Work of another module that must commit with this invoice (a red invoice's form and its blue invoice's status:
   * modules/red-letter/), run in the issuing transaction after the invoices are inserted, before the audit entries.
   * Throwing rolls the transaction back; the writer then fails this request alone.
   */
  within?: IssueHook;
}

/** See PendingIssue.within; `tx` is the whole unit of work's repositories (src/repositories.ts). */
export type IssueHook = (tx: IssueTx, invoice: Invoice) => Promise<void>;

export interface IssueBatch {
  /** Series key `YYRRC` (year, region, channel). */
  series: string;
  /** The sequence the first item was numbered with; items are numbered consecutively from it. */
  firstSeq: number;
  items: PendingIssue[];
}

/** An issued invoice and its JSON as answered (and stored for replay). */
export interface IssuedInvoice {
  invoice: Invoice;
  json: string;
}

export type CommitIssueResult =
  | { ok: true; issued: IssuedInvoice[]; usage: QuotaUsed[] }
  /** The series moved on under us (another writer took numbers): nothing was written; renumber and re-sign. */
  | { ok: false; reason: 'series-moved'; nextSeq: number }
  /**
   * The tenant's quota guard failed (its quota was lowered, or another node used it meanwhile): nothing was written;
   * reload the tenant's quota and usage, drop what no longer fits and renumber.
   */
  | { ok: false; reason: 'quota-exceeded'; tenantId: string; period: string }
  /**
   * Preparing these items' rows failed (their data key, their encryption): nothing was written, no number consumed.
   * Answer each with its error, drop them and renumber the rest.
   */
  | { ok: false; reason: 'items-failed'; failures: ItemFailure[] };

/** Why one item of an issuing batch could not be written; `index` is its position in `IssueBatch.items`. */
export interface ItemFailure {
  index: number;
  error: unknown;
}

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

/** The batch's charges summed per (tenant, period), in lock order. */
export function batchCharges(items: readonly { tenantId: string; invoice: { issueDate: string; totals: { amount: string } } }[]): QuotaCharge[] {
  const sums = new Map<string, QuotaCharge>();
  for (const item of items) {
    const period = periodOfIssueDate(item.invoice.issueDate);
    const key = `${item.tenantId}\u0000${period}`;
    const charge = sums.get(key) ?? { tenantId: item.tenantId, period, cents: 0n };
    charge.cents += quotaCharge(item.invoice.totals.amount);
    sums.set(key, charge);
  }
  return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
}

function buyerTaxIds(items: readonly PendingIssue[]): string[] {
  const ids = new Set<string>();
  for (const item of items) if (item.invoice.buyer.taxId !== undefined) ids.add(item.invoice.buyer.taxId);
  return [...ids];
}

/** Per item, the buyer's tenant on this server, if any. */
function buyerTenantsOf(items: readonly PendingIssue[], holders: readonly TaxIdHolder[]): (string | undefined)[] {
  if (holders.length === 0) return items.map(() => undefined);
  const byTaxId = new Map<string, TaxIdHolder[]>();
  for (const h of holders) byTaxId.set(h.taxId, [...(byTaxId.get(h.taxId) ?? []), h]);
  return items.map((item) => {
    const taxId = item.invoice.buyer.taxId;
    const list = taxId === undefined ? undefined : byTaxId.get(taxId);
    return list && buyerTenantAmong(list, item.tenantId);
  });
}

/** Commits a numbered and signed batch at time `at` (see the top of this file). */
export async function commitIssueBatch(uow: UnitOfWork<IssueTx>, at: Date, batch: IssueBatch): Promise<CommitIssueResult> {
  const n = batch.items.length;
  if (n === 0) return { ok: true, issued: [], usage: [] };
  if (!Number.isSafeInteger(batch.firstSeq) || batch.firstSeq < 1) throw new RangeError(`bad firstSeq: ${batch.firstSeq}`);
  // Data keys first, each in its own committed statement (platform/storage/field-keys.ts): never inside the issuing
  // transaction. A key that cannot be had (e.g. wrapped under a master key version not configured) fails that
  // tenant's items only.
  const dataKeys = new Map<string, DataKey | undefined>();
  const failures: ItemFailure[] = [];
  const refused = new Map<string, unknown>();
  for (const [index, item] of batch.items.entries()) {
    if (dataKeys.has(item.tenantId)) continue;
    if (!refused.has(item.tenantId)) {
      try {
        dataKeys.set(item.tenantId, await uow.read.invoices.dataKeyFor(item.tenantId));
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
  // The buyer tenants of the batch: one indexed read, outside the transaction (it holds no lock, and SQLite's write
  // lock is not held longer for it).
  const buyers = buyerTenantsOf(batch.items, await uow.read.tenants.holdersOf(buyerTaxIds(batch.items)));

  try {
    return await uow.run(at, async (tx): Promise<CommitIssueResult> => {
      const current = await tx.series.advance(batch.series, batch.firstSeq, n);
      if (current !== undefined) return { ok: false, reason: 'series-moved', nextSeq: current };
      const charged = await tx.quotaUsage.chargeAll(batchCharges(batch.items));
      if (!charged.ok) throw new QuotaGuardFailed(charged.failed);

      const firstIndex = await tx.ledger.append(batch.items.map((item) => ({
        tenantId: item.tenantId, number: item.invoice.number, ...item.leaf,
      })));
      // The event's bytes are fixed here, in the issuing transaction: what it says stays true of this commit.
      await tx.outbox.append([
        ...batch.items.map((item) => outboxEvent(item.tenantId, INVOICE_ISSUED, EVENT_TYPES[INVOICE_ISSUED].version, at, {
          number: item.invoice.number, type: item.invoice.type, kind: item.invoice.kind, issuedAt: item.invoice.issuedAt,
          status: item.invoice.status,
          totals: { amount: item.invoice.totals.amount, tax: item.invoice.totals.tax, total: item.invoice.totals.total },
        }, item.audit?.foreignRequest ? undefined : item.audit)),
        // The buyer's: the same summary and the seller's name and tax ID, never the buyer block (nor the seller's
        // request id: that names the seller's request, not the buyer's).
        ...batch.items.flatMap((item, i) => {
          const buyer = buyers[i];
          return buyer === undefined ? [] : [outboxEvent(buyer, INVOICE_RECEIVED, EVENT_TYPES[INVOICE_RECEIVED].version, at, {
            number: item.invoice.number, type: item.invoice.type, kind: item.invoice.kind, issuedAt: item.invoice.issuedAt,
            status: item.invoice.status,
            totals: { amount: item.invoice.totals.amount, tax: item.invoice.totals.tax, total: item.invoice.totals.total },
            seller: { name: item.invoice.seller.name, taxId: item.invoice.seller.taxId },
          })];
        }),
      ]);

      const rows: InvoiceRows[] = [];
      const keyed: Insertable<IdempotencyKeysTable>[] = [];
      const issued: IssuedInvoice[] = [];
      const itemFailures: ItemFailure[] = [];
      batch.items.forEach((item, i) => {
        try {
          const index = firstIndex + i;
          const invoice: Invoice = { ...item.invoice, ledger: { index } };
          const json = withLedgerIndex(item.json, index);
          const dataKey = dataKeys.get(item.tenantId);
          rows.push(tx.invoices.rowsFor(item.tenantId, invoice, dataKey));
          if (item.idempotency) {
            keyed.push(tx.idempotency.rowFor({ tenantId: item.tenantId, ...item.idempotency, body: json, invoiceNumber: invoice.number }, dataKey));
          }
          issued.push({ invoice, json });
        } catch (error) {
          itemFailures.push({ index: i, error });
        }
      });
      if (itemFailures.length > 0) throw new ItemsFailed(itemFailures);
      await tx.invoices.insert(rows);
      await tx.idempotency.insert(keyed);
      for (const [i, item] of batch.items.entries()) if (item.within) await item.within(tx, issued[i]!.invoice);
      // Last: the audit chain's head row is the other global lock (audit writers of every kind wait on it).
      await tx.audit.append(batch.items.map((item) => ({
        tenantId: item.tenantId,
        actor: item.audit?.actor ?? 'system',
        action: INVOICE_ISSUE_ACTION,
        target: item.invoice.number,
        outcome: 'success' as const,
        ...(item.audit?.ip !== undefined ? { ip: item.audit.ip } : {}),
        ...(item.audit?.requestId !== undefined ? { requestId: item.audit.requestId } : {}),
      })));
      return { ok: true, issued, usage: charged.usage };
    });
  } catch (error) {
    if (error instanceof QuotaGuardFailed) {
      return { ok: false, reason: 'quota-exceeded', tenantId: error.charge.tenantId, period: error.charge.period };
    }
    if (error instanceof ItemsFailed) return { ok: false, reason: 'items-failed', failures: error.failures };
    throw error;
  }
}
