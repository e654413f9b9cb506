// Configuration: one optional file (FAPIAO_CONFIG or ./fapiao.config.json) plus environment overrides, validated once
// against one schema, given defaults and frozen. This is the only module that reads process.env. An invalid setting
// stops the server naming the setting, never echoing its value (it may be a secret).
// CONFIG_SCHEMA below is the single source of every setting: type, default, bounds, environment variable and
// description (read.ts says how; the sections come from listeners.ts, security.ts and limits.ts).
// docs/configuration.md is generated from it (npm run docs:config). Importers outside src/config import from here.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Type, type Static } from 'typebox';
import type { AbusePolicy } from '../modules/abuse/domain/abuse-policy.ts';
import { LEDGER_SCHEMA } from './ledger.ts';
import { ABUSE_SCHEMA, abusePolicy, EVENTS_SCHEMA, HTTP_SCHEMA, httpLimits, VERIFY_SCHEMA } from './limits.ts';
import { listeners, LISTENERS_SCHEMA, type ListenerConfig, type ListenerName } from './listeners.ts';
import { bool, checker, ConfigError, fromFile, int, isObject, known, list, oneOf, overlayEnv, section, SettingNames, text, type Env, type Json } from './read.ts';
import { AUDIT_SCHEMA, auditSettings, KEY_SETTINGS, keySettings } from './security.ts';
import { HSM_SETTINGS, hsmSettings } from './hsm.ts';
import { WEBHOOKS_SCHEMA } from './webhooks.ts';
import { RED_LETTER_SCHEMA, redLetterSettings } from './red-letter.ts';
import { BATCHES_SCHEMA } from './batches.ts';
import { DOCUMENTS_SCHEMA } from './documents.ts';
import { EMAIL_SCHEMA } from './email.ts';
import { SIGNING_SCHEMA } from './signing.ts';
import type { SigningAlgorithm } from '../shared/signing.ts';
import { parseSentinelUrl } from '../platform/redis/redis-url.ts';

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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const ISSUING_SCHEMA = section(
  {
    batchMax: int(1, 4096, {
      default: 256,
      env: 'FAPIAO_BATCH_MAX',
      description: 'Largest number of requests numbered, signed and committed together.',
    }),
    maxQueued: int(1, 1_000_000, {
      default: 1024,
      env: 'FAPIAO_ISSUE_QUEUE_MAX',
      description: 'Issue requests waiting for a batch beyond which new ones are refused with 503 and Retry-After (overload shedding).',
    }),
    maxQueueWaitMs: int(0, 600_000, {
      default: 2000,
      env: 'FAPIAO_ISSUE_QUEUE_WAIT_MS',
      description: 'While issue requests are queued and the oldest one in the writer (waiting for a batch, or in a batch being signed or committed) has been there longer than this (ms), new ones are refused with 503 and Retry-After: the queue limit in time, whatever the machine\'s rate. Batch items are not refused (they were accepted with their batch). 0: none.',
    }),
    signerThreads: int(0, 64, {
      default: Math.min(2, availableParallelism()),
      defaultText: 'the smaller of 2 and the number of CPUs',
      env: 'FAPIAO_SIGNER_THREADS',
      description: 'Worker threads that compute invoice signatures (SM2, ECDSA-P256, Ed25519); 0 signs on the main thread.',
    }),
    taxIdExceptions: list(Type.String(), {
      default: [],
      description: 'Legal unified social credit codes that fail the GB 32100 checksum ([invoice-rules.md](invoice-rules.md)).',
    }),
    defaultChannel: Type.String({ pattern: '^\\d$', default: '1', rule: 'must be one digit', description: 'Position 5 of new tenants\' invoice numbers.' }),
    allowBuyerIsSeller: bool({
      default: false,
      env: 'FAPIAO_ALLOW_BUYER_IS_SELLER',
      description: 'Accept invoices whose buyer tax ID is the seller\'s own (`false`: refused with `BUYER_IS_SELLER`).',
    }),
  },
  { title: 'Issuing' },
);

