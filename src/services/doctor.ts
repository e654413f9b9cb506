// `fapiao doctor`: checks a configuration, its files and (optionally) a running server against the security policy of
// DESIGN.md §5: no plaintext listener except the redirect; admin and metrics not on public addresses; certificates
// valid, matching their keys and not expiring within 30 days; HSTS present; AEAD-only cipher list; key files readable
// by their owner only; a master key that was generated, not typed. Every check returns findings; nothing here exits or
// prints. `nftablesRules` turns the listener layout into an nftables ruleset an operator can review and load.
//
// What "development value" means for the master key (there is no built-in development key to compare with): a key
// that was not drawn at random. A random 32-byte key has fewer than 16 distinct byte values with probability ~3e-17
// and is all printable ASCII with probability ~2e-14, so either is reported as a typed or placeholder key (all
// zeros, `0123…`, a passphrase padded to 32 bytes).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { isIP } from 'node:net';
import { dirname, join, resolve, sep } from 'node:path';
import tls from 'node:tls';
import { enabledListeners, type Config, type ListenerConfig, type RouteGroup } from '../config/config.ts';
import { cidrContains, formatCidr, parseCidr, parseIp, type Cidr } from '../domain/cidr.ts';
import { TLS_CIPHERS } from '../http/build-server.ts';
import { MASTER_KEY_BYTES, MASTER_KEY_FILE } from '../crypto/key-store.ts';
import { devTlsPaths } from '../setup.ts';

export type Severity = 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low', 'info'];

export interface Finding {
  /** Stable name of the check, e.g. `admin-exposed`, `key-permissions`, `live-hsts`. */
  id: string;
  severity: Severity;
  /** The listener (or listeners, comma-separated) the finding is about. */
  listener?: string;
  message: string;
}

export interface DoctorOptions {
  /** The clock (tests). */
  now?: Date;
  /** Certificates expiring within this many days are a high finding (default 30). */
  expiryDays?: number;
}

const DAY = 86_400_000;
export const EXPIRY_DAYS = 30;
/** One year: the least HSTS max-age accepted (HSTS preload lists ask for it). */
export const HSTS_MIN_MAX_AGE = 31_536_000;
const DEV_CA_CN = 'Fapiao Development CA';
const PUBLIC_GROUPS: readonly RouteGroup[] = ['issue', 'query', 'public', 'redirect', 'push'];

// ——— addresses ———

type HostClass = 'loopback' | 'private' | 'wildcard' | 'public';

const LOOPBACK_BLOCKS = ['127.0.0.0/8', '::1/128'].map((c) => parseCidr(c)!);
// RFC 1918, RFC 6598 (carrier-grade NAT), RFC 3927/4291 link-local, RFC 4193 unique local.
const PRIVATE_BLOCKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', 'fc00::/7', 'fe80::/10'].map(
  (c) => parseCidr(c)!,
);

/** Where a bind address can be reached from. Host names other than `localhost` count as public: we cannot tell. */
export function classifyHost(host: string): HostClass {
  if (host === '' || host === '0.0.0.0' || host === '::' || host === '[::]') return 'wildcard';
  if (host === 'localhost') return 'loopback';
  const ip = parseIp(host.replace(/^\[|\]$/g, ''));
  if (!ip) return 'public';
  if (LOOPBACK_BLOCKS.some((c) => cidrContains(c, ip))) return 'loopback';
  if (PRIVATE_BLOCKS.some((c) => cidrContains(c, ip))) return 'private';
  return 'public';
}

/** True when the allowlist lets anyone in: empty, or holding a /0. */
function allowsEveryone(allow: readonly string[]): boolean {
  return allow.length === 0 || allow.some((a) => parseCidr(a)?.prefix === 0);
}

function where(l: ListenerConfig): string {
  return `${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`;
}

// ——— static checks ———

function plaintextFindings(l: ListenerConfig): Finding[] {
  if (l.tls) return [];
  const groups = l.groups;
  if (groups.every((g) => g === 'redirect')) return [];
  const local = classifyHost(l.host) === 'loopback';
  if (groups.every((g) => g === 'metrics' || g === 'health')) {
    return local
      ? [{ id: 'plaintext-metrics', severity: 'low', listener: l.name, message: `serves ${groups.join(', ')} over plain HTTP on loopback ${where(l)}: fine for a local scraper` }]
      : [{ id: 'plaintext-metrics', severity: 'high', listener: l.name, message: `serves ${groups.join(', ')} over plain HTTP on ${where(l)}, off loopback: enable tls or bind to 127.0.0.1` }];
  }
  return [
    {
      id: 'plaintext',
      severity: 'high',
      listener: l.name,
      message: `serves ${groups.join(', ')} over plain HTTP on ${where(l)}: only the redirect may be plaintext; set tls to true`,
    },
  ];
}

