// `fapiao backup --out FILE` and `fapiao restore FILE [--force] [--master-key-file KEY]` (src/ops/backup/). Progress
// on stderr once the work has taken a second; the result on stdout.
import { Command } from 'commander';
import type { Config } from '../../config/config.ts';
import { startMeter } from '../../cli/progress.ts';

type LoadConfig = () => Readonly<Config>;

function amount(done: number, total: number | undefined, unit: 'pages' | 'bytes'): string {
  const fmt = (n: number) => (unit === 'bytes' ? `${Math.round(n / 1048576)} MiB` : `${n} pages`);
  if (total === undefined || total === 0) return fmt(done);
  return `${fmt(done)} of ${fmt(total)} (${Math.floor((100 * done) / total)} %)`;
}

export function backupCommand(loadConfig: LoadConfig): Command {
  return new Command('backup')
    .description('write an online, consistent backup (database, admin token, TLS files) encrypted under the master key; keep the master key apart from it')
    .requiredOption('--out <file>', 'the archive to write (never overwritten)')
    .action(async (o: { out: string }) => {
      const config = loadConfig();
      const { createBackup } = await import('../backup/backup.ts');
      const meter = startMeter();
      try {
        const r = await createBackup(config, { out: o.out, onProgress: (p) => meter.tick(`${p.phase}: ${amount(p.done, p.total, p.unit)}`) });
        meter.end();
        process.stdout.write(`wrote ${r.out}: ${r.manifest.engine} database, ${r.manifest.files.length} files, ${r.bytes} bytes, created ${r.manifest.createdAt}\n`);
      } finally {
        meter.end();
      }
    });
}

export function restoreCommand(loadConfig: LoadConfig): Command {
  return new Command('restore')
    .description('restore a backup into a fresh data directory (and an empty PostgreSQL database), verified before anything is written')
    .argument('<file>', 'the archive written by fapiao backup')
    .option('--force', 'restore into a non-empty data directory, replacing the files the archive holds')
    .option('--master-key-file <file>', 'the 32-byte master key the archive was written under (copied into the data directory); else FAPIAO_MASTER_KEY')
    .action(async (file: string, o: { force?: boolean; masterKeyFile?: string }) => {
      const config = loadConfig();
      const { restoreBackup } = await import('../backup/restore.ts');
      const meter = startMeter();
      try {
        const r = await restoreBackup(config, {
          file,
          ...(o.force ? { force: true } : {}),
          ...(o.masterKeyFile ? { masterKeyFile: o.masterKeyFile } : {}),
          onProgress: (p) => meter.tick(`${p.phase}: ${amount(p.done, p.total, p.unit)}`),
        });
        meter.end();
        process.stdout.write(`restored ${r.manifest.engine} backup of ${r.manifest.createdAt} (server ${r.manifest.serverVersion}) into ${r.dataDir}\n`);
        process.stdout.write(`database: ${r.database}\n`);
        for (const f of r.files) process.stdout.write(`file: ${f}\n`);
      } finally {
        meter.end();
      }
    });
}
