// First-run set-up of a data directory (`fapiao init`, and `serve` on first start): master key, development PKI,
// database schema and a signing key. Every step is idempotent: existing files and keys are kept.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, ListenerConfig } from '../config/config.ts';
import { loadOrCreateMasterKey } from '../platform/crypto/key-store.ts';
import { openHsmToken } from '../platform/crypto/master-keys.ts';
import { generateAdminToken } from '../platform/crypto/api-key-token.ts';

export interface DevTlsPaths {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

export function devTlsPaths(dataDir: string): DevTlsPaths {
  const dir = join(dataDir, 'tls');
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
  };
}

function writeSecret(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export interface InitReport {
  created: string[];
  kept: string[];
}

/** Creates what is missing in the data directory; never overwrites. */
export async function initDataDir(config: Config): Promise<InitReport> {
  const report: InitReport = { created: [], kept: [] };
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  if (config.masterKeyProvider === 'pkcs11') {
    // The key is generated inside the token (sensitive, not extractable) when it has none of this version.
    (ensureHsmMasterKey(config) ? report.created : report.kept).push(`master key v${config.masterKeyVersion} in the HSM`);
  } else {
    const masterPath = join(config.dataDir, 'master.key');
    const hadMaster = existsSync(masterPath) || config.masterKey !== undefined;
    loadOrCreateMasterKey(config.dataDir, config.masterKey);
    (hadMaster ? report.kept : report.created).push('master key');
  }

  const tls = devTlsPaths(config.dataDir);
  if (existsSync(tls.serverCert) && existsSync(tls.serverKey)) {
    report.kept.push('development certificates');
  } else {
    mkdirSync(tls.dir, { recursive: true, mode: 0o700 });
    // Imported only when certificates are made: the X.509 library is large, and devTlsPaths's users need none of it.
    const { createDevPki } = await import('../platform/crypto/dev-certs.ts');
    const pki = await createDevPki();
    writeFileSync(tls.caCert, pki.ca.certPem);
    writeSecret(tls.caKey, pki.ca.keyPem);
    writeFileSync(tls.serverCert, pki.server.certPem);
    writeSecret(tls.serverKey, pki.server.keyPem);
    report.created.push(`development CA and server certificate in ${tls.dir}`);
  }

  const tokenPath = join(config.dataDir, 'admin-token');
  if (config.adminToken || existsSync(tokenPath)) {
    report.kept.push('admin token');
  } else {
    writeSecret(tokenPath, `${generateAdminToken()}\n`);
    report.created.push('admin token');
  }
  return report;
}

/** The certificate and key of a TLS listener: its own files, else the development certificate from `init`. */
export function readTls(config: Config, listener: ListenerConfig): { key: Buffer; cert: Buffer } {
  const dev = devTlsPaths(config.dataDir);
  const paths = listener.tlsFiles ?? { cert: dev.serverCert, key: dev.serverKey };
  return { cert: readFileSync(paths.cert), key: readFileSync(paths.key) };
}

/** Makes the HSM master key of `version` (default: the current one) in the token unless it has one; true if made. */
export function ensureHsmMasterKey(config: Config, version = config.masterKeyVersion): boolean {
  const token = openHsmToken(config);
  try {
    if (token.hasKey(version)) return false;
    token.createKey(version);
    return true;
  } finally {
    token.close();
  }
}
