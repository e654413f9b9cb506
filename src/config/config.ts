// Configuration: one optional file (FAPIAO_CONFIG or ./fapiao.config.json) plus environment overrides, validated once,
// given defaults and frozen. This is the only module that reads process.env. An invalid setting stops the server
// naming the setting, never echoing its value (it may be a secret).
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseCidr } from '../domain/cidr.ts';
import { resolveAbusePolicy, type AbusePolicy, type AbusePolicyInput } from '../http/plugins/abuse-control.ts';

export const LISTENER_NAMES = ['api', 'partner', 'admin', 'push', 'metrics', 'redirect'] as const;
export type ListenerName = (typeof LISTENER_NAMES)[number];

/**
 * What a listener serves. Groups can be moved between listeners by configuration (DESIGN.md §5):
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

export interface Config {
  dataDir: string;
  databaseUrl: string;
  redisUrl?: string;
  /** Base64 of a 32-byte master key; default: `<dataDir>/master.key`, made by `init`. */
  masterKey?: string;
  /** Version of the current master key (default 1); every key it wraps records it. */
  masterKeyVersion: number;
  /**
   * Earlier master keys (base64) by version: kept configured until `fapiao keys rotate-master` has re-wrapped the keys
   * still under them (and longer, to open old backups).
   */
  previousMasterKeys: { version: number; key: string }[];
  /** Personal data at rest (storage/field-protector.ts). */
  fields: {
    /** Algorithm of new data keys (a tenant's first, or a rotation); existing keys keep theirs. */
    algorithm: 'aes-256-gcm' | 'sm4-gcm';
  };
  adminToken?: string;
  /** Public https origin used in QR links to the verify page; default derived from the api listener. */
  publicBaseUrl?: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  listeners: Record<ListenerName, ListenerConfig>;
  /** Further listeners declared in the config file, e.g. a reporting port serving only `query`. */
  customListeners: ListenerConfig[];
  issuing: {
    /** Largest number of requests numbered, signed and committed together. */
    batchMax: number;
    /** Worker threads that compute SM2 signatures; 0 signs on the main thread. */
    signerThreads: number;
    /** Legal unified social credit codes that fail the GB 32100 checksum (invoice-rules.md). */
    taxIdExceptions: string[];
    /** Position 5 of new tenants' invoice numbers. */
    defaultChannel: string;
  };
  http: {
    bodyLimit: number;
    /** Cap on `limit` of list endpoints. */
    maxPageSize: number;
    /** Proxies whose X-Forwarded-For / X-Real-IP is believed (addresses or CIDR blocks); nobody else's is. */
    trustedProxies: string[];
    /** A request whose headers are not complete by then is answered 408 and closed (slowloris). */
    headersTimeoutMs: number;
    /** The whole request, body included, must arrive within this; at least headersTimeoutMs. */
    requestTimeoutMs: number;
    /** Bytes of request line and headers together; more is answered 431. */
    maxHeaderSize: number;
  };
  audit: {
    /** Days audit entries are kept before `fapiao audit purge --expired` may delete them; never below 180. */
    retentionDays: number;
  };
  /** Rate limits, tiered bans, blocks (http/plugins/abuse-control.ts). */
  abuse: AbusePolicy;
  /** The live event stream (route group `push`, services/event-stream.ts). */
  events: {
    /** How often new outbox rows are looked for while at least one stream is open. */
    pollIntervalMs: number;
    /** A comment line on idle streams, so proxies and clients see the connection alive. */
    heartbeatSec: number;
    maxStreamsPerTenant: number;
    maxStreams: number;
    /** Bytes waiting for one slow client before its stream is dropped (it resumes with Last-Event-ID). */
    maxBufferedBytes: number;
    /** How long a hole in the outbox ids (a transaction still committing) may hold streams back. */
    gapTimeoutMs: number;
  };
  /** 发票查验 limits against enumeration (invoice-rules.md, "Verification"). */
  verify: {
    /** Checks naming one invoice number per day (UTC+8), matched or not; the public service allows 5. */
    perInvoicePerDay: number;
    /** Requests to the verify page and API per client address per minute. */
    perIpPerMinute: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly setting: string, reason: string) {
    super(`invalid setting ${setting}: ${reason}`);
    this.name = 'ConfigError';
  }
}