function exposureFindings(l: ListenerConfig): Finding[] {
  const kind = l.groups.includes('admin') ? 'admin' : l.groups.includes('metrics') ? 'metrics' : undefined;
  if (!kind) return [];
  const out: Finding[] = [];
  const cls = classifyHost(l.host);
  if (cls === 'wildcard' || cls === 'public') {
    const on = cls === 'wildcard' ? `${where(l)} (every interface)` : `the public address ${where(l)}`;
    out.push({ id: `${kind}-exposed`, severity: 'high', listener: l.name, message: `serves ${kind} on ${on}: bind it to 127.0.0.1 or a private address` });
  } else if (cls === 'private') {
    out.push({ id: `${kind}-exposed`, severity: 'medium', listener: l.name, message: `serves ${kind} on the private address ${where(l)}: keep its allowlist to the hosts that need it` });
  }
  if (allowsEveryone(l.allow)) {
    out.push({ id: `${kind}-allowlist`, severity: 'high', listener: l.name, message: `serves ${kind} to any source address: set allow to the addresses that need it` });
  }
  if (kind === 'admin') {
    const mixed = l.groups.filter((g) => PUBLIC_GROUPS.includes(g));
    if (mixed.length > 0) {
      out.push({ id: 'admin-mixed', severity: 'high', listener: l.name, message: `serves admin alongside ${mixed.join(', ')}: give admin a listener of its own` });
    }
  }
  return out;
}

function readable(mode: number): { group: boolean; other: boolean } {
  return { group: (mode & 0o070) !== 0, other: (mode & 0o007) !== 0 };
}

/**
 * A secret file readable (or writable) by anyone but its owner. Keys outside the data directory that only their group
 * can read (Debian's ssl-cert group, 0640) are medium; everything else is high.
 */
function permissionFinding(path: string, what: string, listener: string | undefined, groupTolerated: boolean): Finding | undefined {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return undefined;
  }
  const r = readable(mode);
  if (!r.group && !r.other) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  const severity: Severity = !r.other && groupTolerated ? 'medium' : 'high';
  return {
    id: 'key-permissions',
    severity,
    ...(listener ? { listener } : {}),
    message: `${what} ${path} has mode ${octal}: readable by ${r.other ? 'others' : 'its group'}; chmod 600 it`,
  };
}

interface CertUse {
  cert: string;
  key: string;
  dev: boolean;
  listeners: ListenerConfig[];
}

