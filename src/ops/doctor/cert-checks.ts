// Certificate checks: each certificate/key pair the TLS listeners use exists, parses, matches its key, is valid now and
// not expiring within the window, is not the development CA's off loopback, and names the host of publicBaseUrl; plus
// the cipher list the server offers (AEAD with ECDHE only).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { enabledListeners, type Config, type ListenerConfig } from '../../config/config.ts';
import { TLS_CIPHERS } from '../../platform/http/tls-policy.ts';
import { devTlsPaths } from '../setup.ts';
import { classifyHost } from './addresses.ts';
import { DAY, type Finding, type Severity } from './findings.ts';

const DEV_CA_CN = 'Fapiao Development CA';

export interface CertUse {
  cert: string;
  key: string;
  dev: boolean;
  listeners: ListenerConfig[];
}

export function certUses(config: Readonly<Config>): CertUse[] {
  const dev = devTlsPaths(config.dataDir);
  const byPair = new Map<string, CertUse>();
  for (const l of enabledListeners(config)) {
    if (!l.tls) continue;
    const files = l.tlsFiles ?? { cert: dev.serverCert, key: dev.serverKey };
    const k = `${files.cert}\0${files.key}`;
    const use = byPair.get(k) ?? { ...files, dev: !l.tlsFiles, listeners: [] };
    use.listeners.push(l);
    byPair.set(k, use);
  }
  return [...byPair.values()];
}

export function certFindings(config: Readonly<Config>, use: CertUse, now: Date, expiryDays: number): Finding[] {
  const listener = use.listeners.map((l) => l.name).join(',');
  const f = (id: string, severity: Severity, message: string): Finding => ({ id, severity, listener, message });
  if (!existsSync(use.cert) || !existsSync(use.key)) {
    const missing = existsSync(use.cert) ? use.key : use.cert;
    return use.dev
      ? [f('cert-missing', 'medium', `the development certificate ${missing} does not exist yet: run fapiao init (or give the listener tls.cert and tls.key)`)]
      : [f('cert-missing', 'high', `${missing} does not exist: the listener cannot start`)];
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(readFileSync(use.cert));
  } catch (err) {
    return [f('cert-invalid', 'high', `${use.cert} is not a PEM certificate (${err instanceof Error ? err.message : String(err)})`)];
  }
  const out: Finding[] = [];
  try {
    const key = createPrivateKey(readFileSync(use.key));
    if (!x509.checkPrivateKey(key)) out.push(f('cert-key-mismatch', 'high', `${use.key} is not the private key of ${use.cert}`));
  } catch (err) {
    out.push(f('cert-key-invalid', 'high', `${use.key} is not a readable private key (${err instanceof Error ? err.message : String(err)})`));
  }
  const from = new Date(x509.validFrom);
  const to = new Date(x509.validTo);
  const days = Math.floor((to.getTime() - now.getTime()) / DAY);
  if (to <= now) out.push(f('cert-expired', 'high', `${use.cert} expired on ${to.toISOString()}`));
  else if (from > now) out.push(f('cert-not-yet-valid', 'high', `${use.cert} is valid only from ${from.toISOString()}`));
  else if (to.getTime() - now.getTime() < expiryDays * DAY) {
    out.push(f('cert-expiring', 'high', `${use.cert} expires on ${to.toISOString()}, in ${days} days (less than ${expiryDays}): renew it`));
  } else out.push(f('cert-valid', 'info', `${use.cert} is valid until ${to.toISOString()} (${days} days)`));

  const issuedByDevCa = x509.issuer.split('\n').includes(`CN=${DEV_CA_CN}`);
  const reachable = use.listeners.filter((l) => classifyHost(l.host) !== 'loopback');
  if (issuedByDevCa && reachable.length > 0) {
    out.push({
      id: 'dev-cert',
      severity: 'medium',
      listener: reachable.map((l) => l.name).join(','),
      message: `uses the development certificate (issued by ${DEV_CA_CN}) off loopback: clients will not trust it; configure tls.cert and tls.key`,
    });
  }
  if (config.publicBaseUrl && use.listeners.some((l) => l.name === 'api')) {
    const host = new URL(config.publicBaseUrl).hostname.replace(/^\[|\]$/g, '');
    const ok = isIP(host) ? x509.checkIP(host) : x509.checkHost(host);
    if (!ok) out.push(f('cert-name', 'medium', `${use.cert} does not name ${host}, the host of publicBaseUrl`));
  }
  return out;
}

/** The cipher list the server offers (platform/http/tls-policy.ts): AEAD suites with ECDHE key exchange only. */
export function cipherFindings(ciphers: string = TLS_CIPHERS): Finding[] {
  const weak = ciphers.split(':').filter((c) => {
    const aead = /GCM|CHACHA20[-_]POLY1305/.test(c);
    const forwardSecret = c.startsWith('TLS_') || c.startsWith('ECDHE-');
    return !aead || !forwardSecret;
  });
  return weak.length > 0
    ? [{ id: 'cipher-list', severity: 'high', message: `the TLS cipher list offers non-AEAD or non-ECDHE suites: ${weak.join(', ')}` }]
    : [{ id: 'cipher-list', severity: 'info', message: 'TLS 1.2+ with AEAD + ECDHE suites only; HSTS is sent on every HTTPS response (--live confirms both)' }];
}
