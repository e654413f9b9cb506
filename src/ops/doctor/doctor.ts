// `fapiao doctor`: checks a configuration, its files and (optionally) a running server against the security policy of
// docs/design.md §5: which listeners are public (reachable beyond loopback); no plaintext listener except the redirect;
// admin and metrics not on public addresses; certificates valid, matching their keys and not expiring within 30 days;
// HSTS present; AEAD-only cipher list; key files readable by their owner only; a master key that was generated, not
// typed, or the HSM token answering with the master key inside it (key-provider-checks.ts). Every check returns findings; nothing here exits or
// prints. `nftablesRules` turns the listener layout into an nftables ruleset an operator can review and load.
//
// The checks live in ./doctor/ by concern: findings.ts (types, severities, ordering), addresses.ts (where a bind
// address is reachable from), layout-checks.ts, cert-checks.ts, secret-checks.ts, live-checks.ts and nftables.ts;
// this file composes the static checks and re-exports the public names.
import { join, resolve, sep } from 'node:path';
import { enabledListeners, type Config } from '../../config/config.ts';
import { devTlsPaths } from '../setup.ts';
import { certFindings, certUses, cipherFindings } from './cert-checks.ts';
import { EXPIRY_DAYS, sortFindings, type DoctorOptions, type Finding } from './findings.ts';
import { exposureFindings, isPublic, plaintextFindings, reachFindings } from './layout-checks.ts';
import { adminTokenFindings, masterKeyFindings, permissionFinding } from './secret-checks.ts';
import { keyProviderFindings } from './key-provider-checks.ts';

export { SEVERITIES, EXPIRY_DAYS, HSTS_MIN_MAX_AGE, hasHigh, sortFindings, type DoctorOptions, type Finding, type Severity } from './findings.ts';
export { classifyHost } from './addresses.ts';
export { cipherFindings } from './cert-checks.ts';
export { isWeakMasterKey } from './secret-checks.ts';
export { checkLive, liveTargets, type LiveTarget } from './live-checks.ts';
export { nftablesRules } from './nftables.ts';

/** The enabled listeners other hosts can connect to (bound to anything but loopback), by name. */
export function publicListeners(config: Readonly<Config>): string[] {
  return enabledListeners(config).filter(isPublic).map((l) => l.name);
}

/** Every check that needs only the configuration and the files it names. */
export function checkConfig(config: Readonly<Config>, options: DoctorOptions = {}): Finding[] {
  const now = options.now ?? new Date();
  const expiryDays = options.expiryDays ?? EXPIRY_DAYS;
  const findings: Finding[] = [];
  const listeners = enabledListeners(config);
  for (const l of listeners) findings.push(...reachFindings(l), ...plaintextFindings(l), ...exposureFindings(l));

  const uses = certUses(config);
  for (const use of uses) findings.push(...certFindings(config, use, now, expiryDays));
  findings.push(...cipherFindings());

  // Private keys and secrets: each file once, whoever uses it.
  const seen = new Set<string>();
  const perm = (path: string, what: string, listener: string | undefined, groupTolerated: boolean) => {
    if (seen.has(path)) return;
    seen.add(path);
    const f = permissionFinding(path, what, listener, groupTolerated);
    if (f) findings.push(f);
  };
  const inDataDir = (path: string) => resolve(path).startsWith(`${resolve(config.dataDir)}${sep}`);
  for (const use of uses) perm(use.key, 'the private key', use.listeners.map((l) => l.name).join(','), !use.dev && !inDataDir(use.key));
  const dev = devTlsPaths(config.dataDir);
  perm(dev.serverKey, 'the development server key', undefined, false);
  perm(dev.caKey, 'the development CA key', undefined, false);
  perm(join(config.dataDir, 'admin-token'), 'the admin token', undefined, false);
  perm(join(config.dataDir, 'demo-api-key'), 'the demo API key', undefined, false);

  // The file key's checks apply when a file key is the current one; the provider finding names which one is active.
  if (config.masterKeyProvider === 'file') findings.push(...masterKeyFindings(config));
  findings.push(...keyProviderFindings(config), ...adminTokenFindings(config));
  return sortFindings(findings);
}
