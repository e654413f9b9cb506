import { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { createAdminContext } from '../app.ts';
import { initDataDir } from '../setup.ts';

type LoadConfig = () => Readonly<Config>;

export function initCommand(loadConfig: LoadConfig): Command {
  return new Command('init')
    .description('create the data directory: master key, development CA and certificates, database, signing key')
    .action(async () => {
      const config = loadConfig();
      const report = await initDataDir(config);
      const ctx = await createAdminContext(config);
      await ctx.close();
      for (const c of report.created) process.stdout.write(`created ${c}\n`);
      for (const k of report.kept) process.stdout.write(`kept    ${k}\n`);
      process.stdout.write(`data directory: ${config.dataDir}\ndatabase: ${config.databaseUrl.startsWith('sqlite:') ? config.databaseUrl : 'postgres'}\n`);
    });
}

export function migrateCommand(loadConfig: LoadConfig): Command {
  return new Command('migrate').description('apply pending database migrations').action(async () => {
    const config = loadConfig();
    const ctx = await createAdminContext(config);
    try {
      const results = await ctx.storage.migrate();
      for (const r of results) process.stdout.write(`${r.status.padEnd(16)} ${r.name}\n`);
    } finally {
      await ctx.close();
    }
  });
}
