// `fapiao init` and `fapiao migrate`. Their modules (key generation, development PKI, storage) are imported when the
// command runs, so that the CLI starts without them (cli/main.ts).
import { Command } from 'commander';
import type { Config } from '../../config/config.ts';
import { openAdmin } from '../../cli/admin-context.ts';
import { withProgress } from '../../cli/progress.ts';

type LoadConfig = () => Readonly<Config>;

export function initCommand(loadConfig: LoadConfig): Command {
  return new Command('init')
    .description('create the data directory: master key, development CA and certificates, database, signing key, ledger log key')
    .action(async () => {
      const config = loadConfig();
      const report = await withProgress('creating the data directory', async () => (await import('../setup.ts')).initDataDir(config));
      const ctx = await openAdmin(config);
      try {
        // The ledger's log keys and the signing keys (SM2, which OFD packages always use, and the configured
        // algorithm's), sealed under the master key (kept when there are some).
        await ctx.services.ledgerKeys.ensureKeys();
        await ctx.services.keys.activeKeyPair('SM2');
        if (config.signing.algorithm !== 'SM2') await ctx.services.keys.activeKeyPair(config.signing.algorithm);
      } finally {
        await ctx.close();
      }
      for (const c of report.created) process.stdout.write(`created ${c}\n`);
      for (const k of report.kept) process.stdout.write(`kept    ${k}\n`);
      process.stdout.write(`data directory: ${config.dataDir}\ndatabase: ${config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl : 'postgres'}\n`);
    });
}

export function migrateCommand(loadConfig: LoadConfig): Command {
  return new Command('migrate').description('apply pending database migrations').action(async () => {
    const ctx = await openAdmin(loadConfig());
    try {
      // The container migrated when it opened: these are the outcomes of that run.
      for (const r of ctx.migrations) process.stdout.write(`${r.status.padEnd(16)} ${r.name}\n`);
    } finally {
      await ctx.close();
    }
  });
}