function certUses(config: Readonly<Config>): CertUse[] {
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

function certFindings(config: Readonly<Config>, use: CertUse, now: Date, expiryDays: number): Finding[] {
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

/** The cipher list the server offers (http/build-server.ts): AEAD suites with ECDHE key exchange only. */
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

/** True when 32 bytes look typed or made up rather than drawn at random (see the note at the top of the file). */
export function isWeakMasterKey(key: Uint8Array): boolean {
  const distinct = new Set(key).size;
  const printable = key.every((b) => b >= 0x20 && b <= 0x7e);
  return distinct < 16 || printable;
}

function sqlitePath(config: Readonly<Config>): string | undefined {
  if (!config.databaseUrl.startsWith('sqlite:')) return undefined;
  const p = config.databaseUrl.slice('sqlite:'.length);
  return p === '' || p === ':memory:' ? undefined : resolve(p);
}

function masterKeyFindings(config: Readonly<Config>): Finding[] {
  const out: Finding[] = [];
  let key: Uint8Array;
  let source: string;
  const dbPath = sqlitePath(config);
  if (config.masterKey !== undefined) {
    key = new Uint8Array(Buffer.from(config.masterKey, 'base64'));
    source = 'FAPIAO_MASTER_KEY';
  } else {
    const path = join(config.dataDir, MASTER_KEY_FILE);
    source = path;
    if (!existsSync(path)) {
      const hasData = dbPath === undefined || existsSync(dbPath);
      return [
        {
          id: 'master-key-missing',
          severity: hasData ? 'high' : 'medium',
          message: hasData
            ? `no master key: neither FAPIAO_MASTER_KEY nor ${path}; the stored signing keys cannot be opened`
            : `no master key yet (${path}): fapiao init or the first serve creates it`,
        },
      ];
    }
    const perm = permissionFinding(path, 'the master key', undefined, false);
    if (perm) out.push(perm);
    key = new Uint8Array(readFileSync(path));
    if (dbPath && dirname(dbPath) === resolve(config.dataDir)) {
      out.push({
        id: 'master-key-beside-db',
        severity: 'low',
        message: `the master key ${path} sits in the directory of the database: keep the master key apart from the database backups (or set FAPIAO_MASTER_KEY)`,
      });
    }
  }
  if (key.length !== MASTER_KEY_BYTES) {
    out.push({ id: 'master-key-invalid', severity: 'high', message: `the master key in ${source} is ${key.length} bytes, not ${MASTER_KEY_BYTES}` });
  } else if (isWeakMasterKey(key)) {
    out.push({
      id: 'master-key-weak',
      severity: 'high',
      message: `the master key in ${source} is not random (too few distinct bytes, or all printable text): a development or typed value; generate one with: head -c 32 /dev/urandom | base64`,
    });
  }
  return out;
}

function adminTokenFindings(config: Readonly<Config>): Finding[] {
  const admin = enabledListeners(config).filter((l) => l.groups.includes('admin'));
  if (admin.length === 0) return [];
  const path = join(config.dataDir, 'admin-token');
  let token = config.adminToken;
  let source = 'FAPIAO_ADMIN_TOKEN';
  if (token === undefined) {
    if (!existsSync(path)) {
      return [{ id: 'admin-token-missing', severity: 'medium', message: `no admin token yet (${path}): fapiao init creates it` }];
    }
    token = readFileSync(path, 'utf8').trim();
    source = path;
  }
  return token.length < 32
    ? [{ id: 'admin-token-weak', severity: 'high', message: `the admin token in ${source} is ${token.length} characters: use at least 32 random ones` }]
    : [];
}

/** Every check that needs only the configuration and the files it names. */
export function checkConfig(config: Readonly<Config>, options: DoctorOptions = {}): Finding[] {
  const now = options.now ?? new Date();
  const expiryDays = options.expiryDays ?? EXPIRY_DAYS;
  const findings: Finding[] = [];
  const listeners = enabledListeners(config);
  for (const l of listeners) findings.push(...plaintextFindings(l), ...exposureFindings(l));

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

  findings.push(...masterKeyFindings(config), ...adminTokenFindings(config));
  return sortFindings(findings);
}

export function sortFindings(findings: Finding[]): Finding[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => SEVERITIES.indexOf(a.f.severity) - SEVERITIES.indexOf(b.f.severity) || a.i - b.i)
    .map((x) => x.f);
}

export function hasHigh(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'high');
}

// ——— live checks ———

export interface LiveTarget {
  listener: string;
  url: URL;
  /** The listener's route groups, when the configuration names it. */
  groups: readonly RouteGroup[];
  /** The listener requires a client certificate: requests without one must be refused. */
  mutualTls?: boolean;
}

/**
 * Where to reach each enabled listener: `overrides` (listener name → URL) first, else the configured host and port
 * (0.0.0.0 and :: become loopback). A listener on port 0 without an override cannot be found and is reported.
 */
export function liveTargets(config: Readonly<Config>, overrides: ReadonlyMap<string, string> = new Map()): { targets: LiveTarget[]; findings: Finding[] } {
  const targets: LiveTarget[] = [];
  const findings: Finding[] = [];
  const listeners = enabledListeners(config);
  for (const l of listeners) {
    const override = overrides.get(l.name);
    if (override) {
      targets.push({ listener: l.name, url: new URL(override), groups: l.groups, mutualTls: l.tls && l.mtls !== undefined });
      continue;
    }
    if (l.port === 0) {
      findings.push({ id: 'live-skipped', severity: 'info', listener: l.name, message: `port 0 is chosen at start: pass --url ${l.name}=<url> to check it` });
      continue;
    }
    const cls = classifyHost(l.host);
    const host = cls === 'wildcard' ? (l.host.includes(':') ? '[::1]' : '127.0.0.1') : l.host.includes(':') ? `[${l.host}]` : l.host;
    targets.push({ listener: l.name, url: new URL(`${l.tls ? 'https' : 'http'}://${host}:${l.port}`), groups: l.groups, mutualTls: l.tls && l.mtls !== undefined });
  }
  for (const [name, url] of overrides) {
    if (!listeners.some((l) => l.name === name)) targets.push({ listener: name, url: new URL(url), groups: [] });
  }
  return { targets, findings };
}

