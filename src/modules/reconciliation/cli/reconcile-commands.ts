// `fapiao reconcile FILE` and `fapiao statement`: the same use cases as `POST /v1/reconciliations` and
// `GET /v1/statements`, for a tenant named on the command line. Progress goes to stderr; stdout is the answer
// (a summary table, or JSON / CSV when asked), so the command can feed a pipe.
import { createReadStream } from 'node:fs';
import { Command, Option } from 'commander';
import { cliActor } from '../../../cli/cli-actor.ts';
import { withAdmin, type LoadConfig } from '../../../cli/admin-context.ts';
import { endProgressLine, progressLine } from '../../../cli/progress.ts';
import { parseRange } from '../domain/period.ts';
import type { UploadFormat } from '../domain/erp-rows.ts';
import { presentReconciliation, statementCsv } from '../http/present.ts';
import type { Statement } from '../app/statement-service.ts';

const BAR = 30;

/** `[##########....................]  33% matching 33000/100000` */
export function progressBar(phase: string, done: number, total: number): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * BAR);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${phase} ${done}/${total}`;
}

function table(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

function formatOf(file: string, given: string | undefined): UploadFormat {
  if (given === 'csv' || given === 'jsonl') return given;
  return /\.(jsonl|ndjson)$/i.test(file) ? 'jsonl' : 'csv';
}

function statementTable(s: Statement): string {
  const rows: [string, string][] = [['range', `${s.from} .. ${s.to}`]];
  const line = (label: string, x: { count: number; amount: string; tax: string; total: string }) =>
    rows.push([label, `${String(x.count).padStart(6)} invoices  amount ${x.amount.padStart(14)}  tax ${x.tax.padStart(12)}  total ${x.total.padStart(14)}`]);
  line('total', s.totals);
  for (const t of s.byType) line(`${t.label} (${t.type})`, t);
  for (const c of s.byStatus) line(`${c.type} ${c.label}`, c);
  for (const r of s.byRate) line(`${r.type} ${r.kind} ${r.rate}${r.exemption ? ` ${r.exemption}` : ''}`, r);
  for (const q of s.quota) rows.push([`quota ${q.period}`, `used ${q.used}${q.quota === null ? ' (unlimited)' : ` of ${q.quota}, remaining ${q.remaining}`}`]);
  return table(rows);
}

export function reconcileCommand(loadConfig: LoadConfig): Command {
  return new Command('reconcile')
    .description('match an ERP\'s invoice list (CSV or JSON Lines) against the tenant\'s invoices; print the totals')
    .argument('<file>', 'CSV with a header line (number or externalId, date, amount, tax, buyerTaxId) or JSON Lines (.jsonl)')
    .requiredOption('--tenant <id>', 'the tenant whose invoices are matched')
    .option('--from <date>', 'first issue date of the range (YYYY-MM-DD, UTC+8)')
    .option('--to <date>', 'last issue date of the range')
    .option('--period <YYYY-MM>', 'the range as a month')
    .addOption(new Option('--format <format>', 'the file\'s format (default: by its extension)').choices(['csv', 'jsonl']))
    .option('--json', 'print the reconciliation as JSON')
    .action(async (file: string, o: { tenant: string; from?: string; to?: string; period?: string; format?: string; json?: boolean }) => {
      const range = o.period === undefined && o.from === undefined && o.to === undefined ? undefined : parseRange(o, '--');
      const done = await withAdmin(loadConfig, async (ctx) => {
        const tenant = await ctx.services.tenants.getOrThrow(o.tenant);
        const service = ctx.services.reconciliations;
        const uploaded = await service.upload(tenant, createReadStream(file), { format: formatOf(file, o.format), ...(range ? { range } : {}), by: cliActor() });
        let last = 0;
        const result = await service.runNow(uploaded.id, (p) => {
          const now = Date.now();
          if (p.phase !== 'done' && now - last < 200) return;
          last = now;
          progressLine(progressBar(p.phase, p.done, p.total));
        });
        endProgressLine();
        return result;
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(presentReconciliation(done))}\n`);
        return;
      }
      const t = done.totals!;
      process.stdout.write(table([
        ['reconciliation', done.id],
        ['range', done.range ? `${done.range.from} .. ${done.range.to}` : '(no valid row)'],
        ['rows', String(t.rows)],
        ['matched', String(t.matched)],
        ['mismatch', `${t.mismatch} (amount ${t.amountMismatch}, tax ${t.taxMismatch}, date ${t.dateMismatch}, buyer ${t.buyerMismatch})`],
        ['missing on our side', String(t.missingOurs)],
        ['missing on theirs', String(t.missingTheirs)],
        ['duplicate', String(t.duplicate)],
        ['malformed', String(t.malformed)],
      ]));
      if (t.mismatch + t.missingOurs + t.missingTheirs + t.duplicate + t.malformed > 0) process.exitCode = 3;
    });
}

export function statementCommand(loadConfig: LoadConfig): Command {
  return new Command('statement')
    .description('counts and sums of the tenant\'s invoices by type, status and tax rate, with the quota used')
    .requiredOption('--tenant <id>', 'the tenant')
    .option('--period <YYYY-MM>', 'a month')
    .option('--from <date>', 'first issue date (YYYY-MM-DD, UTC+8)')
    .option('--to <date>', 'last issue date')
    .option('--csv', 'print CSV')
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; period?: string; from?: string; to?: string; csv?: boolean; json?: boolean }) => {
      const range = parseRange(o, '--');
      const s = await withAdmin(loadConfig, async (ctx) => ctx.services.statements.statement(await ctx.services.tenants.getOrThrow(o.tenant), range), { working: 'summing' });
      if (o.csv) process.stdout.write(statementCsv(s));
      else if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
      else process.stdout.write(statementTable(s));
    });
}
