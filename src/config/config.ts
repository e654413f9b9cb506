// Configuration: one optional file (FAPIAO_CONFIG or ./fapiao.config.json) plus environment overrides, validated once,
// given defaults and frozen. This is the only module that reads process.env. An invalid setting stops the server
// naming the setting, never echoing its value (it may be a secret).
// The entry: it reads the file and the environment and builds Config; the sections are read by listeners.ts,
// security.ts and limits.ts over the value readers of read.ts. Importers outside src/config import from here.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { AbusePolicy } from '../modules/abuse/http/abuse-control.ts';
import { abusePolicy, eventLimits, httpLimits, httpTimeouts, verifyLimits } from './limits.ts';
import { listeners, type ListenerConfig, type ListenerName } from './listeners.ts';
import { ConfigError, int, isObject, str, type Env, type Json } from './read.ts';
import { auditSettings, keySettings } from './security.ts';

export { ConfigError } from './read.ts';
export {
  enabledListeners,
  LISTENER_NAMES,
  parseListen,
  ROUTE_GROUPS,
  type ListenerConfig,
  type ListenerName,
  type MtlsConfig,
  type RouteGroup,
} from './listeners.ts';

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
  /** Personal data at rest (platform/storage/field-protector.ts). */
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
    /** Legal unified social credit codes that fail the GB 32100 checksum (docs/invoice-rules.md). */
    taxIdExceptions: string[];
    /** Position 5 of new tenants' invoice numbers. */
    defaultChannel: string;
    /** Accept invoices whose buyer tax ID is the seller's own (default false: BUYER_IS_SELLER). */
    allowBuyerIsSeller: boolean;
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
  /** Rate limits, tiered bans, blocks (modules/abuse/http/abuse-control.ts). */
  abuse: AbusePolicy;
  /** The live event stream (route group `push`, modules/events/app/event-stream.ts). */
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
  /** 发票查验 limits against enumeration (docs/invoice-rules.md, "Verification"). */
  verify: {
    /** Checks naming one invoice number per day (UTC+8), matched or not; the public service allows 5. */
    perInvoicePerDay: number;
    /** Requests to the verify page and API per client address per minute. */
    perIpPerMinute: number;
  };
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

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Readonly<Config> {
  const file = readFile(env, cwd);
  const dataDir = resolve(cwd, env.FAPIAO_DATA_DIR || str(file.dataDir, 'dataDir') || './data');
  const databaseUrl = env.FAPIAO_DATABASE_URL || str(file.databaseUrl, 'databaseUrl') || `sqlite:${join(dataDir, 'fapiao.db')}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(env.FAPIAO_DATABASE_URL ? 'FAPIAO_DATABASE_URL' : 'databaseUrl', 'must start with sqlite: or postgres://');
  }
  const redisUrl = env.FAPIAO_REDIS_URL || str(file.redisUrl, 'redisUrl');
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('FAPIAO_REDIS_URL', 'must start with redis://');
  const keys = keySettings(file, env);
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
  const allowBuyerIsSeller = env.FAPIAO_ALLOW_BUYER_IS_SELLER !== undefined
    ? bool(env.FAPIAO_ALLOW_BUYER_IS_SELLER, 'FAPIAO_ALLOW_BUYER_IS_SELLER')
    : bool(issuing.allowBuyerIsSeller, 'issuing.allowBuyerIsSeller');
  const layout = listeners(file, env, cwd);
  const timeouts = httpTimeouts(file);
  const config: Config = {
    dataDir,
    databaseUrl,
    ...(redisUrl ? { redisUrl } : {}),
    ...keys,
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
      allowBuyerIsSeller: allowBuyerIsSeller ?? false,
    },
    http: httpLimits(file, timeouts),
    audit: auditSettings(file, env),
    abuse: abusePolicy(file.abuse, env),
    events: eventLimits(file),
    verify: verifyLimits(file, env),
  };
  return deepFreeze(config);
}

/** A boolean setting: true/false in the file, "true"/"false" in the environment. */
function bool(v: unknown, setting: string): boolean | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new ConfigError(setting, 'must be true or false');
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