/** What a handshake attempt showed. */
interface Probe {
  /** The server agreed on a version and suite (key material was derived), whether or not the handshake then finished. */
  agreed: boolean;
  /** The handshake finished on the client side. */
  connected: boolean;
  protocol: string | null;
  cipher: string | undefined;
  cert: X509Certificate | undefined;
  error?: NodeJS.ErrnoException;
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/**
 * One TLS handshake. The `keylog` event marks the moment the server accepted the offered version and suite: a server
 * that asks for a client certificate (mutual TLS) aborts later, and the probe still tells acceptance from refusal.
 */
function probe(url: URL, opts: tls.ConnectionOptions, timeoutMs: number): Promise<Probe> {
  const host = hostOf(url);
  return new Promise((resolve) => {
    const result: Probe = { agreed: false, connected: false, protocol: null, cipher: undefined, cert: undefined };
    const s = tls.connect({
      host,
      port: Number(url.port || 443),
      ...(isIP(host) ? {} : { servername: host }),
      // The doctor judges the policy, not the trust chain: the certificate is examined by the caller.
      rejectUnauthorized: false,
      ...opts,
    });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      s.destroy();
      resolve(result);
    };
    s.setTimeout(timeoutMs, () => {
      result.error ??= Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
      finish();
    });
    s.on('keylog', () => {
      if (result.agreed) return;
      result.agreed = true;
      result.protocol = s.getProtocol();
      result.cipher = s.getCipher()?.name;
    });
    s.once('secureConnect', () => {
      result.connected = true;
      result.protocol = s.getProtocol();
      result.cipher = s.getCipher().name;
      result.cert = s.getPeerX509Certificate();
      s.end();
      finish();
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      result.error = err;
      finish();
    });
  });
}

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
}

function request(url: URL, path: string, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const host = hostOf(url);
    const common = { host, port: url.port || undefined, path, method: 'GET', agent: false as const, timeout: timeoutMs };
    const req =
      url.protocol === 'https:'
        ? https.request({ ...common, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }), ciphers: TLS_CIPHERS })
        : http.request(common);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.end();
  });
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : 'no answer';
}

// Errors the client raises before sending anything: the local OpenSSL would not offer the protocol or suite.
const CLIENT_SIDE = new Set(['ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_NO_CIPHERS_AVAILABLE', 'ERR_SSL_NO_CIPHER_MATCH']);

async function offer(url: URL, opts: tls.ConnectionOptions, timeoutMs: number): Promise<'refused' | 'accepted' | 'untestable'> {
  const p = await probe(url, opts, timeoutMs);
  if (p.agreed || p.connected) return 'accepted';
  return p.error?.code && CLIENT_SIDE.has(p.error.code) ? 'untestable' : 'refused';
}

