import { Command, Option } from 'commander';
import type { Config } from '../config/config.ts';
import { createAdminContext, type AdminContext } from '../app.ts';
import { cliActor } from './cli-actor.ts';

type LoadConfig = () => Readonly<Config>;

async function withTenants<T>(loadConfig: LoadConfig, fn: (ctx: AdminContext) => Promise<T>): Promise<T> {
  const ctx = await createAdminContext(loadConfig());
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

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
    .addOption(new Option('--json', 'print JSON'))
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const s = (k: string) => (typeof o[k] === 'string' ? o[k] : undefined);
      const out = await withTenants(loadConfig, (ctx) =>
        ctx.tenants.create({
          name: s('name')!, taxId: s('taxId')!, regionCode: s('region')!,
          ...(s('channel') ? { channel: s('channel') } : {}),
          ...(s('address') ? { address: s('address') } : {}),
          ...(s('phone') ? { phone: s('phone') } : {}),
          ...(s('bankName') ? { bankName: s('bankName') } : {}),
          ...(s('bankAccount') ? { bankAccount: s('bankAccount') } : {}),
          ...(s('rates') ? { allowedRates: s('rates')!.split(',') } : {}),
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
      const list = await withTenants(loadConfig, (ctx) => ctx.tenants.list());
      if (o.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else for (const t of list) process.stdout.write(`${t.id}  ${t.taxId}  region ${t.regionCode}  ${t.name}\n`);
    });
  return tenant;
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
      const { record, secret } = await withTenants(loadConfig, (ctx) =>
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
      const keys = await withTenants(loadConfig, (ctx) => ctx.tenants.listApiKeys(o.tenant));
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
      await withTenants(loadConfig, (ctx) => ctx.tenants.revokeApiKey(o.tenant, keyId, cliActor()));
      process.stdout.write(`revoked ${keyId}\n`);
    });
  return apikey;
}