/** Every setting. Relative paths are relative to the working directory. */
export const CONFIG_SCHEMA = Type.Object({
  dataDir: text({
    default: './data',
    env: 'FAPIAO_DATA_DIR',
    group: 'General',
    description: 'Data directory: master key, development CA and certificates, SQLite database, admin token (`fapiao init`).',
  }),
  databaseUrl: Type.Optional(
    text({
      env: 'FAPIAO_DATABASE_URL',
      group: 'General',
      pattern: '^(sqlite:|postgres(ql)?://)',
      rule: 'must start with sqlite: or postgres://',
      defaultText: '`sqlite:<dataDir>/fapiao.db`',
      description: '`sqlite:<path>` (embedded) or `postgres://user@host/db` (several nodes).',
    }),
  ),
  redisUrl: Type.Optional(
    text({
      env: 'FAPIAO_REDIS_URL',
      group: 'General',
      pattern: '^(rediss?|redis-sentinel)://',
      rule: 'must start with redis://, rediss:// or redis-sentinel://',
      defaultText: 'none: in-process',
      description:
        '`redis://…` or `rediss://…`: share rate limits and bans between nodes. Through Redis Sentinel: ' +
        '`redis-sentinel://[[user]:password@]host:port[,host:port…]/master`, the Sentinels and the name of the master ' +
        'they watch; after a Sentinel failover the nodes follow the new master (docs/cluster.md).',
    }),
  ),
  pgPreparedStatements: bool({
    default: true,
    env: 'FAPIAO_PG_PREPARED_STATEMENTS',
    group: 'General',
    description: 'PostgreSQL: run each parameterised statement as a named prepared statement of its connection, so the server parses and plans it once per connection (get by number ≈ 1.3–1.9× faster on the bench machine). Set `false` behind a pooler in transaction mode that does not keep prepared statements per client (PgBouncer before 1.21, or without `max_prepared_statements`).',
  }),
  slowQueryMs: int(0, 600_000, {
    default: 500,
    env: 'FAPIAO_SLOW_QUERY_MS',
    group: 'General',
    description: 'A SQL statement taking longer than this (ms) is logged at `warn` as `slow query` with its text and duration (never its parameters). 0: none.',
  }),
  logLevel: oneOf(LOG_LEVELS, { default: 'info', env: 'FAPIAO_LOG_LEVEL', group: 'General', description: 'Level of the JSON log lines.' }),
  publicBaseUrl: Type.Optional(
    text({
      env: 'FAPIAO_PUBLIC_BASE_URL',
      group: 'General',
      pattern: '^https://[^/]+$',
      rule: 'must be an https origin without a path, e.g. https://fapiao.example.com',
      defaultText: 'derived from the api listener',
      description: 'Public https origin printed in QR codes, the link to the verify page.',
    }),
  ),
  adminToken: Type.Optional(
    text({
      env: 'FAPIAO_ADMIN_TOKEN',
      envOnly: true,
      group: 'Keys and secrets',
      defaultText: '`<dataDir>/admin-token`, made by `init`',
      description: 'Bearer token of the admin listener. Environment only: a file value is ignored.',
    }),
  ),
  ...KEY_SETTINGS,
  ...HSM_SETTINGS,
  listeners: LISTENERS_SCHEMA,
  issuing: ISSUING_SCHEMA,
  http: HTTP_SCHEMA,
  audit: AUDIT_SCHEMA,
  abuse: ABUSE_SCHEMA,
  events: EVENTS_SCHEMA,
  verify: VERIFY_SCHEMA,
  ledger: LEDGER_SCHEMA,
  webhooks: WEBHOOKS_SCHEMA,
  redLetter: RED_LETTER_SCHEMA,
  batches: BATCHES_SCHEMA,
  email: EMAIL_SCHEMA,
  documents: DOCUMENTS_SCHEMA,
  signing: SIGNING_SCHEMA,
});