async function checkTlsTarget(t: LiveTarget, mutual: boolean, now: Date, expiryDays: number, timeoutMs: number): Promise<Finding[]> {
  const out: Finding[] = [];
  const f = (id: string, severity: Severity, msg: string) => out.push({ id, severity, listener: t.listener, message: msg });
  const base = await probe(t.url, {}, timeoutMs);
  if (!base.agreed && !base.connected) {
    f('live-connect', 'high', `no TLS handshake with ${t.url.host}: ${message(base.error)}`);
    return out;
  }
  if (base.cert) {
    const to = new Date(base.cert.validTo);
    const days = Math.floor((to.getTime() - now.getTime()) / DAY);
    if (to.getTime() - now.getTime() < expiryDays * DAY) {
      f('live-cert-expiring', 'high', `the certificate served at ${t.url.host} expires on ${to.toISOString()} (${days} days)`);
    } else f('live-cert', 'info', `serves a certificate valid until ${to.toISOString()} (${days} days)`);
  }

  const old = await offer(t.url, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }, timeoutMs);
  if (old === 'accepted') f('live-old-tls', 'high', 'accepts TLS 1.0/1.1');
  else if (old === 'untestable') f('live-old-tls', 'info', 'could not offer TLS 1.0/1.1 from this host (local OpenSSL refuses): not tested');
  else f('live-old-tls', 'info', 'refuses TLS 1.0 and 1.1');

  const cbc = await offer(t.url, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256' }, timeoutMs);
  if (cbc === 'accepted') f('live-cbc', 'high', 'accepts the CBC suite ECDHE-*-AES128-SHA256 on TLS 1.2');
  else if (cbc === 'untestable') f('live-cbc', 'info', 'could not offer a CBC suite from this host: not tested');
  else f('live-cbc', 'info', 'refuses CBC suites on TLS 1.2');

  const v12 = await probe(t.url, { maxVersion: 'TLSv1.2' }, timeoutMs);
  if (!v12.agreed) f('live-tls12', 'medium', `TLS 1.2 refused (${message(v12.error)}): clients without TLS 1.3 cannot connect`);
  else if (/GCM|CHACHA20-POLY1305|CCM/.test(v12.cipher ?? '')) {
    f('live-tls12', 'info', `TLS 1.2 negotiates ${v12.cipher}; by default ${base.protocol ?? '?'} ${base.cipher ?? '?'}`);
  } else f('live-tls12', 'high', `TLS 1.2 negotiates ${v12.cipher ?? '?'}, not an AEAD suite`);

  try {
    const res = await request(t.url, '/', timeoutMs);
    if (mutual) f('live-mtls', 'high', `answers HTTPS without a client certificate (status ${res.status})`);
    const hsts = res.headers['strict-transport-security'];
    const maxAge = typeof hsts === 'string' ? Number(/max-age\s*=\s*"?(\d+)/i.exec(hsts)?.[1] ?? NaN) : NaN;
    if (hsts === undefined) f('live-hsts', 'high', `HTTPS answer (status ${res.status}) without Strict-Transport-Security`);
    else if (!(maxAge >= HSTS_MIN_MAX_AGE)) f('live-hsts', 'medium', `Strict-Transport-Security "${String(hsts)}": max-age under ${HSTS_MIN_MAX_AGE} (one year)`);
    else f('live-hsts', 'info', `Strict-Transport-Security: ${String(hsts)}`);
  } catch (err) {
    if (mutual) f('live-mtls', 'info', 'refuses HTTPS without a client certificate (HSTS not checked here: it needs one)');
    else f('live-hsts', 'high', `HTTPS request failed: ${message(err)}`);
  }
  return out;
}

async function checkPlainTarget(t: LiveTarget, timeoutMs: number): Promise<Finding[]> {
  const out: Finding[] = [];
  const f = (id: string, severity: Severity, msg: string) => out.push({ id, severity, listener: t.listener, message: msg });
  const isRedirect = t.groups.includes('redirect') || (t.groups.length === 0 && t.listener === 'redirect');
  try {
    const page = await request(t.url, '/', timeoutMs);
    if (!isRedirect) {
      f('live-plaintext', 'info', `plain HTTP answers at ${t.url.host} (status ${page.status})`);
      return out;
    }
    const location = String(page.headers.location ?? '');
    if (page.status === 301 && location.startsWith('https://')) f('live-redirect', 'info', `GET / → 301 ${location}`);
    else f('live-redirect', 'medium', `GET / answered ${page.status}${location ? ` → ${location}` : ''}, not a 301 to https`);
    const api = await request(t.url, '/v1/invoices', timeoutMs);
    if (api.status >= 300 && api.status < 400) f('live-redirect-api', 'medium', 'API paths are redirected over plain HTTP; they should be refused (403)');
    else if (api.status < 400) f('live-redirect-api', 'high', `GET /v1/invoices is served over plain HTTP (status ${api.status})`);
    else f('live-redirect-api', 'info', `API paths refused over plain HTTP (status ${api.status})`);
  } catch (err) {
    f('live-connect', 'high', `no HTTP answer at ${t.url.host}: ${message(err)}`);
  }
  return out;
}

/** Probes each target: TLS versions and suites, the certificate served, HSTS; the redirect's behaviour. */
export async function checkLive(targets: readonly LiveTarget[], options: DoctorOptions & { timeoutMs?: number } = {}): Promise<Finding[]> {
  const now = options.now ?? new Date();
  const timeoutMs = options.timeoutMs ?? 5000;
  const results = await Promise.all(
    targets.map((t) =>
      t.url.protocol === 'https:'
        ? checkTlsTarget(t, t.mutualTls === true, now, options.expiryDays ?? EXPIRY_DAYS, timeoutMs)
        : checkPlainTarget(t, timeoutMs),
    ),
  );
  return sortFindings(results.flat());
}

// ——— firewall ———

/**
 * An nftables ruleset for the listener layout: an `inet fapiao` table whose input chain accepts established
 * traffic and loopback, then each enabled listener's port from its `allow` blocks (from anywhere when empty), and
 * drops every other packet to those ports. Other ports are left to the host's own rules (policy accept), so loading
 * it cannot lock out SSH. Load with `nft -f`; it replaces an earlier `fapiao` table.
 *
 * A listener bound to one address gets rules for that destination only (`ip daddr …`): otherwise a listener open to
 * everyone would open the same port on every address, including one where another listener keeps an allowlist. Its
 * allow entries of the other address family are left out (they cannot reach it).
 */
function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}

