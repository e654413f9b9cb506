// Statements (对账单) of a tenant's issued invoices: counts and sums by type, tax rate and kind/status over a range of
// issue dates, with the issuing quota used; and the monthly summary in the shape of the platform's monthly
// confirmation (月度汇总确认: blue and red counts, amounts and tax per rate), naming the ledger indices it covers and
// the checkpoint an auditor checks them against. Read use cases: SQL aggregates only (storage/statement-repository.ts).
//
// Stability of the monthly summary: an invoice's issue date is the day it was issued (UTC+8), so once the month is
// over no invoice joins or leaves it; the summary groups by kind (blue, red), never by the blue invoice's status,
// which a later red invoice still changes. So a closed month's figures, and their digest, never change.
import { createHash } from 'node:crypto';
import type { Clock } from '../../../shared/clock.ts';
import { chinaDate } from '../../../shared/china-time.ts';
import type { LedgerRepository } from '../../ledger/index.ts';
import type { QuotaUsageRepository } from '../../invoicing/index.ts';
import type { Tenant } from '../../tenants/index.ts';
import { formatCents } from '../domain/cents.ts';
import { monthRange, monthsOf, type DateRange } from '../domain/period.ts';
import type { RateGroup, StatementRepository, StatusGroup } from '../storage/statement-repository.ts';

export interface StatementReads {
  statements: StatementRepository;
  quotaUsage: QuotaUsageRepository;
  ledger: LedgerRepository;
}

export interface Sums {
  count: number;
  amount: string;
  tax: string;
  total: string;
}

/** blue = a blue invoice not reversed; the red-flushed ones by how far; red = the red invoices themselves. */
export type StatusCategory = 'blue' | 'blue-red-flushed-partial' | 'blue-red-flushed' | 'red';
export const TYPE_LABELS: Record<string, string> = { special: '专票', normal: '普票' };
export const CATEGORY_LABELS: Record<StatusCategory, string> = {
  'blue': '蓝字', 'blue-red-flushed-partial': '蓝字（部分红冲）', 'blue-red-flushed': '蓝字（全额红冲）', 'red': '红字',
};

export interface Statement {
  from: string;
  to: string;
  period?: string;
  currency: 'CNY';
  totals: Sums;
  byType: (Sums & { type: string; label: string })[];
  byStatus: (Sums & { type: string; category: StatusCategory; label: string })[];
  byRate: (Sums & { type: string; kind: string; rate: string; exemption?: string; lines: number })[];
  /** The quota (授信额度) of each month the range touches: used is the month's whole usage. */
  quota: { period: string; quota: string | null; used: string; remaining: string | null }[];
  /** Amount excluding tax issued in the range (red invoices subtract): what the range used of the quota. */
  quotaUsedInRange: string;
}

export interface MonthlyFigures {
  type: string;
  label: string;
  rate: string;
  exemption?: string;
  blue: { count: number; amount: string; tax: string };
  red: { count: number; amount: string; tax: string };
}

export interface MonthlySummary {
  period: string;
  from: string;
  to: string;
  /** The month is over (UTC+8): these figures no longer change. */
  closed: boolean;
  seller: { taxId: string; name: string };
  rates: MonthlyFigures[];
  totals: { type: string; label: string; blue: { count: number; amount: string; tax: string }; red: { count: number; amount: string; tax: string } }[];
  /** SHA-256 (hex) of the JSON of `rates` and `totals`: equal digests, equal figures. */
  digest: string;
  ledger: {
    invoices: number;
    firstIndex: number | null;
    lastIndex: number | null;
    /** The newest checkpoint; `covers` says whether its tree holds every index of the month. */
    checkpoint: { treeSize: number; rootHash: string; note: string; covers: boolean } | null;
  };
}

function sums(count: number, amount: bigint, tax: bigint, total: bigint): Sums {
  return { count, amount: formatCents(amount), tax: formatCents(tax), total: formatCents(total) };
}

function categoryOf(g: StatusGroup): StatusCategory {
  if (g.kind === 'red') return 'red';
  if (g.status === 'red-flushed') return 'blue-red-flushed';
  if (g.status === 'red-flushed-partial') return 'blue-red-flushed-partial';
  return 'blue';
}

const TYPE_ORDER = ['special', 'normal'];
const byTypeOrder = (a: string, b: string) => (TYPE_ORDER.indexOf(a) - TYPE_ORDER.indexOf(b)) || a.localeCompare(b);
/** Rates high to low, then the labelled zero rates. */
const rateOrder = (a: RateGroup, b: RateGroup) => byTypeOrder(a.type, b.type) || b.rate.localeCompare(a.rate) || (a.exemption ?? '').localeCompare(b.exemption ?? '') || a.kind.localeCompare(b.kind);

export class StatementService {
  constructor(private readonly deps: { read: StatementReads; clock: Clock }) {}