/** The configuration as the server uses it; each setting is described in CONFIG_SCHEMA (docs/configuration.md). */
export interface Config {
  /** Absolute. */
  dataDir: string;
  /** Default: `sqlite:<dataDir>/fapiao.db`. */
  databaseUrl: string;
  redisUrl?: string;
  /** Base64 of a 32-byte master key; default: `<dataDir>/master.key`, made by `init`. */
  masterKey?: string;
  masterKeyVersion: number;
  /** `masterKeyPrevious`, parsed. */
  previousMasterKeys: { version: number; key: string }[];
  /** Where the current master key lives (config/hsm.ts). */
  masterKeyProvider: 'file' | 'pkcs11';
  /** The PKCS#11 token holding HSM master keys; `pin` only from the environment. */
  hsm: { module?: string; slot?: number; tokenLabel?: string; pinFile?: string; pin?: string; keyLabel: string; previousVersions: number[] };
  /** Personal data at rest: the algorithm of new data keys. */
  fields: { algorithm: 'aes-256-gcm' | 'sm4-gcm' };
  adminToken?: string;
  /** Default derived from the api listener. */
  publicBaseUrl?: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** PostgreSQL: parameterised statements run as named prepared statements. */
  pgPreparedStatements: boolean;
  /** Statements slower than this (ms) are logged; 0: none. */
  slowQueryMs: number;
  listeners: Record<ListenerName, ListenerConfig>;
  /** Further listeners declared in the config file, e.g. a reporting port serving only `query`. */
  customListeners: ListenerConfig[];
  issuing: {
    batchMax: number;
    maxQueued: number;
    maxQueueWaitMs: number;
    signerThreads: number;
    taxIdExceptions: string[];
    defaultChannel: string;
    allowBuyerIsSeller: boolean;
  };
  http: {
    bodyLimit: number;
    maxPageSize: number;
    trustedProxies: string[];
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    maxHeaderSize: number;
    /** Mean event-loop lag (ms) over a window above which requests are shed; 0: never (platform/http/event-loop-pressure.ts). */
    maxEventLoopDelayMs: number;
    eventLoopWindowMs: number;
    /** SIGTERM: readiness false and `Connection: close` this long before the listeners close (platform/http/leaving.ts). */
    shutdownDelayMs: number;
  };
  audit: { retentionDays: number };
  /** Rate limits, tiered bans, blocks (modules/abuse/http/abuse-control.ts). */
  abuse: AbusePolicy;
  /** The live event stream (route group `push`, modules/events/app/event-stream.ts). */
  events: {
    pollIntervalMs: number;
    heartbeatSec: number;
    maxStreamsPerTenant: number;
    maxStreams: number;
    maxBufferedBytes: number;
    gapTimeoutMs: number;
  };
  /** 发票查验 limits against enumeration (docs/invoice-rules.md, "Verification"). */
  verify: { perInvoicePerDay: number; perIpPerMinute: number };
  /** The ledger (modules/ledger): `origin` defaults to the host of publicBaseUrl, else `localhost`. */
  ledger: {
    origin?: string; checkpointIntervalMs: number; idleCheckpointSec: number;
    /** Witnesses of the log and the k of the k-of-n policy (docs/ledger.md "Witnesses of the log"). */
    witnesses: { url: string; verifierKey: string }[]; witnessQuorum?: number; witnessTimeoutMs: number;
    /** Tile nodes kept for proofs (LedgerService), and whether this node integrates (BENCHMARKS.md "Ledger"). */
    proofCacheMb: number; integrator: boolean;
    /** A second signature line by an SM2 log key on every checkpoint (docs/ledger.md "Signed notes"). */
    sm2Signature: boolean;
  };
  /** Webhook delivery (modules/delivery/). */
  webhooks: {
    allowTargets: string[];
    allowHttp: boolean;
    connectTimeoutMs: number;
    responseTimeoutMs: number;
    perEndpointConcurrency: number;
    maxInFlight: number;
    idlePollMs: number;
    maxEndpointsPerTenant: number;
    breakerThreshold: number;
    breakerCooldownMs: number;
  };
  /** E-mail delivery through an SMTP server (modules/delivery/); off without `host`. */
  email: {
    host?: string;
    port: number;
    security: 'starttls' | 'tls' | 'none';
    user?: string;
    password?: string;
    caFile?: string;
    from: string;
    connectTimeoutMs: number;
    sendTimeoutMs: number;
    maxInFlight: number;
  };
  /** Red-letter forms (modules/red-letter/): reason code → label, and the rule for buyers not on this server. */
  redLetter: { reasons: Readonly<Record<string, string>>; nonTenantBuyerConfirms: boolean };
  /** Batch issuance (modules/batches/). */
  batches: { maxBodyBytes: number; leaseSec: number; idlePollMs: number };
  /** Document rendering (modules/documents/). */
  documents: { renderCacheMb: number };
  /** Invoice signatures: the algorithm of tenants that name none (shared/signing.ts). */
  signing: { algorithm: SigningAlgorithm; sm2BaseMul: 'openssl' | 'table' };
}

