// Statements and reconciliation results as JSON and CSV. CSV cells follow domain/csv-cells.ts: text neutralised
// against formula injection, the server's numbers written bare.
import { formatCents } from '../domain/cents.ts';
import { monthRange } from '../domain/period.ts';
import { csvRecord, numberCell, textCell } from '../domain/csv-cells.ts';
import type { Statement } from '../app/statement-service.ts';
import type { Reconciliation, ResultRow } from '../storage/reconciliation-repository.ts';

const money = (c: number | null) => (c === null ? null : formatCents(BigInt(c)));

export function presentReconciliation(r: Reconciliation) {
  return {
    id: r.id,
    status: r.status,
    format: r.format,
    ...(r.range ? { from: r.range.from, to: r.range.to } : {}),
    rows: r.rows,
    malformed: r.malformed,
    progress: { ...r.progress, percent: r.progress.total === 0 ? (r.status === 'done' ? 100 : 0) : Math.floor((r.progress.done * 100) / r.progress.total) },
    ...(r.totals ? { totals: r.totals } : {}),
    ...(r.error ? { error: r.error } : {}),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
  };
}

function differences(r: ResultRow): string[] {
  return (['amount', 'tax', 'date', 'buyer'] as const).filter((k) => r.differs[k]);
}

export function presentResult(r: ResultRow) {
  const drop = <T extends Record<string, unknown>>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null));
  return {
    ...(r.lineNo !== null ? { line: r.lineNo } : {}),
    outcome: r.outcome,
    differences: differences(r),
    ...(r.outcome === 'missing-theirs' || r.outcome === 'malformed' ? {} : {
      theirs: drop({ externalId: r.theirs.externalId, number: r.theirs.number, date: r.theirs.date, amount: money(r.theirs.amountCents), tax: money(r.theirs.taxCents), buyerTaxId: r.theirs.buyerTaxId }),
    }),
    ...(r.ours.number !== null ? { ours: drop({ number: r.ours.number, externalId: r.ours.externalId, date: r.ours.date, amount: money(r.ours.amountCents), tax: money(r.ours.taxCents) }) } : {}),
    ...(r.error !== null ? { error: r.error } : {}),
    ...(r.errorField !== null ? { field: r.errorField } : {}),
  };
}

export const RESULT_CSV_HEADER = csvRecord([
  'line', 'outcome', 'differences', 'their_external_id', 'their_number', 'their_date', 'their_amount', 'their_tax', 'their_buyer_tax_id',
  'our_number', 'our_external_id', 'our_date', 'our_amount', 'our_tax', 'error', 'field',
]);

export function resultCsv(r: ResultRow): string {
  return csvRecord([
    numberCell(r.lineNo), textCell(r.outcome), textCell(differences(r).join(' ')),
    textCell(r.theirs.externalId), textCell(r.theirs.number), textCell(r.theirs.date), numberCell(money(r.theirs.amountCents)), numberCell(money(r.theirs.taxCents)), textCell(r.theirs.buyerTaxId),
    textCell(r.ours.number), textCell(r.ours.externalId), textCell(r.ours.date), numberCell(money(r.ours.amountCents)), numberCell(money(r.ours.taxCents)),
    textCell(r.error), textCell(r.errorField),
  ]);
}

/** One CSV of a statement: a `section` column says which table each record belongs to. */
export function statementCsv(s: Statement): string {
  const out = [csvRecord(['section', 'from', 'to', 'type', 'category', 'kind', 'rate', 'exemption', 'count', 'lines', 'amount', 'tax', 'total', 'quota', 'used'])];
  const row = (section: string, o: { type?: string; category?: string; kind?: string; rate?: string; exemption?: string; count?: number; lines?: number; amount?: string; tax?: string; total?: string; quota?: string; used?: string }, from = s.from, to = s.to) =>
    out.push(csvRecord([
      textCell(section), textCell(from), textCell(to), textCell(o.type), textCell(o.category), textCell(o.kind), numberCell(o.rate), textCell(o.exemption),
      numberCell(o.count), numberCell(o.lines), numberCell(o.amount), numberCell(o.tax), numberCell(o.total), numberCell(o.quota), numberCell(o.used),
    ]));
  row('total', s.totals);
  for (const t of s.byType) row('type', t);
  for (const c of s.byStatus) row('status', { ...c, kind: c.category === 'red' ? 'red' : 'blue' });
  for (const r of s.byRate) row('rate', r);
  // The quota of each month the range touches (the month's whole usage; an empty quota cell is unlimited).
  for (const q of s.quota) row('quota', { ...(q.quota !== null ? { quota: q.quota } : {}), used: q.used }, monthRange(q.period).from, monthRange(q.period).to);
  return out.join('');
}
