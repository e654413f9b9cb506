// Read-only aggregates over the invoicing module's tables (`invoices`, `invoice_lines`) for statements: GROUP BY in
// SQL on either engine, so a period of any size costs a few small result sets, never every invoice in memory. Sums
// are of the `*_cents` columns (exact integers; PostgreSQL answers numeric text, SQLite an integer) and come back as
// bigint. Counts per tax rate come from the lines (a line carries its rate; an invoice may mix rates).
// Index: invoices_issue_date_ix (tenant_id, issue_date, number), then invoice_lines' primary key.
import { sql } from 'kysely';
import type { Scope } from '../../../platform/storage/unit-of-work.ts';
import { readSum } from '../domain/cents.ts';
import type { DateRange } from '../domain/period.ts';

export interface StatusGroup {
  type: string;
  kind: string;
  status: string;
  count: number;
  amountCents: bigint;
  taxCents: bigint;
  totalCents: bigint;
}

export interface RateGroup {
  type: string;
  kind: string;
  rate: string;
  /** `exempt` (免税) or `non-taxable` (不征税) for rate-0 lines so labelled. */
  exemption: string | null;
  invoices: number;
  lines: number;
  amountCents: bigint;
  taxCents: bigint;
}

export interface LedgerSpan {
  invoices: number;
  firstIndex: number | null;
  lastIndex: number | null;
}

export class StatementRepository {
  constructor(private readonly scope: Scope) {}

  private get db() {
    return this.scope.db;
  }

  /** Counts and sums of the invoices issued in the range, by type, kind and status. */
  async byStatus(tenantId: string, range: DateRange): Promise<StatusGroup[]> {
    const invoices = await this.db
      .selectFrom('invoices')
      .select(['type', 'kind', 'status'])
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.sum<number | string | null>('total_cents').as('total')])
      .where('tenant_id', '=', tenantId)
      .where('issue_date', '>=', range.from)
      .where('issue_date', '<=', range.to)
      .groupBy(['type', 'kind', 'status'])
      .execute();
    const lines = await this.db
      .selectFrom('invoice_lines as l')
      .innerJoin('invoices as i', (j) => j.onRef('i.tenant_id', '=', 'l.tenant_id').onRef('i.number', '=', 'l.number'))
      .select(['i.type as type', 'i.kind as kind', 'i.status as status'])
      .select((eb) => [eb.fn.sum<number | string | null>('l.amount_cents').as('amount'), eb.fn.sum<number | string | null>('l.tax_cents').as('tax')])
      .where('i.tenant_id', '=', tenantId)
      .where('l.tenant_id', '=', tenantId)
      .where('i.issue_date', '>=', range.from)
      .where('i.issue_date', '<=', range.to)
      .groupBy(['i.type', 'i.kind', 'i.status'])
      .execute();
    const key = (r: { type: string; kind: string; status: string }) => `${r.type}|${r.kind}|${r.status}`;
    const sums = new Map(lines.map((r) => [key(r), r]));
    return invoices.map((r) => {
      const s = sums.get(key(r));
      return {
        type: r.type, kind: r.kind, status: r.status, count: Number(r.n),
        amountCents: readSum(s?.amount), taxCents: readSum(s?.tax), totalCents: readSum(r.total),
      };
    });
  }

  /** Lines of the invoices issued in the range, by type, kind and tax rate (and the label of a rate-0 line). */
  async byRate(tenantId: string, range: DateRange): Promise<RateGroup[]> {
    const rows = await this.db
      .selectFrom('invoice_lines as l')
      .innerJoin('invoices as i', (j) => j.onRef('i.tenant_id', '=', 'l.tenant_id').onRef('i.number', '=', 'l.number'))
      .select(['i.type as type', 'i.kind as kind', 'l.tax_rate as rate', 'l.tax_exemption as exemption'])
      .select((eb) => [
        sql<number | string>`count(distinct l.number)`.as('invoices'),
        eb.fn.countAll<number | string>().as('lines'),
        eb.fn.sum<number | string | null>('l.amount_cents').as('amount'),
        eb.fn.sum<number | string | null>('l.tax_cents').as('tax'),
      ])
      .where('i.tenant_id', '=', tenantId)
      .where('l.tenant_id', '=', tenantId)
      .where('i.issue_date', '>=', range.from)
      .where('i.issue_date', '<=', range.to)
      .groupBy(['i.type', 'i.kind', 'l.tax_rate', 'l.tax_exemption'])
      .execute();
    return rows.map((r) => ({
      type: r.type, kind: r.kind, rate: r.rate, exemption: r.exemption,
      invoices: Number(r.invoices), lines: Number(r.lines), amountCents: readSum(r.amount), taxCents: readSum(r.tax),
    }));
  }

  /** The ledger indices of the invoices issued in the range. */
  async ledgerSpan(tenantId: string, range: DateRange): Promise<LedgerSpan> {
    const r = await this.db
      .selectFrom('invoices')
      .select((eb) => [
        eb.fn.countAll<number | string>().as('n'),
        eb.fn.min<number | string | null>('ledger_index').as('first'),
        eb.fn.max<number | string | null>('ledger_index').as('last'),
      ])
      .where('tenant_id', '=', tenantId)
      .where('issue_date', '>=', range.from)
      .where('issue_date', '<=', range.to)
      .executeTakeFirstOrThrow();
    const n = (v: number | string | null) => (v === null ? null : Number(readSum(v)));
    return { invoices: Number(r.n), firstIndex: n(r.first), lastIndex: n(r.last) };
  }
}
