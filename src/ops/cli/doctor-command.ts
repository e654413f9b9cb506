// `fapiao doctor [--live] [--url name=url …] [--nftables] [--json]`: the configuration (and, with --live, the running
// server) against the security policy of docs/design.md §5. One line per finding, which listeners are public (reachable
// beyond loopback), a summary; exit 1 on any high finding.
import { Command, InvalidArgumentError } from 'commander';
import type { Config } from '../../config/config.ts';
import type { Finding } from '../doctor/doctor.ts';
import { withProgress } from '../../cli/progress.ts';

type LoadConfig = () => Readonly<Config>;

function urlOption(value: string, previous: Map<string, string> | undefined): Map<string, string> {
  const m = /^([a-z][a-z0-9-]{0,30})=(https?:\/\/.+)$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected name=https://host:port, e.g. api=https://127.0.0.1:8443');
  try {
    new URL(m[2]!);
  } catch {
    throw new InvalidArgumentError(`not a URL: ${m[2]}`);
  }
  return new Map(previous ?? []).set(m[1]!, m[2]!);
}

export function formatFinding(f: Finding): string {
  return `${f.severity.toUpperCase().padEnd(6)} ${(f.listener ?? '-').padEnd(10)} ${f.message} [${f.id}]`;
}

export function doctorCommand(loadConfig: LoadConfig): Command {
  return new Command('doctor')
    .description('check the configuration (and with --live the running server) against the security policy; exit 1 on any high finding')
    .option('--live', 'also connect to every enabled listener: TLS versions and suites, certificate, HSTS, redirect')
    .option('--url <name=url>', 'where a listener answers, for --live (repeatable; implies --live)', urlOption)
    .option('--nftables', 'print nftables rules for the listener layout and exit')
    .option('--json', 'print the findings as JSON')
    .action(async (o: { live?: boolean; url?: Map<string, string>; nftables?: boolean; json?: boolean }) => {
      const config = loadConfig();
      const { SEVERITIES, checkConfig, checkLive, hasHigh, liveTargets, nftablesRules, publicListeners, sortFindings } = await import('../doctor/doctor.ts');
      if (o.nftables) {
        process.stdout.write(nftablesRules(config));
        return;
      }
      const findings = checkConfig(config);
      if (o.live || o.url) {
        const { targets, findings: skipped } = liveTargets(config, o.url);
        findings.push(...skipped, ...(await withProgress(`connecting to ${targets.length} listeners`, () => checkLive(targets))));
      }
      const sorted = sortFindings(findings);
      const counts = Object.fromEntries(SEVERITIES.map((s) => [s, sorted.filter((f) => f.severity === s).length])) as Record<string, number>;
      const publicNames = publicListeners(config);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ findings: sorted, counts, public: publicNames, ok: !hasHigh(sorted) }, null, 2)}\n`);
      } else {
        for (const f of sorted) process.stdout.write(`${formatFinding(f)}\n`);
        const summary = SEVERITIES.map((s) => `${counts[s]} ${s}`).join(', ');
        const reach = publicNames.length > 0 ? publicNames.join(', ') : 'none (every listener is on loopback)';
        process.stdout.write(`\npublic listeners (reachable beyond loopback): ${reach}\n`);
        process.stdout.write(`${sorted.length} findings: ${summary}. ${hasHigh(sorted) ? 'FAIL: fix the high findings.' : 'ok: no high finding.'}\n`);
      }
      if (hasHigh(sorted)) process.exitCode = 1;
    });
}