// The schema and Config agree, checked at compile time: a setting added to one and not the other fails typecheck.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
type File = Static<typeof CONFIG_SCHEMA>;
export type _SchemaMatchesConfig = [
  Assert<Same<File['issuing'], Config['issuing']>>,
  Assert<Same<File['http'], Config['http']>>,
  Assert<Same<File['audit'], Config['audit']>>,
  Assert<Same<File['events'], Config['events']>>,
  Assert<Same<File['verify'], Config['verify']>>,
  Assert<Same<File['ledger'], Config['ledger']>>,
  Assert<Same<File['webhooks'], Config['webhooks']>>,
  Assert<Same<File['redLetter']['nonTenantBuyerConfirms'], Config['redLetter']['nonTenantBuyerConfirms']>>,
  Assert<Same<File['batches'], Config['batches']>>,
  Assert<Same<File['documents'], Config['documents']>>,
  Assert<Same<File['signing'], Config['signing']>>,
  Assert<Same<File['email'], Config['email']>>,
  Assert<Same<File['fields'], Config['fields']>>,
  Assert<Same<File['logLevel'], Config['logLevel']>>,
  Assert<Same<File['masterKeyVersion'], Config['masterKeyVersion']>>,
  Assert<File['abuse'] extends AbusePolicy ? true : false>,
  Assert<Same<keyof File['abuse'], keyof AbusePolicy>>,
  Assert<Same<Exclude<keyof File, 'masterKeyPrevious'>, Exclude<keyof Config, 'previousMasterKeys' | 'customListeners'>>>,
];

const check = checker(CONFIG_SCHEMA);

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

/**
 * The configuration: each setting from its environment variable if set and not empty, else from the file, else its
 * default; validated against CONFIG_SCHEMA, then the cross-field rules.
 */
/** A `redis-sentinel://` URL must name its Sentinels as host:port and a master (platform/redis/redis-url.ts). */
function checkRedisUrl(url: string, names: SettingNames): string {
  try {
    parseSentinelUrl(url);
  } catch (err) {
    throw names.report('redisUrl', (err as Error).message);
  }
  return url;
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Readonly<Config> {
  const data = fromFile(CONFIG_SCHEMA, readFile(env, cwd));
  const names = new SettingNames(CONFIG_SCHEMA, overlayEnv(CONFIG_SCHEMA, data, env));
  const v = check(data, names) as File;
  const dataDir = resolve(cwd, v.dataDir);
  const keys = keySettings(v, names);
  const layout = listeners(v.listeners, env, cwd);
  const config: Config = {
    dataDir,
    databaseUrl: v.databaseUrl ?? `sqlite:${join(dataDir, 'fapiao.db')}`,
    ...(v.redisUrl ? { redisUrl: checkRedisUrl(v.redisUrl, names) } : {}),
    ...keys,
    ...hsmSettings(v, keys, names),
    ...(v.adminToken ? { adminToken: v.adminToken } : {}),
    ...(v.publicBaseUrl ? { publicBaseUrl: v.publicBaseUrl } : {}),
    logLevel: v.logLevel,
    pgPreparedStatements: v.pgPreparedStatements,
    slowQueryMs: v.slowQueryMs,
    listeners: layout.known,
    customListeners: layout.custom,
    issuing: known(ISSUING_SCHEMA, v.issuing),
    http: httpLimits(v.http, names),
    audit: auditSettings(v.audit),
    abuse: abusePolicy(v.abuse),
    events: known(EVENTS_SCHEMA, v.events),
    verify: known(VERIFY_SCHEMA, v.verify),
    ledger: known(LEDGER_SCHEMA, v.ledger),
    webhooks: known(WEBHOOKS_SCHEMA, v.webhooks),
    redLetter: redLetterSettings(known(RED_LETTER_SCHEMA, v.redLetter)),
    batches: known(BATCHES_SCHEMA, v.batches),
    documents: known(DOCUMENTS_SCHEMA, v.documents),
    email: known(EMAIL_SCHEMA, v.email),
    signing: known(SIGNING_SCHEMA, v.signing),
  };
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
