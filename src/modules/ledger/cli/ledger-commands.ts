// `fapiao ledger verify|rotate-key|witness|witness-key` (docs/ledger.md): the operator's check of the stored log against
// what was published, rotation of the log's signing key, and a witness (C2SP tlog-witness) for this or any other log.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { withAdmin, type LoadConfig } from '../../../cli/admin-context.ts';
import { cliActor } from '../../../cli/cli-actor.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function ledgerCommands(loadConfig: LoadConfig): Command {
  const ledger = new Command('ledger').description('the tamper-evident log of every invoice: verify it, witness it');

  ledger
    .command('verify')
    .description('re-derive the tree from the stored leaves; compare every tile, bundle and the newest checkpoint; exit 1 naming each leaf at fault')
    .action(async () => {
      const { verifyLedger } = await import('../app/verify-ledger.ts');
      const report = await withAdmin(loadConfig, async (ctx) => {
        const keys = ctx.services.ledgerKeys;
        return verifyLedger(ctx.uow.read.ledger, keys.origin, await keys.verifiers());
      }, { working: 'verifying the ledger' });
      if (report.ok) {
        process.stdout.write(`ok: ${report.leaves} leaves, ${report.tiles} tiles, checkpoint of size ${report.checkpointSize}\n`);
        return;
      }
      for (const p of report.problems) process.stdout.write(`FAIL ${p.index !== undefined ? `at leaf ${p.index}` : 'tree'}: ${p.problem}\n`);
      process.exitCode = 1;
    });

  ledger
    .command('rotate-key')
    .description('new log key under the same name (the origin); the old one stays published and co-signs checkpoints for 7 days (audited)')
    .addOption(new Option('--alg <alg>', 'which of the log\'s keys: ed25519, or sm2 (with ledger.sm2Signature)').choices(['ed25519', 'sm2']).default('ed25519'))
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean; alg: 'ed25519' | 'sm2' }) => {
      const r = await withAdmin(loadConfig, (ctx) => {
        if (!ctx.services.ledgerKeys.algorithms.includes(o.alg)) throw new Error(`the log has no ${o.alg} key: set ledger.sm2Signature (FAPIAO_LEDGER_SM2=true) first`);
        return ctx.services.ledgerKeys.rotate(cliActor(), o.alg);
      }, { working: `rotating the log's ${o.alg} key` });
      if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stdout.write(`active:  ${r.active.verifierKey}\nretired: ${r.retired.verifierKey}\n`);
    });

  ledger
    .command('witness-key')
    .description('make a witness key (cosignature/v1): the signer key is written to FILE (mode 600), the verifier key printed')
    .argument('<name>', 'the witness\'s key name, e.g. witness.example.com')
    .argument('<file>', 'where to write the signer key')
    .action(async (name: string, file: string) => {
      const { generateNoteKey } = await import('../app/note-keys.ts');
      const { signerKey, verifierKey } = generateNoteKey(name, 'cosignature/v1');
      writeFileSync(file, `${signerKey}\n`, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
      process.stdout.write(`${verifierKey}\n`);
    });

  ledger
    .command('witness')
    .description('run a witness: cosign checkpoints of the configured logs that are consistent with the last one it cosigned')
    .requiredOption('--state-dir <dir>', 'where the witness keeps what it cosigned (one witness per directory)')
    .requiredOption('--key-file <file>', 'the witness\'s signer key (fapiao ledger witness-key)')
    .addOption(new Option('--log <origin=vkey>', 'a log to witness and its verifier key (repeat for more keys or logs)').argParser(collect).default([]))
    .option('--listen <host:port>', 'address to serve tlog-witness on', '127.0.0.1:7380')
    .action(async (o: { stateDir: string; keyFile: string; log: string[]; listen: string }) => {
      const m = /^(.+):(\d{1,5})$/.exec(o.listen);
      if (!m || Number(m[2]) > 65535) throw new Error('--listen is host:port');
      const byOrigin = new Map<string, string[]>();
      for (const l of o.log) {
        const at = l.indexOf('=');
        if (at <= 0) throw new Error('--log is <origin>=<verifier key>');
        byOrigin.set(l.slice(0, at), [...(byOrigin.get(l.slice(0, at)) ?? []), l.slice(at + 1)]);
      }
      if (byOrigin.size === 0) throw new Error('name at least one --log');
      const { startWitness } = await import('../witness/witness-server.ts');
      const running = await startWitness({
        host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]), stateDir: o.stateDir,
        signer: readFileSync(o.keyFile, 'utf8').trim(),
        logs: [...byOrigin].map(([origin, verifierKeys]) => ({ origin, verifierKeys })),
      });
      process.stdout.write(`${JSON.stringify({ url: running.url, verifierKey: running.verifierKey })}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void running.close().then(resolve);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });

  return ledger;
}
