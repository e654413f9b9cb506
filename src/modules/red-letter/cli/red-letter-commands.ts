// `fapiao red-letter file|list|show|confirm|reject|revoke`: thin commands over the red-letter use cases, acting as one
// tenant (`--tenant`), audited as `cli:<os user>`. Filing a form that needs no confirmation and confirming one issue
// the red invoice, so these commands open the server-role container (without listeners or jobs).
import { Command, Option } from 'commander';
import { withIssuing, type LoadConfig } from '../../../cli/admin-context.ts';
import { cliActor } from '../../../cli/cli-actor.ts';
import { FORM_STATES, STATE_LABELS, isFormState } from '../domain/form-states.ts';
import type { ReversalLineInput } from '../domain/reversal.ts';
import type { FormTransition, RedLetterForm } from '../storage/red-letter-repository.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `LINE[:quantity=Q][:amount=A]`, e.g. `1`, `2:quantity=1`, `3:amount=10.00`. */
export function parseLineSpec(spec: string): ReversalLineInput {
  const [no, ...parts] = spec.split(':');
  if (!/^[1-9][0-9]{0,5}$/.test(no ?? '')) throw new Error(`--line ${spec}: start with the blue line number, e.g. 1 or 1:quantity=2 or 1:amount=10.00`);
  const line: ReversalLineInput = { line: Number(no) };
  for (const part of parts) {
    const m = /^(quantity|amount)=([0-9]+(\.[0-9]+)?)$/.exec(part);
    if (!m) throw new Error(`--line ${spec}: "${part}" is not quantity=Q or amount=A`);
    line[m[1] as 'quantity' | 'amount'] = m[2]!;
  }
  return line;
}

