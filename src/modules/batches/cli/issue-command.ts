// `fapiao issue FILE.jsonl|FILE.json|FILE.csv --tenant ID [--out results.jsonl]`: batch issuance from the command line,
// through the same use cases as POST /v1/invoice-batches (every item checked first, then issued through the issue
// writer), not over HTTP. A file of more than 1,000 invoices is sent as several batches. Progress on stderr; one
// result line per invoice in --out (externalId, file line, number or problem); a summary on stdout. Exit code 0 when
// every invoice was issued, 1 when any was refused.
import { readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Command, Option } from 'commander';
import type { LoadConfig } from '../../../cli/admin-context.ts';
import { cliActor } from '../../../cli/cli-actor.ts';
import { endProgressLine, progressLine } from '../../../cli/progress.ts';
import { withServer } from '../../../cli/server-context.ts';
import { AppError } from '../../../shared/errors.ts';
import { jsonArrayItems, parseCsv, parseJsonLines } from '../app/batch-input.ts';
import { MAX_BATCH_ITEMS, type SubmittedItem } from '../app/batch-service.ts';
import type { BatchFormat, BatchItem } from '../storage/batch-repository.ts';

type FileFormat = 'jsonl' | 'json' | 'csv';

function formatOf(file: string, given: FileFormat | undefined): FileFormat {
  if (given) return given;
  const ext = extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') return 'json';
  if (ext === '.csv') return 'csv';
  throw new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: 'name the file .jsonl, .json or .csv, or give --format' });
}

function readItems(text: string, format: FileFormat): SubmittedItem[] {
  if (format === 'jsonl') return parseJsonLines(text);
  if (format === 'csv') return parseCsv(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new AppError('MALFORMED_JSON', { detail: 'the file is not one JSON array', cause });
  }
  return jsonArrayItems(value);
}

const bar = (done: number, total: number) => {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
};

export function issueCommand(loadConfig: LoadConfig): Command {
  return new Command('issue')
    .description('issue the invoices of a JSON Lines, JSON or CSV file as batches (README "Batch issuance")')
    .argument('<file>', 'FILE.jsonl (one invoice per line), FILE.json (an array) or FILE.csv (one row per invoice line)')
    .requiredOption('--tenant <id>', 'the issuing tenant')
    .option('--out <file>', 'write one JSON line per invoice: externalId, line, number or problem')
    .addOption(new Option('--format <format>', 'the file format (default: from the extension)').choices(['jsonl', 'json', 'csv']))
    .action(async (file: string, opts: { tenant: string; out?: string; format?: FileFormat }) => {
      const format = formatOf(file, opts.format);
      const items = readItems(readFileSync(file, 'utf8'), format);
      if (items.length === 0) throw new AppError('BATCH_EMPTY', { detail: `${file} holds no invoice` });
      const batchFormat: BatchFormat = format === 'jsonl' ? 'ndjson' : format;
      const results = await withServer(loadConfig, async (ctx) => {
        const tenant = await ctx.services.tenants.getOrThrow(opts.tenant);
        const out: (BatchItem & { batchId: string })[] = [];
        for (let start = 0; start < items.length; start += MAX_BATCH_ITEMS) {
          const chunk = items.slice(start, start + MAX_BATCH_ITEMS);
          const accepted = await ctx.services.batches.submit(tenant, chunk, { format: batchFormat, by: cliActor() });
          const id = accepted.batch.id;
          const show = async () => {
            const v = await ctx.services.batches.get(tenant.id, id, { limit: 1 });
            const settled = v.counts.issued + v.counts.failed + v.counts.invalid;
            progressLine(`${id} ${bar(start + settled, items.length)} issued ${v.counts.issued}, failed ${v.counts.failed}, invalid ${v.counts.invalid}`);
          };
          await show();
          await ctx.services.batchJob.runUntilDone(tenant.id, id, show);
          let cursor: string | undefined;
          do {
            const page = await ctx.services.batches.get(tenant.id, id, cursor ? { cursor } : {});
            for (const item of page.items) out.push({ ...item, index: start + item.index, batchId: id });
            cursor = page.nextCursor;
          } while (cursor);
        }
        endProgressLine();
        return out;
      });
      if (opts.out) {
        writeFileSync(opts.out, results.map((r) => JSON.stringify({
          ...(r.externalId !== undefined ? { externalId: r.externalId } : {}), index: r.index, ...(r.line !== undefined ? { line: r.line } : {}),
          batchId: r.batchId, status: r.state, ...(r.number ? { number: r.number } : {}), ...(r.problem ? { problem: r.problem } : {}),
        })).join('\n') + '\n');
      }
      const issued = results.filter((r) => r.state === 'issued').length;
      const refused = results.length - issued;
      process.stdout.write(`${results.length} invoices: ${issued} issued, ${refused} refused${opts.out ? ` (results in ${opts.out})` : ''}\n`);
      for (const r of results.filter((x) => x.problem).slice(0, 10)) {
        process.stdout.write(`  ${r.line !== undefined ? `line ${r.line}` : `item ${r.index}`}${r.externalId ? ` (${r.externalId})` : ''}: ${r.problem!.code}: ${r.problem!.detail ?? r.problem!.title}\n`);
      }
      if (refused > 0) process.exitCode = 1;
    });
}