/** The one address a listener is bound to, as nft writes it; undefined for a wildcard or a host name. */
function boundAddress(host: string): { family: 4 | 6; text: string } | undefined {
  if (isWildcard(host)) return undefined;
  const ip = parseIp(host);
  // An IPv4-mapped address (::ffff:a.b.c.d) is parsed as IPv4 here, and is IPv4 on the wire.
  return ip ? { family: ip.family, text: formatCidr({ family: ip.family, network: ip.value, prefix: ip.family === 4 ? 32 : 128 }) } : undefined;
}

export function nftablesRules(config: Readonly<Config>): string {
  const lines = [
    '#!/usr/sbin/nft -f',
    '# Generated by `fapiao doctor --nftables` from the listener layout. Review, then: nft -f <this file>',
    'table inet fapiao',
    'delete table inet fapiao',
    '',
    'table inet fapiao {',
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    '    ct state established,related accept',
    '    iifname "lo" accept',
  ];
  const ports = new Set<number>();
  for (const l of enabledListeners(config)) {
    lines.push(`    # ${l.name} ${where(l)} (${l.groups.join(', ') || 'no groups'}), ${l.tls ? 'TLS' : 'plain HTTP'}`);
    if (l.port === 0) {
      lines.push('    # port 0 is chosen at start: no rule');
      continue;
    }
    ports.add(l.port);
    const bound = boundAddress(l.host);
    if (!bound && !isWildcard(l.host)) lines.push(`    # ${l.host} is a name, not an address: the rules match port ${l.port} on every address`);
    const daddr = bound ? `${bound.family === 4 ? 'ip' : 'ip6'} daddr ${bound.text} ` : '';
    if (allowsEveryone(l.allow)) {
      lines.push(`    ${daddr}tcp dport ${l.port} accept`);
      continue;
    }
    const blocks = l.allow.map((a) => ({ text: a, cidr: parseCidr(a) }));
    const bad = blocks.filter((b) => !b.cidr).map((b) => b.text);
    if (bad.length > 0) lines.push(`    # not an address or CIDR block, left out: ${bad.join(', ')}`);
    const family = (fam: 4 | 6) => blocks.filter((b): b is { text: string; cidr: Cidr } => b.cidr?.family === fam).map((b) => formatCidr(b.cidr));
    const v4 = family(4);
    const v6 = family(6);
    const other = bound?.family === 4 ? v6 : bound?.family === 6 ? v4 : [];
    if (other.length > 0) lines.push(`    # bound to ${bound!.text}: ${other.join(', ')} cannot reach it, left out`);
    if (v4.length > 0 && bound?.family !== 6) lines.push(`    ${daddr}ip saddr { ${v4.join(', ')} } tcp dport ${l.port} accept`);
    if (v6.length > 0 && bound?.family !== 4) lines.push(`    ${daddr}ip6 saddr { ${v6.join(', ')} } tcp dport ${l.port} accept`);
  }
  if (ports.size > 0) lines.push(`    tcp dport { ${[...ports].sort((a, b) => a - b).join(', ')} } drop`);
  lines.push('  }', '}', '');
  return lines.join('\n');
}
