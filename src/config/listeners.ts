// Listeners and route groups (docs/design.md §5): the six named listeners with their defaults, the route groups a listener
// may serve, and the reading of `listeners.<name>` from the config file with its FAPIAO_LISTEN_<NAME> override,
// including TLS files, allowlists, mutual TLS and custom listeners declared in the file.
import { isAbsolute, resolve } from 'node:path';
import type { Config } from './config.ts';
import { ConfigError, int, isObject, str, stringList, type Env, type Json } from './read.ts';

export const LISTENER_NAMES = ['api', 'partner', 'admin', 'push', 'metrics', 'redirect'] as const;
export type ListenerName = (typeof LISTENER_NAMES)[number];

/**
 * What a listener serves. Groups can be moved between listeners by configuration (docs/design.md §5):
 * issue `POST /v1/invoices` · query `GET /v1/invoices…` · public verify API, keys and the 查验 page ·
 * docs OpenAPI + Swagger UI · admin `/admin/v1/…` · health `/healthz` `/readyz` · metrics `/metrics` ·
 * redirect plain-HTTP catch-all that sends browsers to HTTPS · push `GET /v1/events`, the live event stream (SSE).
 */
export const ROUTE_GROUPS = ['issue', 'query', 'public', 'docs', 'admin', 'health', 'metrics', 'redirect', 'push'] as const;
export type RouteGroup = (typeof ROUTE_GROUPS)[number];

export interface ListenerConfig {
  name: string;
  enabled: boolean;
  host: string;
  port: number;
  /** false only for plaintext listeners (redirect, and metrics behind a scraper on loopback). */
  tls: boolean;
  /** Certificate and key (PEM paths); default: the development certificate made by `fapiao init`. */
  tlsFiles?: { cert: string; key: string };
  groups: RouteGroup[];
  /** Source addresses allowed to connect (CIDR or address); empty = anyone. */
  allow: string[];
  /** Mutual TLS: required on `partner`, optional elsewhere. The client certificate then identifies the tenant. */
  mtls?: MtlsConfig;
}

export interface MtlsConfig {
  /** PEM of the CA that issues client certificates; default: the development CA of `fapiao init`. */
  clientCa?: string;
  /** PEM certificate revocation list of that CA. */
  crl?: string;
  /** Certificates mapped to tenants by SHA-256 fingerprint. */
  clients: { tenantId: string; fingerprint256: string }[];
  revokedFingerprints: string[];
  /** Accept certificates of the client CA whose subject CN is a tenant id (as `fapiao tenant client-cert` makes). */
  tenantFromSubject: boolean;
}

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

/**
 * Every listener binds loopback unless configured otherwise. The defaults are what `npm start` runs: a demo with a
 * printed key and development certificates, which must not be reachable from the network it happens to sit on.
 * A deployment names the addresses it serves on (`listeners.<name>.host` in the file, or FAPIAO_LISTEN_<NAME>),
 * and `fapiao doctor` lists which listeners are reachable beyond loopback. Ports: docs/design.md §5, "default (no root)".
 */
export const DEFAULT_HOST = '127.0.0.1';

const DEFAULT_LISTENERS: Record<ListenerName, Omit<ListenerConfig, 'name'>> = {
  api: { host: DEFAULT_HOST, port: 8443, enabled: true, tls: true, groups: ['issue', 'query', 'public'], allow: [] },
  partner: { host: DEFAULT_HOST, port: 6443, enabled: true, tls: true, groups: ['issue', 'query'], allow: [] },
  admin: { host: DEFAULT_HOST, port: 8080, enabled: true, tls: true, groups: ['admin', 'docs'], allow: LOOPBACK },
  push: { host: DEFAULT_HOST, port: 8899, enabled: true, tls: true, groups: ['push'], allow: [] },
  metrics: { host: DEFAULT_HOST, port: 9090, enabled: true, tls: false, groups: ['metrics', 'health'], allow: LOOPBACK },
  redirect: { host: DEFAULT_HOST, port: 8000, enabled: true, tls: false, groups: ['redirect'], allow: [] },
};

/** `host:port`, `[v6]:port`, `:port`, or `off`. */
export function parseListen(value: string, setting: string): { host?: string; port?: number; enabled: boolean } {
  if (value === 'off') return { enabled: false };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!m) throw new ConfigError(setting, 'must be host:port, [ipv6]:port or off');
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(setting, 'port must be 0 to 65535');
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port, enabled: true };
}

