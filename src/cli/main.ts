// The `fapiao` command: thin commands over the same services as the API. Failures exit non-zero with one clear line.
import { Command, Option } from 'commander';
import { ConfigError, loadConfig } from '../config/config.ts';
import { isAppError } from '../shared/errors.ts';
import { serveCommand } from '../ops/cli/serve-command.ts';
import { verifyCommand } from '../modules/verification/cli/verify-command.ts';
import { clientCertCommand } from '../modules/tenants/cli/client-cert-command.ts';
import { initCommand, migrateCommand } from '../ops/cli/init-command.ts';
import { apiKeyCommands, tenantCommands } from '../modules/tenants/cli/tenant-commands.ts';
import { auditCommands } from '../modules/audit/cli/audit-commands.ts';
import { doctorCommand } from '../ops/cli/doctor-command.ts';
import { keyCommands } from '../modules/keys/cli/key-commands.ts';
import { backupCommand, restoreCommand } from '../ops/cli/backup-commands.ts';
import { ledgerCommands } from '../modules/ledger/cli/ledger-commands.ts';
import { reconcileCommand, statementCommand } from '../modules/reconciliation/cli/reconcile-commands.ts';
import { redLetterCommands } from '../modules/red-letter/cli/red-letter-commands.ts';
import { receivedCommands } from '../modules/received/cli/received-commands.ts';
import { issueCommand } from '../modules/batches/cli/issue-command.ts';

const program = new Command('fapiao')
  .description('Fapiao: electronic-invoice (数电票) server')
  .version('0.1.0')
  .showHelpAfterError()
  .addOption(new Option('--data-dir <dir>', 'data directory (default ./data, or FAPIAO_DATA_DIR)'));

/** Loads config, letting --data-dir stand in for FAPIAO_DATA_DIR. */
export function config() {
  const dataDir = program.opts<{ dataDir?: string }>().dataDir;
  return loadConfig(dataDir ? { ...process.env, FAPIAO_DATA_DIR: dataDir } : process.env);
}

program.addCommand(initCommand(config));
program.addCommand(serveCommand(config));
program.addCommand(migrateCommand(config));
program.addCommand(tenantCommands(config));
program.addCommand(apiKeyCommands(config));
program.addCommand(verifyCommand(config));
program.addCommand(clientCertCommand(config));
program.addCommand(auditCommands(config));
program.addCommand(doctorCommand(config));
program.addCommand(keyCommands(config));
program.addCommand(backupCommand(config));
program.addCommand(restoreCommand(config));
program.addCommand(ledgerCommands(config));
program.addCommand(reconcileCommand(config));
program.addCommand(statementCommand(config));
program.addCommand(redLetterCommands(config));
program.addCommand(receivedCommands(config));
program.addCommand(issueCommand(config));

// `fapiao … | head` closes the pipe early: that is the reader's choice, not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`fapiao: ${err.message}\n`);
    process.exit(2);
  }
  if (isAppError(err)) {
    const fields = err.errors?.map((e) => `${e.path}: ${e.message}`).join('; ');
    process.stderr.write(`fapiao: ${err.code}: ${err.detail ?? err.title}${fields ? ` (${fields})` : ''}\n`);
    process.exit(1);
  }
  process.stderr.write(`fapiao: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