/** One form as lines of text, as `show` prints it. */
export function formatForm(form: RedLetterForm, tenantId: string, label: (code: string) => string, history?: FormTransition[]): string {
  const rows: [string, string][] = [
    ['form', form.id],
    ['invoice', form.blueNumber],
    ['state', `${form.state} ${STATE_LABELS[form.state]}`],
    ['reason', `${form.reason} ${label(form.reason)}`],
    ['filed by', `${form.filedBy} (${form.filerTenantId === tenantId ? 'you' : 'the other party'})`],
    ['total', `${form.total} (amount ${form.amount}, tax ${form.tax})`],
    ...form.claims.map((c): [string, string] => [`line ${c.lineNo}`, `amount ${c.amount} tax ${c.tax}${c.quantity === undefined ? '' : ` quantity ${c.quantity}`}`]),
    ...(form.expiresAt ? [['expires', form.expiresAt] as [string, string]] : []),
    ...(form.redNumber ? [['red invoice', form.redNumber] as [string, string]] : []),
    ['filed', form.createdAt],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  let out = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
  if (history) out += 'history\n' + history.map((h) => `  ${h.at}  ${h.from} → ${h.to}  ${h.action} by ${h.party} (${h.actor})`).join('\n') + '\n';
  return out;
}

function formatList(forms: readonly RedLetterForm[], tenantId: string): string {
  if (forms.length === 0) return 'no forms\n';
  const rows = [['FORM', 'INVOICE', 'STATE', 'DIRECTION', 'TOTAL', 'RED INVOICE'],
    ...forms.map((f) => [f.id, f.blueNumber, f.state, f.filerTenantId === tenantId ? 'filed' : 'received', f.total, f.redNumber ?? '-'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

const tenantOption = () => new Option('--tenant <id>', 'the tenant acting (the seller or the buyer of the invoice)').makeOptionMandatory();
const json = () => new Option('--json', 'print JSON');

export function redLetterCommands(loadConfig: LoadConfig): Command {
  const cmd = new Command('red-letter').description('red-letter confirmation forms (红字发票信息确认单): file, list, show, confirm, reject, revoke');

  cmd.command('file')
    .description('file a form against an invoice: all that remains unreversed, or the lines named')
    .addOption(tenantOption())
    .requiredOption('--invoice <number>', '20-digit number of the blue invoice')
    .requiredOption('--reason <code>', 'reason code (default list: 01 开票有误, 02 销货退回, 03 服务中止, 04 销售折让)')
    .option('--line <spec>', 'a line to reverse, LINE[:quantity=Q][:amount=A]; repeat for several', collect, [])
    .option('--idempotency-key <key>', 'the same key answers the form it filed')
    .addOption(json())
    .action(async (o: { tenant: string; invoice: string; reason: string; line: string[]; idempotencyKey?: string; json?: boolean }) => {
      const lines = o.line.map(parseLineSpec);
      const { outcome, form, text } = await withIssuing(loadConfig, async (ctx) => {
        const tenant = await ctx.services.tenants.getOrThrow(o.tenant);
        const r = await ctx.services.redLetter.file(tenant, { invoiceNumber: o.invoice, reason: o.reason, ...(lines.length > 0 ? { lines } : {}) }, {
          by: cliActor(), ...(o.idempotencyKey === undefined ? {} : { idempotencyKey: o.idempotencyKey }),
        });
        return { ...r, text: formatForm(r.form, tenant.id, (c) => ctx.services.redLetter.reasonLabel(c)) };
      });
      if (o.json) process.stdout.write(`${JSON.stringify({ outcome, form })}\n`);
      else process.stdout.write(`${outcome === 'created' ? 'filed' : 'already filed'}\n${text}`);
    });

  cmd.command('list')
    .description('forms the tenant filed or received, newest first')
    .addOption(tenantOption())
    .addOption(new Option('--state <code>', 'only forms in this state').choices([...FORM_STATES]))
    .option('--invoice <number>', 'only forms against this invoice')
    .addOption(new Option('--direction <d>', 'filed by the tenant, or received from the other party').choices(['filed', 'received']))
    .option('--limit <n>', 'page size')
    .option('--cursor <id>', 'the next cursor a previous page printed')
    .addOption(json())
    .action(async (o: { tenant: string; state?: string; invoice?: string; direction?: 'filed' | 'received'; limit?: string; cursor?: string; json?: boolean }) => {
      if (o.limit !== undefined && !/^[1-9][0-9]{0,3}$/.test(o.limit)) throw new Error('--limit must be a number from 1 to 9999');
      const page = await withIssuing(loadConfig, async (ctx) => {
        const tenant = await ctx.services.tenants.getOrThrow(o.tenant);
        return ctx.services.redLetter.list(tenant, {
          ...(o.state !== undefined && isFormState(o.state) ? { state: o.state } : {}),
          ...(o.invoice === undefined ? {} : { invoiceNumber: o.invoice }),
          ...(o.direction === undefined ? {} : { direction: o.direction }),
          ...(o.cursor === undefined ? {} : { cursor: o.cursor }),
          ...(o.limit === undefined ? {} : { limit: Number(o.limit) }),
        });
      });
      if (o.json) process.stdout.write(`${JSON.stringify(page)}\n`);
      else process.stdout.write(formatList(page.items, o.tenant) + (page.next ? `next: --cursor ${page.next}\n` : ''));
    });

  cmd.command('show')
    .description('one form with its history of moves')
    .addOption(tenantOption())
    .argument('<form>', 'form number')
    .addOption(json())
    .action(async (id: string, o: { tenant: string; json?: boolean }) => {
      const out = await withIssuing(loadConfig, async (ctx) => {
        const tenant = await ctx.services.tenants.getOrThrow(o.tenant);
        const r = await ctx.services.redLetter.get(tenant, id);
        return { ...r, text: formatForm(r.form, tenant.id, (c) => ctx.services.redLetter.reasonLabel(c), r.history) };
      });
      process.stdout.write(o.json ? `${JSON.stringify({ form: out.form, history: out.history })}\n` : out.text);
    });

  for (const action of ['confirm', 'reject', 'revoke'] as const) {
    cmd.command(action)
      .description(action === 'revoke' ? 'revoke a form the tenant filed' : `${action} a form the other party filed (within 72 hours)`)
      .addOption(tenantOption())
      .argument('<form>', 'form number')
      .addOption(json())
      .action(async (id: string, o: { tenant: string; json?: boolean }) => {
        const out = await withIssuing(loadConfig, async (ctx) => {
          const tenant = await ctx.services.tenants.getOrThrow(o.tenant);
          const form = await ctx.services.redLetter[action](tenant, id, cliActor());
          return { form, text: formatForm(form, tenant.id, (c) => ctx.services.redLetter.reasonLabel(c)) };
        });
        process.stdout.write(o.json ? `${JSON.stringify({ form: out.form })}\n` : out.text);
      });
  }
  return cmd;
}
