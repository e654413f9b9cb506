// `fapiao audit verify|export|list|purge`: the audit log's hash chain, checked and exported by the operator.
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { Command, Option } from 'commander';
import { withAdmin, type LoadConfig } from '../../../cli/admin-context.ts';
import type { AuditEntry } from '../storage/audit-contract.ts';
import { cliActor } from '../../../cli/cli-actor.ts';
import { REQUEST_ID_PATTERN } from '../../../platform/http/request-id.ts';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
    return n;
  };
}

function requestId(v: string): string {
  if (!new RegExp(REQUEST_ID_PATTERN).test(v)) throw new Error('--request-id is 1-128 characters of A-Z a-z 0-9 . _ ~ : / + = -');
  return v;
}

function formatEntry(e: AuditEntry): string {
  const who = e.ip ? `${e.actor}@${e.ip}` : e.actor;
  return `${String(e.seq).padStart(6)}  ${e.at}  ${e.outcome.padEnd(7)}  ${e.action}  ${e.target}  ${who}${e.tenantId ? `  tenant ${e.tenantId}` : ''}${e.requestId ? `  request ${e.requestId}` : ''}`;
}

export function auditCommands(loadConfig: LoadConfig): Command {
  const audit = new Command('audit').description('the hash-chained audit log: verify, export, list, purge');

  audit
    .command('verify')
    .description('recompute the hash chain; exit 1 naming the first entry that was edited, deleted or moved')
    .action(async () => {
      const result = await withAdmin(loadConfig, (ctx) => ctx.services.audit.verifyChain(), { working: 'verifying the hash chain' });
      if (result.ok) {
        process.stdout.write(`ok: ${result.count} entries, head ${result.head}\n`);
      } else {
        process.stdout.write(`FAIL at entry ${result.seq}: ${result.problem}\n`);
        process.exitCode = 1;
      }
    });

  audit
    .command('export')
    .description('write entries as JSON lines (oldest first); the export itself is audited')
    .option('--from <iso>', 'entries at or after this time (ISO 8601, or a YYYY-MM-DD UTC day)')
    .option('--to <iso>', 'entries before this time')
    .option('--tenant <id>', 'one tenant only')
    .option('--action <name>', 'one action only, e.g. invoice.issue')
    .addOption(new Option('--request-id <id>', 'the entries of one HTTP request (its X-Request-Id)').argParser(requestId))
    .option('--out <file>', 'write to this file (created private) instead of stdout')
    .action(async (o: { from?: string; to?: string; tenant?: string; action?: string; requestId?: string; out?: string }) => {
      const query = {
        ...(o.from ? { from: o.from } : {}),
        ...(o.to ? { to: o.to } : {}),
        ...(o.tenant ? { tenantId: o.tenant } : {}),
        ...(o.action ? { action: o.action } : {}),
        ...(o.requestId ? { requestId: o.requestId } : {}),
      };
      const out = o.out ? createWriteStream(o.out, { flags: 'wx', mode: 0o600 }) : process.stdout;
      // To stdout the entries are the output: no progress line between them.
      const count = await withAdmin(loadConfig, (ctx) => ctx.services.audit.exportJsonLines(out, query, cliActor()), o.out ? { working: 'exporting' } : {});
      if (o.out) {
        out.end();
        await finished(out);
        process.stderr.write(`exported ${count} entries to ${o.out}\n`);
      }
    });

  audit
    .command('list')
    .description('the newest entries, newest first')
    .addOption(new Option('--limit <n>', 'how many').argParser(positiveInt('--limit')).default(50))
    .option('--tenant <id>', 'one tenant only')
    .option('--action <name>', 'one action only')
    .addOption(new Option('--request-id <id>', 'the entries of one HTTP request (its X-Request-Id)').argParser(requestId))
    .option('--json', 'print JSON lines')
    .action(async (o: { limit: number; tenant?: string; action?: string; requestId?: string; json?: boolean }) => {
      const entries = await withAdmin(loadConfig, (ctx) =>
        ctx.services.audit.search({
          limit: o.limit, order: 'desc', ...(o.tenant ? { tenantId: o.tenant } : {}), ...(o.action ? { action: o.action } : {}),
          ...(o.requestId ? { requestId: o.requestId } : {}),
        }),
      );
      for (const e of entries) process.stdout.write(o.json ? `${JSON.stringify(e)}\n` : `${formatEntry(e)}\n`);
    });

  audit
    .command('purge')
    .description('delete entries older than a cutoff (never younger than 180 days); verification continues from a checkpoint')
    .option('--before <iso>', 'delete entries before this time')
    .option('--expired', 'delete entries older than the configured retention (audit.retentionDays, default 180)')
    .action(async (o: { before?: string; expired?: boolean }) => {
      if ((o.before === undefined) === (o.expired === undefined)) throw new Error('give exactly one of --before <iso> and --expired');
      const r = await withAdmin(
        loadConfig,
        (ctx) => (o.before !== undefined ? ctx.services.audit.purgeBefore(o.before, cliActor()) : ctx.services.audit.purgeExpired(cliActor())),
        { working: 'purging' },
      );
      process.stdout.write(r.purged > 0 && r.checkpoint ? `purged ${r.purged} entries through ${r.checkpoint.seq}\n` : 'nothing to purge\n');
    });

  return audit;
}
