// `fapiao tenant create|list|update` and `fapiao apikey create|list|revoke`: thin commands over the tenant service.
import { Command, Option } from 'commander';
import { withAdmin, type LoadConfig } from '../../../cli/admin-context.ts';
import { cliActor } from '../../../cli/cli-actor.ts';
import type { TenantView, UpdateTenantInput } from '../app/tenant-update.ts';
import type { ApiKeyRecord } from '../storage/tenant-contract.ts';
import { SIGNING_ALGORITHMS } from '../../../shared/signing.ts';

export function tenantCommands(loadConfig: LoadConfig): Command {
  const tenant = new Command('tenant').description('manage tenants (sellers)');
  tenant
    .command('create')
    .description('create a tenant and print its first API key (shown once; it has every scope)')
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
    .addOption(new Option('--signing-algorithm <alg>', 'sign its invoices with this algorithm (the international profile: ECDSA-P256 or Ed25519); default the server\'s (signing.algorithm)').choices([...SIGNING_ALGORITHMS]))
    .addOption(new Option('--json', 'print JSON'))
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const s = (k: string) => (typeof o[k] === 'string' ? o[k] : undefined);
      const out = await withAdmin(loadConfig, (ctx) =>
        ctx.services.tenants.create({
          name: s('name')!, taxId: s('taxId')!, regionCode: s('region')!,
          ...(s('channel') ? { channel: s('channel') } : {}),
          ...(s('address') ? { address: s('address') } : {}),
          ...(s('phone') ? { phone: s('phone') } : {}),
          ...(s('bankName') ? { bankName: s('bankName') } : {}),
          ...(s('bankAccount') ? { bankAccount: s('bankAccount') } : {}),
          ...(s('rates') ? { allowedRates: s('rates')!.split(',') } : {}),
          ...(s('quota') ? { monthlyQuota: s('quota') } : {}),
          ...(s('signingAlgorithm') ? { signingAlgorithm: s('signingAlgorithm') } : {}),
        }, cliActor()),
      );
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ tenant: out.tenant, apiKey: out.apiKey })}\n`);
      } else {
        // Loaded already: the admin context uses the tenant service.
        const { ALL_SCOPES } = await import('../app/tenant-service.ts');
        process.stdout.write(
          `tenant  ${out.tenant.id}  ${out.tenant.name}\napi key ${out.apiKey}\n` +
            `(the key is shown once; store it now. It has every scope: ${ALL_SCOPES.join(', ')}; ` +
            `make restricted keys with: fapiao apikey create --tenant ${out.tenant.id} --scopes …)\n`,
        );
      }
    });
  tenant
    .command('list')
    .description('list tenants')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const list = await withAdmin(loadConfig, (ctx) => ctx.services.tenants.listViews());
      if (o.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else for (const t of list) process.stdout.write(`${t.id}  ${t.taxId}  region ${t.regionCode}  ${quotaText(t)}${t.signingAlgorithm ? `  signs ${t.signingAlgorithm}` : ''}  ${t.name}\n`);
    });
  tenant
    .command('update')
    .description('change a tenant: monthly quota, region code, name, seller address, phone and bank, signing algorithm (audited)')
    .argument('<id>', 'tenant id')
    .option('--quota <amount|none>', 'monthly issuing quota on the amount excluding VAT; none = unlimited')
    .option('--region <code>', 'two-digit region code of later invoice numbers')
    .option('--name <name>')
    .option('--address <text>')
    .option('--phone <text>')
    .option('--bank-name <text>')
    .option('--bank-account <text>')
    .addOption(new Option('--signing-algorithm <alg|default>', 'sign later invoices with this algorithm; default = the server\'s (signing.algorithm)').choices([...SIGNING_ALGORITHMS, 'default']))
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
        ...(s('signingAlgorithm') !== undefined ? { signingAlgorithm: s('signingAlgorithm') === 'default' ? null : s('signingAlgorithm')! } : {}),
      };
      const { tenant: t, changed } = await withAdmin(loadConfig, (ctx) => ctx.services.tenants.update(id, input, cliActor()));
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

/** A key is revoked, else expired once its expiry has passed (as authentication judges it), else active. */
export function keyStatus(k: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt'>, now: string): 'active' | 'expired' | 'revoked' {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && k.expiresAt <= now) return 'expired';
  return 'active';
}

/** One row per key under a header; every row has the same columns, `-` where there is nothing to say. */
export function formatKeys(keys: readonly ApiKeyRecord[], now: string): string {
  if (keys.length === 0) return 'no API keys\n';
  const rows = [
    ['KEY ID', 'STATUS', 'EXPIRES', 'REVOKED', 'SCOPES'],
    ...keys.map((k) => [k.id, keyStatus(k, now), k.expiresAt ?? 'never', k.revokedAt ?? '-', k.scopes.join(',')]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
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
      const expires = o.expiresAt === undefined ? undefined : new Date(o.expiresAt);
      if (expires && Number.isNaN(expires.getTime())) throw new Error('--expires-at must be an ISO 8601 time, e.g. 2027-01-01 or 2027-01-01T08:00:00+08:00');
      const { record, secret } = await withAdmin(loadConfig, (ctx) =>
        ctx.services.tenants.createApiKey(o.tenant, {
          ...(o.scopes ? { scopes: o.scopes.split(',') } : {}),
          ...(expires ? { expiresAt: expires.toISOString() } : {}),
        }, cliActor()),
      );
      process.stdout.write(`key id  ${record.id}\nscopes  ${record.scopes.join(',')}\napi key ${secret}\n(the key is shown once; store it now)\n`);
    });
  apikey
    .command('list')
    .description("list a tenant's keys (never their secrets): status active, expired or revoked, and expiry")
    .requiredOption('--tenant <id>')
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; json?: boolean }) => {
      const keys = await withAdmin(loadConfig, async (ctx) => {
        await ctx.services.tenants.getOrThrow(o.tenant);
        return ctx.services.tenants.listApiKeys(o.tenant);
      });
      const now = new Date().toISOString();
      if (o.json) process.stdout.write(`${JSON.stringify(keys.map((k) => ({ ...k, status: keyStatus(k, now) })))}\n`);
      else process.stdout.write(formatKeys(keys, now));
    });
  apikey
    .command('revoke')
    .description('revoke an API key')
    .requiredOption('--tenant <id>')
    .argument('<keyId>')
    .action(async (keyId: string, o: { tenant: string }) => {
      await withAdmin(loadConfig, (ctx) => ctx.services.tenants.revokeApiKey(o.tenant, keyId, cliActor()));
      process.stdout.write(`revoked ${keyId}\n`);
    });
  return apikey;
}