  async statement(tenant: Tenant, range: DateRange): Promise<Statement> {
    const { statements, quotaUsage } = this.deps.read;
    const groups = await statements.byStatus(tenant.id, range);
    const rates = await statements.byRate(tenant.id, range);
    let count = 0;
    let amount = 0n;
    let tax = 0n;
    let total = 0n;
    const types = new Map<string, { count: number; amount: bigint; tax: bigint; total: bigint }>();
    const categories = new Map<string, { type: string; category: StatusCategory; count: number; amount: bigint; tax: bigint; total: bigint }>();
    for (const g of groups) {
      count += g.count;
      amount += g.amountCents;
      tax += g.taxCents;
      total += g.totalCents;
      const t = types.get(g.type) ?? { count: 0, amount: 0n, tax: 0n, total: 0n };
      types.set(g.type, { count: t.count + g.count, amount: t.amount + g.amountCents, tax: t.tax + g.taxCents, total: t.total + g.totalCents });
      const category = categoryOf(g);
      const k = `${g.type}|${category}`;
      const c = categories.get(k) ?? { type: g.type, category, count: 0, amount: 0n, tax: 0n, total: 0n };
      categories.set(k, { ...c, count: c.count + g.count, amount: c.amount + g.amountCents, tax: c.tax + g.taxCents, total: c.total + g.totalCents });
    }
    const categoryOrder = Object.keys(CATEGORY_LABELS);
    const quota = [];
    for (const period of monthsOf(range)) {
      const q = await quotaUsage.quotaUsage(tenant.id, period);
      const used = q?.usedCents ?? 0n;
      const limit = q?.quotaCents ?? null;
      quota.push({
        period, quota: limit === null ? null : formatCents(limit), used: formatCents(used),
        remaining: limit === null ? null : formatCents(limit - used > 0n ? limit - used : 0n),
      });
    }
    return {
      from: range.from, to: range.to, ...(range.period ? { period: range.period } : {}), currency: 'CNY',
      totals: sums(count, amount, tax, total),
      byType: [...types].sort(([a], [b]) => byTypeOrder(a, b)).map(([type, t]) => ({ type, label: TYPE_LABELS[type] ?? type, ...sums(t.count, t.amount, t.tax, t.total) })),
      byStatus: [...categories.values()]
        .sort((a, b) => byTypeOrder(a.type, b.type) || categoryOrder.indexOf(a.category) - categoryOrder.indexOf(b.category))
        .map((c) => ({ type: c.type, category: c.category, label: CATEGORY_LABELS[c.category], ...sums(c.count, c.amount, c.tax, c.total) })),
      byRate: [...rates].sort(rateOrder).map((r) => ({
        type: r.type, kind: r.kind, rate: r.rate, ...(r.exemption ? { exemption: r.exemption } : {}), lines: r.lines,
        ...sums(r.invoices, r.amountCents, r.taxCents, r.amountCents + r.taxCents),
      })),
      quota,
      quotaUsedInRange: formatCents(amount),
    };
  }

  async monthly(tenant: Tenant, period: string): Promise<MonthlySummary> {
    const range = monthRange(period);
    const { statements, ledger } = this.deps.read;
    const groups = await statements.byStatus(tenant.id, range);
    const rates = await statements.byRate(tenant.id, range);
    const zero = () => ({ count: 0, amount: 0n, tax: 0n });
    const perRate = new Map<string, { type: string; rate: string; exemption: string | null; blue: ReturnType<typeof zero>; red: ReturnType<typeof zero> }>();
    for (const r of [...rates].sort(rateOrder)) {
      const k = `${r.type}|${r.rate}|${r.exemption ?? ''}`;
      const entry = perRate.get(k) ?? { type: r.type, rate: r.rate, exemption: r.exemption, blue: zero(), red: zero() };
      const side = r.kind === 'red' ? entry.red : entry.blue;
      side.count += r.invoices;
      side.amount += r.amountCents;
      side.tax += r.taxCents;
      perRate.set(k, entry);
    }
    const perType = new Map<string, { blue: ReturnType<typeof zero>; red: ReturnType<typeof zero> }>();
    for (const g of groups) {
      const entry = perType.get(g.type) ?? { blue: zero(), red: zero() };
      const side = g.kind === 'red' ? entry.red : entry.blue;
      side.count += g.count;
      side.amount += g.amountCents;
      side.tax += g.taxCents;
      perType.set(g.type, entry);
    }
    const out = (s: ReturnType<typeof zero>) => ({ count: s.count, amount: formatCents(s.amount), tax: formatCents(s.tax) });
    const figures = {
      rates: [...perRate.values()].map((r) => ({
        type: r.type, label: TYPE_LABELS[r.type] ?? r.type, rate: r.rate, ...(r.exemption ? { exemption: r.exemption } : {}), blue: out(r.blue), red: out(r.red),
      })),
      totals: [...perType].sort(([a], [b]) => byTypeOrder(a, b)).map(([type, t]) => ({ type, label: TYPE_LABELS[type] ?? type, blue: out(t.blue), red: out(t.red) })),
    };
    const span = await statements.ledgerSpan(tenant.id, range);
    const checkpoint = await ledger.latestCheckpoint();
    return {
      period, from: range.from, to: range.to,
      closed: chinaDate(this.deps.clock.now()) > range.to,
      seller: { taxId: tenant.taxId, name: tenant.name },
      ...figures,
      digest: createHash('sha256').update(JSON.stringify(figures)).digest('hex'),
      ledger: {
        ...span,
        checkpoint: checkpoint
          ? { treeSize: checkpoint.size, rootHash: Buffer.from(checkpoint.rootHash, 'hex').toString('base64'), note: checkpoint.note, covers: span.lastIndex === null || checkpoint.size > span.lastIndex }
          : null,
      },
    };
  }
}