function listener(name: string, f: Json, d: Omit<ListenerConfig, 'name'>, env: Env, cwd: string): ListenerConfig {
  const at = `listeners.${name}`;
  if (f.enabled !== undefined && typeof f.enabled !== 'boolean') throw new ConfigError(`${at}.enabled`, 'must be true or false');
  if (f.tls !== undefined && typeof f.tls !== 'boolean' && !isObject(f.tls)) {
    throw new ConfigError(`${at}.tls`, 'must be false, true or an object with cert and key');
  }
  let enabled = typeof f.enabled === 'boolean' ? f.enabled : d.enabled;
  let host = str(f.host, `${at}.host`) ?? d.host;
  let port = int(f.port, `${at}.port`, 0, 65535) ?? d.port;
  const envName = `FAPIAO_LISTEN_${name.toUpperCase().replaceAll('-', '_')}`;
  const envValue = env[envName];
  if (envValue !== undefined && envValue !== '') {
    const l = parseListen(envValue, envName);
    enabled = l.enabled;
    host = l.host ?? host;
    port = l.port ?? port;
  }
  let tlsFiles: ListenerConfig['tlsFiles'];
  if (isObject(f.tls)) {
    const cert = str(f.tls.cert, `${at}.tls.cert`);
    const key = str(f.tls.key, `${at}.tls.key`);
    if (!cert || !key) throw new ConfigError(`${at}.tls`, 'needs both cert and key');
    tlsFiles = { cert: isAbsolute(cert) ? cert : resolve(cwd, cert), key: isAbsolute(key) ? key : resolve(cwd, key) };
  }
  const tls = f.tls === false ? false : f.tls === undefined ? d.tls : true;
  const groups = stringList(f.groups, `${at}.groups`) ?? d.groups;
  for (const g of groups) {
    if (!(ROUTE_GROUPS as readonly string[]).includes(g)) throw new ConfigError(`${at}.groups`, `unknown route group (known: ${ROUTE_GROUPS.join(', ')})`);
  }
  const allow = stringList(f.allow, `${at}.allow`) ?? d.allow;
  for (const a of allow) {
    if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(a)) throw new ConfigError(`${at}.allow`, 'entries must be addresses or CIDR blocks');
  }
  const mtls = mtlsConfig(f.mtls, `${at}.mtls`, cwd, name === 'partner');
  return { name, enabled, host, port, tls, ...(tlsFiles ? { tlsFiles } : {}), groups: groups as RouteGroup[], allow, ...(mtls ? { mtls } : {}) };
}

function mtlsConfig(v: unknown, at: string, cwd: string, required: boolean): MtlsConfig | undefined {
  if (v === undefined && !required) return undefined;
  const f = v ?? {};
  if (!isObject(f)) throw new ConfigError(at, 'must be an object');
  const path = (x: unknown, setting: string) => {
    const p = str(x, setting);
    return p === undefined ? undefined : isAbsolute(p) ? p : resolve(cwd, p);
  };
  const clientCa = path(f.clientCa, `${at}.clientCa`);
  const crl = path(f.crl, `${at}.crl`);
  const clients = f.clients ?? [];
  if (!Array.isArray(clients)) throw new ConfigError(`${at}.clients`, 'must be an array of { tenantId, fingerprint256 }');
  for (const c of clients) {
    if (!isObject(c) || typeof c.tenantId !== 'string' || typeof c.fingerprint256 !== 'string' || !/^([0-9A-Fa-f]{2}:?){32}$/.test(c.fingerprint256)) {
      throw new ConfigError(`${at}.clients`, 'each entry needs tenantId and a SHA-256 fingerprint256');
    }
  }
  const revoked = stringList(f.revokedFingerprints, `${at}.revokedFingerprints`) ?? [];
  if (f.tenantFromSubject !== undefined && typeof f.tenantFromSubject !== 'boolean') throw new ConfigError(`${at}.tenantFromSubject`, 'must be true or false');
  return {
    ...(clientCa ? { clientCa } : {}),
    ...(crl ? { crl } : {}),
    clients: clients as MtlsConfig['clients'],
    revokedFingerprints: revoked,
    tenantFromSubject: f.tenantFromSubject !== false,
  };
}

export function listeners(file: Json, env: Env, cwd: string): { known: Record<ListenerName, ListenerConfig>; custom: ListenerConfig[] } {
  const fromFile = file.listeners ?? {};
  if (!isObject(fromFile)) throw new ConfigError('listeners', 'must be an object');
  const known = {} as Record<ListenerName, ListenerConfig>;
  for (const name of LISTENER_NAMES) {
    const f = fromFile[name] ?? {};
    if (!isObject(f)) throw new ConfigError(`listeners.${name}`, 'must be an object');
    known[name] = listener(name, f, DEFAULT_LISTENERS[name], env, cwd);
  }
  const custom: ListenerConfig[] = [];
  for (const [name, f] of Object.entries(fromFile)) {
    if ((LISTENER_NAMES as readonly string[]).includes(name)) continue;
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) throw new ConfigError(`listeners.${name}`, 'names are lower-case letters, digits and -');
    if (!isObject(f) || f.port === undefined || f.groups === undefined) throw new ConfigError(`listeners.${name}`, 'a custom listener needs port and groups');
    custom.push(listener(name, f, { host: DEFAULT_HOST, port: 0, enabled: true, tls: true, groups: [], allow: [] }, env, cwd));
  }
  return { known, custom };
}

/** Every enabled listener, the six of docs/design.md §5 first. */
export function enabledListeners(config: Readonly<Config>): ListenerConfig[] {
  return [...LISTENER_NAMES.map((n) => config.listeners[n]), ...config.customListeners].filter((l) => l.enabled);
}
