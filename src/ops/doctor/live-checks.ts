// Live checks (`fapiao doctor --live`): where to reach each listener, then probes of the running server: TLS 1.0/1.1
// and CBC suites refused, TLS 1.2 on an AEAD suite, the certificate served not expiring, HSTS with a max-age of a
// year, mutual TLS enforced, and the plain redirect sending 301 to https while refusing API paths.
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import http from 'node:http';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { enabledListeners, type Config, type RouteGroup } from '../../config/config.ts';
import { TLS_CIPHERS } from '../../platform/http/tls-policy.ts';
import { classifyHost } from './addresses.ts';
import { DAY, EXPIRY_DAYS, HSTS_MIN_MAX_AGE, sortFindings, type DoctorOptions, type Finding, type Severity } from './findings.ts';

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
