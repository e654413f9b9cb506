import { Command, Option } from 'commander';
import { withAdmin, type LoadConfig } from './admin-context.ts';
import { cliActor } from './cli-actor.ts';
import type { TenantView, UpdateTenantInput } from '../services/tenant-update.ts';


export function tenantCommands(loadConfig: LoadConfig): Command {
  const tenant = new Command('tenant').description('manage tenants (sellers)');
  tenant
    .command('create')
    .description('create a tenant and print its first API key (shown once)')
    .requiredOption('--name <name>', 'seller name, as printed on invoices')
    .requiredOption('--tax-id <uscc>', 'unified social credit code')
    .requiredOption('--region <code>', 'two-digit region code (e.g. 31 Shanghai)')
    .option('--channel <digit>', 'issuing channel digit of the invoice numbers')
    .option('--address <text>')
    .option('--phone <text>')
    .option('--bank-name <text>')
    .option('--bank-account <text>')
    .option('--rates <list>', 'comma-separated tax rates this tenant may use')
    .option('--quota <amount>', 'monthly issuing quota (授信额度) on the amount excluding VAT; default unlimited')
    .addOption(new Option('--json', 'print JSON'))
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const s = (k: string) => (typeof o[k] === 'string' ? o[k] : undefined);
      const out = await withAdmin(loadConfig, (ctx) =>
        ctx.tenants.create({
          name: s('name')!, taxId: s('taxId')!, regionCode: s('region')!,
          ...(s('channel') ? { channel: s('channel') } : {}),
          ...(s('address') ? { address: s('address') } : {}),
          ...(s('phone') ? { phone: s('phone') } : {}),
          ...(s('bankName') ? { bankName: s('bankName') } : {}),
          ...(s('bankAccount') ? { bankAccount: s('bankAccount') } : {}),
          ...(s('rates') ? { allowedRates: s('rates')!.split(',') } : {}),
          ...(s('quota') ? { monthlyQuota: s('quota') } : {}),
        }, cliActor()),
      );
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ tenant: out.tenant, apiKey: out.apiKey })}\n`);
      } else {
        process.stdout.write(`tenant  ${out.tenant.id}  ${out.tenant.name}\napi key ${out.apiKey}\n(the key is shown once; store it now)\n`);
      }
    });
  tenant
    .command('list')
    .description('list tenants')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await withAdmin(loadConfig, (ctx) => ctx.tenants.listViews());
      if (o.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else for (const t of list) process.stdout.write(`${t.id}  ${t.taxId}  region ${t.regionCode}  ${quotaText(t)}  ${t.name}\n`);
    });
  tenant
    .command('update')
    .description('change a tenant: monthly quota, region code, name, seller address, phone and bank (audited)')
    .argument('<id>', 'tenant id')
    .option('--quota <amount|none>', 'monthly issuing quota on the amount excluding VAT; none = unlimited')
    .option('--region <code>', 'two-digit region code of later invoice numbers')
    .option('--name <name>')
    .option('--address <text>')
    .option('--phone <text>')
    .option('--bank-name <text>')
    .option('--bank-account <text>')
    .option('--json', 'print JSON')
    .action(async (id: string, o: Record<string, string | boolean | undefined>) => {
      const s = (k: string) => (typeof o[k] === 'string' ? o[k] : undefined);
      const input: UpdateTenantInput = {
        ...(s('quota') !== undefined ? { monthlyQuota: s('quota') === 'none' ? null : s('quota')! } : {}),
        ...(s('region') !== undefined ? { regionCode: s('region')! } : {}),
        ...(s('name') !== undefined ? { name: s('name')! } : {}),
        ...(s('address') !== undefined ? { address: s('address')! } : {}),
        ...(s('phone') !== undefined ? { phone: s('phone')! } : {}),
        ...(s('bankName') !== undefined ? { bankName: s('bankName')! } : {}),
        ...(s('bankAccount') !== undefined ? { bankAccount: s('bankAccount')! } : {}),
      };
      const { tenant: t, changed } = await withAdmin(loadConfig, (ctx) => ctx.tenants.update(id, input, cliActor()));
      if (o.json) process.stdout.write(`${JSON.stringify({ tenant: t, changed })}\n`);
      else process.stdout.write(`${t.id}  region ${t.regionCode}  ${quotaText(t)}  changed: ${changed.length > 0 ? changed.join(', ') : 'nothing'}\n`);
    });
  return tenant;
}

function quotaText(t: TenantView): string {
  const u = t.quotaUsage;
  return t.monthlyQuota === null
    ? `quota unlimited (used ${u.used} in ${u.period})`
    : `quota ${t.monthlyQuota} (used ${u.used}, remaining ${u.remaining ?? ''} in ${u.period})`;
}

export function apiKeyCommands(loadConfig: LoadConfig): Command {
  const apikey = new Command('apikey').description('manage API keys');
  apikey
    .command('create')
    .description('create an API key for a tenant (shown once)')
    .requiredOption('--tenant <id>')
    .option('--scopes <list>', 'comma-separated: invoices:issue,invoices:read,pii:read (default: invoices:issue,invoices:read)')
    .option('--expires-at <iso>', 'expiry, ISO 8601')
    .action(async (o: { tenant: string; scopes?: string; expiresAt?: string }) => {
      const { record, secret } = await withAdmin(loadConfig, (ctx) =>
        ctx.tenants.createApiKey(o.tenant, {
          ...(o.scopes ? { scopes: o.scopes.split(',') } : {}),
          ...(o.expiresAt ? { expiresAt: new Date(o.expiresAt).toISOString() } : {}),
        }, cliActor()),
      );
      process.stdout.write(`key id  ${record.id}\napi key ${secret}\n(the key is shown once; store it now)\n`);
    });
  apikey
    .command('list')
    .requiredOption('--tenant <id>')
    .action(async (o: { tenant: string }) => {
      const keys = await withAdmin(loadConfig, (ctx) => ctx.tenants.listApiKeys(o.tenant));
      for (const k of keys) {
        const state = k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt ? `expires ${k.expiresAt}` : 'active';
        process.stdout.write(`${k.id}  ${k.prefix}…  ${k.scopes.join(',')}  ${state}\n`);
      }
    });
  apikey
    .command('revoke')
    .description('revoke an API key')
    .requiredOption('--tenant <id>')
    .argument('<keyId>')
    .action(async (keyId: string, o: { tenant: string }) => {
      await withAdmin(loadConfig, (ctx) => ctx.tenants.revokeApiKey(o.tenant, keyId, cliActor()));
      process.stdout.write(`revoked ${keyId}\n`);
    });
  return apikey;
}
