// `fapiao keys rotate|rotate-data|rotate-master|hsm-init|status`: rotation of the invoice signing key, and key rotation
// for the buyer's personal data at rest. Safe while
// servers run: a rotation is one transaction; re-encryption (`--wait`) is row-by-row compare-and-set, the same as the
// servers' background job, which also picks the work up by itself.
import { Command, InvalidArgumentError, Option } from 'commander';
import { openHsmToken } from '../../../platform/crypto/master-keys.ts';
import { hsmKeyLabel } from '../../../platform/crypto/pkcs11-master-key.ts';
import { withAdmin, type LoadConfig } from '../../../cli/admin-context.ts';
import type { DataKeyAlgorithm, TenantDataKeys } from '../storage/data-keys.ts';
import { cliActor } from '../../../cli/cli-actor.ts';
import { endProgressLine, progressLine } from '../../../cli/progress.ts';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../../shared/signing.ts';

function formatStatus(s: TenantDataKeys): string {
  const keys = s.keys.map((k) => {
    const rows = k.rows ? `  rows ${k.rows.invoices} invoices, ${k.rows.idempotency} idempotency` : '';
    return `  v${k.version}  ${k.alg.padEnd(11)}  ${k.status.padEnd(8)}  master v${k.masterVersion}  ${k.createdAt}${rows}`;
  });
  // A tenant's first data key is made by its first write, i.e. its first invoice (platform/storage/field-keys.ts), or a rotation.
  if (s.keys.length === 0) return `${s.tenantId}  no data key yet (made with its first invoice, or by keys rotate-data)\n`;
  const todo = s.pending === 0 ? 'done' : `${s.pending} rows to re-encrypt`;
  return `${s.tenantId}  ${todo}\n${keys.join('\n')}\n`;
}

export function keyCommands(loadConfig: LoadConfig): Command {
  const keys = new Command('keys').description('the signing keys and the keys of personal data at rest: rotate them and the master key, show status');

  keys
    .command('rotate-data')
    .description('new data-key version for a tenant (or every tenant); older rows are re-encrypted in the background (audited)')
    .option('--tenant <id>', 'one tenant')
    .option('--all', 'every tenant')
    .addOption(new Option('--algorithm <alg>', 'algorithm of the new key (default: config fields.algorithm)').choices(['aes-256-gcm', 'sm4-gcm']))
    .option('--wait', 're-encrypt the older rows now, in the foreground, with progress (servers do it anyway)')
    .option('--json', 'print JSON')
    .action(async (o: { tenant?: string; all?: boolean; algorithm?: DataKeyAlgorithm; wait?: boolean; json?: boolean }) => {
      if ((o.tenant === undefined) === (o.all === undefined)) throw new Error('give exactly one of --tenant <id> and --all');
      const opts = o.algorithm ? { algorithm: o.algorithm } : {};
      await withAdmin(loadConfig, async (ctx) => {
        const rotated = o.tenant !== undefined
          ? [{ tenantId: o.tenant, key: await ctx.services.dataKeys.rotate(o.tenant, opts, cliActor()) }]
          : await ctx.services.dataKeys.rotateAll(opts, cliActor(), (done, total, id) => progressLine(`rotated ${done}/${total} tenants (${id})`));
        if (o.all) endProgressLine();
        if (o.json) process.stdout.write(`${JSON.stringify(rotated)}\n`);
        else for (const r of rotated) process.stdout.write(`${r.tenantId}  now v${r.key.version} (${r.key.alg})\n`);
        if (!o.wait) return;
        const result = await ctx.services.dataKeys.reencryptUntilDone(200, (_b, t) => progressLine(`re-encrypted ${t.moved} rows (${t.failed} did not open)`));
        endProgressLine();
        process.stderr.write(`re-encryption done: ${result.moved} rows moved, ${result.failed} did not open\n`);
        if (result.failed > 0) process.exitCode = 1;
      });
    });

  keys
    .command('rotate')
    .description('new signing key for invoices (one algorithm: SM2 by default); the active one of that algorithm is retired and stays published, so what it signed still verifies (audited; servers switch at their next start)')
    .addOption(new Option('--alg <alg>', 'the algorithm whose key is rotated').choices([...SIGNING_ALGORITHMS]).default('SM2'))
    .option('--json', 'print JSON')
    .action(async (o: { alg: SigningAlgorithm; json?: boolean }) => {
      const r = await withAdmin(loadConfig, (ctx) => ctx.services.keys.rotate(cliActor(), o.alg), { working: `making a ${o.alg} signing key` });
      if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stdout.write(`signing key ${r.keyId} is active${r.retired.length ? `; retired ${r.retired.join(', ')}` : ''}; restart the servers to sign with it\n`);
    });

  keys
    .command('rotate-master')
    .description('re-wrap every data key, index key and signing key under the configured current master key (one transaction; audited)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await withAdmin(loadConfig, (ctx) => ctx.services.dataKeys.rotateMaster(cliActor()), { working: 're-wrapping keys' });
      if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stdout.write(`master v${r.masterVersion}: re-wrapped ${r.dataKeys} data keys, ${r.indexKeys} index keys, ${r.signingKeys} signing keys\n`);
    });

  keys
    .command('hsm-init')
    .description('generate the master key of a version inside the HSM token (AES-256, sensitive, never extractable); refuses if it exists')
    .option('--version <n>', 'master-key version (default: masterKeyVersion)', (v) => {
      if (!/^[1-9][0-9]{0,9}$/.test(v)) throw new InvalidArgumentError('a positive integer');
      return Number(v);
    })
    .action(async (o: { version?: number }) => {
      const config = loadConfig();
      const version = o.version ?? config.masterKeyVersion;
      const token = openHsmToken(config);
      try {
        token.createKey(version);
        const a = token.keyAttributes(version);
        process.stdout.write(`made ${hsmKeyLabel(config.hsm.keyLabel, version)} in the token: AES-${a.valueLen * 8}, sensitive ${a.sensitive}, extractable ${a.extractable}\n`);
      } finally {
        token.close();
      }
    });

  keys
    .command('status')
    .description('data keys of every tenant (version, algorithm, status, master version) and re-encryption progress')
    .option('--tenant <id>', 'one tenant')
    .option('--json', 'print JSON')
    .action(async (o: { tenant?: string; json?: boolean }) => {
      const list = await withAdmin(
        loadConfig,
        async (ctx) => (o.tenant !== undefined ? [await ctx.services.dataKeys.status(o.tenant)] : ctx.services.dataKeys.statusAll()),
        { working: 'counting rows per key' },
      );
      if (o.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else for (const s of list) process.stdout.write(formatStatus(s));
    });

  return keys;
}