const LOOPBACK = ['127.0.0.0/8', '::1/128'];

// DESIGN.md §5, the "default (no root)" column.
const DEFAULT_LISTENERS: Record<ListenerName, Omit<ListenerConfig, 'name'>> = {
  api: { host: '0.0.0.0', port: 8443, enabled: true, tls: true, groups: ['issue', 'query', 'public'], allow: [] },
  partner: { host: '0.0.0.0', port: 6443, enabled: true, tls: true, groups: ['issue', 'query'], allow: [] },
  admin: { host: '127.0.0.1', port: 8080, enabled: true, tls: true, groups: ['admin', 'docs'], allow: LOOPBACK },
  push: { host: '0.0.0.0', port: 8899, enabled: true, tls: true, groups: ['push'], allow: [] },
  metrics: { host: '127.0.0.1', port: 9090, enabled: true, tls: false, groups: ['metrics', 'health'], allow: LOOPBACK },
  redirect: { host: '0.0.0.0', port: 8000, enabled: true, tls: false, groups: ['redirect'], allow: [] },
};

type Env = Record<string, string | undefined>;
type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readFile(env: Env, cwd: string): Json {
  const explicit = env.FAPIAO_CONFIG;
  const path = explicit ? resolve(cwd, explicit) : join(cwd, 'fapiao.config.json');
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError('FAPIAO_CONFIG', 'file not found');
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new ConfigError('FAPIAO_CONFIG', 'not valid JSON');
  }
  if (!isObject(parsed)) throw new ConfigError('FAPIAO_CONFIG', 'must hold a JSON object');
  return parsed;
}

function str(v: unknown, setting: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(setting, 'must be a non-empty string');
  return v;
}

function int(v: unknown, setting: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(setting, `must be an integer from ${min} to ${max}`);
  }
  return n;
}

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

function stringList(v: unknown, setting: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ConfigError(setting, 'must be an array of strings');
  return v;
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

function listeners(file: Json, env: Env, cwd: string): { known: Record<ListenerName, ListenerConfig>; custom: ListenerConfig[] } {
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
    custom.push(listener(name, f, { host: '0.0.0.0', port: 0, enabled: true, tls: true, groups: [], allow: [] }, env, cwd));
  }
  return { known, custom };
}

