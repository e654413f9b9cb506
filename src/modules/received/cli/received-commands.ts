// `fapiao received list|show|book|select`: the invoices addressed to a tenant by other tenants of this server, and
// its own status of each (入账, 用途勾选). Thin commands over the received use cases, audited as `cli:<os user>`.
import { Command, Option } from 'commander';
import { withAdmin, type LoadConfig } from '../../../cli/admin-context.ts';
import { cliActor } from '../../../cli/cli-actor.ts';
import type { ReceivedInvoice } from '../app/received-service.ts';

function formatList(items: readonly ReceivedInvoice[]): string {
  if (items.length === 0) return 'no received invoices\n';
  const rows = [['NUMBER', 'ISSUED', 'SELLER TAX ID', 'TOTAL', 'STATUS', 'BOOKED', 'SELECTED', 'SELLER'],
    ...items.map((r) => [r.invoice.number, r.invoice.issueDate, r.invoice.seller.taxId ?? '-', r.invoice.totals.total, r.invoice.status,
      r.status.booked ? 'yes' : 'no', r.status.deductionSelected ? 'yes' : 'no', r.invoice.seller.name])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

function formatOne(r: ReceivedInvoice): string {
  const s = r.status;
  return `${r.invoice.number}  ${r.invoice.kind} ${r.invoice.type}  issued ${r.invoice.issueDate}  total ${r.invoice.totals.total}  ${r.invoice.status}\n` +
    `seller    ${r.invoice.seller.name} (${r.invoice.seller.taxId ?? '-'})\n` +
    `booked    ${s.booked ? `yes (${s.bookedAt ?? ''})` : 'no'}\n` +
    `selected  ${s.deductionSelected ? `yes (${s.deductionSelectedAt ?? ''})` : 'no'}\n`;
}

const tenantOption = () => new Option('--tenant <id>', 'the buyer tenant').makeOptionMandatory();
const json = () => new Option('--json', 'print JSON');

export function receivedCommands(loadConfig: LoadConfig): Command {
  const cmd = new Command('received').description('invoices received from other tenants of this server: list, show, book (入账), select (用途勾选)');

  cmd.command('list')
    .description('received invoices, newest first')
    .addOption(tenantOption())
    .option('--seller-tax-id <id>', 'only this seller\'s')
    .addOption(new Option('--booked <yes|no>', 'only booked or not booked').choices(['yes', 'no']))
    .addOption(new Option('--selected <yes|no>', 'only selected or not selected for deduction').choices(['yes', 'no']))
    .option('--limit <n>', 'page size')
    .option('--cursor <c>', 'the next cursor a previous page printed')
    .addOption(json())
    .action(async (o: { tenant: string; sellerTaxId?: string; booked?: string; selected?: string; limit?: string; cursor?: string; json?: boolean }) => {
      if (o.limit !== undefined && !/^[1-9][0-9]{0,3}$/.test(o.limit)) throw new Error('--limit must be a number from 1 to 9999');
      const page = await withAdmin(loadConfig, async (ctx) => ctx.services.received.list(await ctx.services.tenants.getOrThrow(o.tenant), {
        ...(o.sellerTaxId === undefined ? {} : { sellerTaxId: o.sellerTaxId }),
        ...(o.booked === undefined ? {} : { booked: o.booked === 'yes' }),
        ...(o.selected === undefined ? {} : { deductionSelected: o.selected === 'yes' }),
        ...(o.cursor === undefined ? {} : { cursor: o.cursor }),
        ...(o.limit === undefined ? {} : { limit: Number(o.limit) }),
      }));
      if (o.json) process.stdout.write(`${JSON.stringify({ items: page.items.map((r) => ({ number: r.invoice.number, seller: r.invoice.seller, totals: r.invoice.totals, status: r.invoice.status, received: r.status })), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) })}\n`);
      else process.stdout.write(formatList(page.items) + (page.nextCursor ? `next: --cursor ${page.nextCursor}\n` : ''));
    });

  cmd.command('show')
    .description('one received invoice with the tenant\'s status')
    .addOption(tenantOption())
    .argument('<number>', 'invoice number')
    .addOption(json())
    .action(async (number: string, o: { tenant: string; json?: boolean }) => {
      const r = await withAdmin(loadConfig, async (ctx) => ctx.services.received.get(await ctx.services.tenants.getOrThrow(o.tenant), number));
      process.stdout.write(o.json ? `${JSON.stringify({ number: r.invoice.number, seller: r.invoice.seller, totals: r.invoice.totals, status: r.invoice.status, received: r.status })}\n` : formatOne(r));
    });

  for (const [name, field, what] of [['book', 'booked', 'book (入账)'], ['select', 'deductionSelected', 'select for deduction (用途勾选)']] as const) {
    cmd.command(name)
      .description(`${what} a received invoice; --undo undoes it (audited)`)
      .addOption(tenantOption())
      .argument('<number>', 'invoice number')
      .option('--undo', `undo: not ${field === 'booked' ? 'booked' : 'selected'}`)
      .addOption(json())
      .action(async (number: string, o: { tenant: string; undo?: boolean; json?: boolean }) => {
        const r = await withAdmin(loadConfig, async (ctx) =>
          ctx.services.received.update(await ctx.services.tenants.getOrThrow(o.tenant), number, { [field]: !o.undo }, cliActor()));
        process.stdout.write(o.json ? `${JSON.stringify({ number: r.invoice.number, received: r.status })}\n` : formatOne(r));
      });
  }
  return cmd;
}