/** Every enabled listener, the six of DESIGN.md §5 first. */
export function enabledListeners(config: Readonly<Config>): ListenerConfig[] {
  return [...LISTENER_NAMES.map((n) => config.listeners[n]), ...config.customListeners].filter((l) => l.enabled);
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Readonly<Config> {
  const file = readFile(env, cwd);
  const dataDir = resolve(cwd, env.FAPIAO_DATA_DIR || str(file.dataDir, 'dataDir') || './data');
  const databaseUrl = env.FAPIAO_DATABASE_URL || str(file.databaseUrl, 'databaseUrl') || `sqlite:${join(dataDir, 'fapiao.db')}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(env.FAPIAO_DATABASE_URL ? 'FAPIAO_DATABASE_URL' : 'databaseUrl', 'must start with sqlite: or postgres://');
  }
  const redisUrl = env.FAPIAO_REDIS_URL || str(file.redisUrl, 'redisUrl');
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('FAPIAO_REDIS_URL', 'must start with redis://');
  const masterKey = env.FAPIAO_MASTER_KEY || str(file.masterKey, 'masterKey');
  if (masterKey !== undefined && Buffer.from(masterKey, 'base64').length !== 32) {
    throw new ConfigError('FAPIAO_MASTER_KEY', 'must be the base64 of 32 bytes');
  }
  const masterKeyVersion = int(env.FAPIAO_MASTER_KEY_VERSION ?? file.masterKeyVersion, 'masterKeyVersion', 1, 2_147_483_647) ?? 1;
  const previousMasterKeys = masterKeyList(env.FAPIAO_MASTER_KEY_PREVIOUS, file.masterKeyPrevious, masterKeyVersion);
  const fields = isObject(file.fields) ? file.fields : {};
  const algorithm = env.FAPIAO_FIELD_ALGORITHM || str(fields.algorithm, 'fields.algorithm') || 'aes-256-gcm';
  if (algorithm !== 'aes-256-gcm' && algorithm !== 'sm4-gcm') {
    throw new ConfigError(env.FAPIAO_FIELD_ALGORITHM ? 'FAPIAO_FIELD_ALGORITHM' : 'fields.algorithm', 'must be aes-256-gcm or sm4-gcm');
  }
  const logLevel = (env.FAPIAO_LOG_LEVEL || str(file.logLevel, 'logLevel') || 'info') as Config['logLevel'];
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('logLevel', 'must be one of fatal, error, warn, info, debug, trace, silent');
  }
  const publicBaseUrl = env.FAPIAO_PUBLIC_BASE_URL || str(file.publicBaseUrl, 'publicBaseUrl');
  if (publicBaseUrl !== undefined && !/^https:\/\/[^/]+$/.test(publicBaseUrl)) {
    throw new ConfigError('publicBaseUrl', 'must be an https origin without a path, e.g. https://fapiao.example.com');
  }
  const issuing = isObject(file.issuing) ? file.issuing : {};
  const exceptions = issuing.taxIdExceptions ?? [];
  if (!Array.isArray(exceptions) || !exceptions.every((x) => typeof x === 'string')) {
    throw new ConfigError('issuing.taxIdExceptions', 'must be an array of strings');
  }
  const channel = str(issuing.defaultChannel, 'issuing.defaultChannel') ?? '1';
  if (!/^\d$/.test(channel)) throw new ConfigError('issuing.defaultChannel', 'must be one digit');
  const http = isObject(file.http) ? file.http : {};
  const layout = listeners(file, env, cwd);
  const verify = isObject(file.verify) ? file.verify : {};
  const events = isObject(file.events) ? file.events : {};
  const audit = isObject(file.audit) ? file.audit : {};
  const headersTimeoutMs = int(http.headersTimeoutMs, 'http.headersTimeoutMs', 100, 600_000) ?? 10_000;
  const requestTimeoutMs = int(http.requestTimeoutMs, 'http.requestTimeoutMs', 100, 3_600_000) ?? 30_000;
  // Node refuses a headers timeout longer than the request timeout when it creates the server: say so here instead.
  if (headersTimeoutMs > requestTimeoutMs) throw new ConfigError('http.headersTimeoutMs', 'must not exceed http.requestTimeoutMs');
  const config: Config = {
    dataDir,
    databaseUrl,
    ...(redisUrl ? { redisUrl } : {}),
    ...(masterKey ? { masterKey } : {}),
    masterKeyVersion,
    previousMasterKeys,
    fields: { algorithm },
    ...(env.FAPIAO_ADMIN_TOKEN ? { adminToken: env.FAPIAO_ADMIN_TOKEN } : {}),
    ...(publicBaseUrl ? { publicBaseUrl } : {}),
    logLevel,
    listeners: layout.known,
    customListeners: layout.custom,
    issuing: {
      batchMax: int(env.FAPIAO_BATCH_MAX ?? issuing.batchMax, 'issuing.batchMax', 1, 4096) ?? 256,
      signerThreads:
        int(env.FAPIAO_SIGNER_THREADS ?? issuing.signerThreads, 'issuing.signerThreads', 0, 64) ?? Math.min(2, availableParallelism()),
      taxIdExceptions: exceptions,
      defaultChannel: channel,
    },
    http: {
      bodyLimit: int(http.bodyLimit, 'http.bodyLimit', 1024, 64 * 1024 * 1024) ?? 1024 * 1024,
      maxPageSize: int(http.maxPageSize, 'http.maxPageSize', 1, 1000) ?? 100,
      trustedProxies: cidrList(http.trustedProxies, 'http.trustedProxies'),
      headersTimeoutMs,
      requestTimeoutMs,
      maxHeaderSize: int(http.maxHeaderSize, 'http.maxHeaderSize', 1024, 1024 * 1024) ?? 16 * 1024,
    },
    audit: {
      // The floor is AUDIT_MIN_RETENTION_DAYS of storage.ts (the purge refuses younger cutoffs whatever is set here).
      retentionDays: int(env.FAPIAO_AUDIT_RETENTION_DAYS ?? audit.retentionDays, 'audit.retentionDays', 180, 36_500) ?? 180,
    },
    abuse: abusePolicy(file.abuse, env),
    events: {
      pollIntervalMs: int(events.pollIntervalMs, 'events.pollIntervalMs', 10, 60_000) ?? 250,
      heartbeatSec: int(events.heartbeatSec, 'events.heartbeatSec', 1, 300) ?? 15,
      maxStreamsPerTenant: int(events.maxStreamsPerTenant, 'events.maxStreamsPerTenant', 1, 100_000) ?? 20,
      maxStreams: int(events.maxStreams, 'events.maxStreams', 1, 1_000_000) ?? 1000,
      maxBufferedBytes: int(events.maxBufferedBytes, 'events.maxBufferedBytes', 1024, 64 * 1024 * 1024) ?? 1024 * 1024,
      gapTimeoutMs: int(events.gapTimeoutMs, 'events.gapTimeoutMs', 0, 600_000) ?? 5000,
    },
    verify: {
      perInvoicePerDay:
        int(env.FAPIAO_VERIFY_PER_INVOICE_PER_DAY ?? verify.perInvoicePerDay, 'verify.perInvoicePerDay', 1, 1_000_000) ?? 5,
      perIpPerMinute: int(env.FAPIAO_VERIFY_PER_IP_PER_MINUTE ?? verify.perIpPerMinute, 'verify.perIpPerMinute', 1, 1_000_000) ?? 50,
    },
  };
  return deepFreeze(config);
}

/**
 * Earlier master keys: `<version>:<base64>` entries, comma-separated in FAPIAO_MASTER_KEY_PREVIOUS or an array in
 * `masterKeyPrevious`. Versions are unique and differ from the current one. Errors name the setting, never a key.
 */
function masterKeyList(envValue: string | undefined, fileValue: unknown, current: number): { version: number; key: string }[] {
  const setting = envValue ? 'FAPIAO_MASTER_KEY_PREVIOUS' : 'masterKeyPrevious';
  const entries = envValue ? envValue.split(',').map((e) => e.trim()).filter((e) => e !== '') : stringList(fileValue, setting) ?? [];
  const seen = new Set<number>([current]);
  return entries.map((entry) => {
    const m = /^([1-9][0-9]{0,9}):([A-Za-z0-9+/]+={0,2})$/.exec(entry);
    if (!m || Buffer.from(m[2]!, 'base64').length !== 32) throw new ConfigError(setting, 'entries must be <version>:<base64 of 32 bytes>');
    const version = Number(m[1]);
    if (version > 2_147_483_647) throw new ConfigError(setting, 'versions must be at most 2147483647');
    if (seen.has(version)) throw new ConfigError(setting, 'each version may appear once and must differ from masterKeyVersion');
    seen.add(version);
    return { version, key: m[2]! };
  });
}

function cidrList(v: unknown, setting: string): string[] {
  const list = stringList(v, setting) ?? [];
  for (const e of list) if (!parseCidr(e)) throw new ConfigError(setting, 'entries must be addresses or CIDR blocks');
  return list;
}

function abusePolicy(v: unknown, env: Env): AbusePolicy {
  if (v !== undefined && !isObject(v)) throw new ConfigError('abuse', 'must be an object');
  const input = { ...(v ?? {}) } as AbusePolicyInput & Json;
  const pub = int(env.FAPIAO_PUBLIC_RATE_PER_MINUTE, 'FAPIAO_PUBLIC_RATE_PER_MINUTE', 1, 100_000_000);
  if (pub !== undefined) input.public = { ...(input.public ?? {}), limit: pub, windowSec: 60 };
  const ten = int(env.FAPIAO_TENANT_RATE_PER_MINUTE, 'FAPIAO_TENANT_RATE_PER_MINUTE', 1, 100_000_000);
  if (ten !== undefined) input.tenant = { ...(input.tenant ?? {}), limit: ten, windowSec: 60 };
  if (input.blockedCidrs !== undefined) input.blockedCidrs = cidrList(input.blockedCidrs, 'abuse.blockedCidrs');
  if (input.exemptCidrs !== undefined) input.exemptCidrs = cidrList(input.exemptCidrs, 'abuse.exemptCidrs');
  try {
    return resolveAbusePolicy(input);
  } catch (err) {
    throw new ConfigError('abuse', err instanceof Error ? err.message : 'invalid');
  }
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
