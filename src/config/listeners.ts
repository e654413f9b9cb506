// Listeners and route groups (docs/design.md §5): the six named listeners with their defaults, the route groups a listener
// may serve, the schema of `listeners.<name>` in the config file (TLS files, allowlists, mutual TLS, custom listeners
// declared in the file), and the layout built from the validated file with the FAPIAO_LISTEN_<NAME> overrides.
import { isAbsolute, resolve } from 'node:path';
import { Type, type Static } from 'typebox';
import type { Config } from './config.ts';
import { bool, ConfigError, int, list, text, type Env, type Json } from './read.ts';

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

type ListenerDefaults = Omit<ListenerConfig, 'name'> & { description: string };

const DEFAULT_LISTENERS: Record<ListenerName, ListenerDefaults> = {
  api: {
    host: DEFAULT_HOST, port: 8443, enabled: true, tls: true, groups: ['issue', 'query', 'public'], allow: [],
    description: 'The tenant API (API key) and the public verification: verify API, `/verify` page, published keys.',
  },
  partner: {
    host: DEFAULT_HOST, port: 6443, enabled: true, tls: true, groups: ['issue', 'query'], allow: [],
    description: 'Issue and query over mutual TLS: the client certificate names the tenant.',
  },
  admin: {
    host: DEFAULT_HOST, port: 8080, enabled: true, tls: true, groups: ['admin', 'docs'], allow: LOOPBACK,
    description: '`/admin/v1/…` (admin token) and the API description `/docs`.',
  },
  push: {
    host: DEFAULT_HOST, port: 8899, enabled: true, tls: true, groups: ['push'], allow: [],
    description: 'The live event stream `GET /v1/events` (API key with `invoices:read`).',
  },
  metrics: {
    host: DEFAULT_HOST, port: 9090, enabled: true, tls: false, groups: ['metrics', 'health'], allow: LOOPBACK,
    description: '`/metrics` (Prometheus), `/healthz`, `/readyz`, in plain HTTP.',
  },
  redirect: {
    host: DEFAULT_HOST, port: 8000, enabled: true, tls: false, groups: ['redirect'], allow: [],
    description: 'Plain HTTP: 301 to HTTPS for pages; API calls refused.',
  },
};

/** The variable of a listener: FAPIAO_LISTEN_<NAME>, `-` as `_`. */
export const listenVariable = (name: string) => `FAPIAO_LISTEN_${name.toUpperCase().replaceAll('-', '_')}`;

const FINGERPRINT = '^([0-9A-Fa-f]{2}:?){32}$';

/** `listeners.<name>.mtls`; `required`: present with its defaults when the file says nothing (partner). */
const mtlsSchema = (required: boolean) => Type.Object(
  {
    clientCa: Type.Optional(text({ description: 'PEM file of the CA that issues client certificates.', defaultText: 'the development CA of `fapiao init`' })),
    crl: Type.Optional(text({ description: 'PEM certificate revocation list of that CA.' })),
    clients: list(
      Type.Object(
        { tenantId: Type.String(), fingerprint256: Type.String({ pattern: FINGERPRINT }) },
        { rule: 'each entry needs tenantId and a SHA-256 fingerprint256' },
      ),
      { default: [], rule: 'must be an array of { tenantId, fingerprint256 }', description: 'Certificates mapped to tenants by SHA-256 fingerprint: `{ "tenantId", "fingerprint256" }` entries.' },
    ),
    revokedFingerprints: list(Type.String(), { default: [], description: 'SHA-256 fingerprints of client certificates refused.' }),
    tenantFromSubject: bool({ default: true, description: 'Accept certificates of the client CA whose subject CN is a tenant id (as `fapiao client-cert` makes).' }),
  },
  {
    ...(required ? { default: {} } : {}),
    description: 'Mutual TLS: required on partner (present with its defaults), optional elsewhere. Paths are relative to the working directory.',
  },
);

const TLS_FILES = Type.Object(
  { cert: text({ description: 'PEM certificate chain.' }), key: text({ description: 'PEM private key.' }) },
  { rule: 'needs both cert and key' },
);

/** Host, port and enabled come from FAPIAO_LISTEN_<NAME> when it is set (`listener` below reads it). */
const LISTEN_VARIABLE = { env: 'FAPIAO_LISTEN_<NAME>', envInCode: true };

/** `listeners.<name>`: a named listener with its defaults, or (no defaults) a custom one, which needs port and groups. */
function listenerSchema(name: string, d: ListenerDefaults | undefined) {
  const mtls = name === 'partner' ? mtlsSchema(true) : Type.Optional(mtlsSchema(false));
  return Type.Object(
    {
      enabled: bool({ default: d?.enabled ?? true, ...LISTEN_VARIABLE, description: '`false`: the listener is not started.' }),
      host: text({ default: d?.host ?? DEFAULT_HOST, ...LISTEN_VARIABLE, description: 'Address to bind; `0.0.0.0` or `::` for every interface.' }),
      port: int(0, 65535, { ...(d ? { default: d.port } : {}), ...LISTEN_VARIABLE, description: '`0` picks a free port.' }),
      tls: Type.Union([Type.Boolean(), TLS_FILES], {
        default: d?.tls ?? true,
        rule: 'must be false, true or an object with cert and key',
        description: '`false` for plain HTTP, `true` for the development certificate of `fapiao init`, or `{ "cert", "key" }` PEM paths (relative to the working directory).',
      }),
      groups: list(Type.Enum(ROUTE_GROUPS, { rule: `unknown route group (known: ${ROUTE_GROUPS.join(', ')})` }), {
        ...(d ? { default: d.groups } : {}),
        description: 'Route groups served.',
      }),
      allow: list(Type.String({ pattern: '^[0-9a-fA-F:.]+(\\/\\d{1,3})?$', rule: 'entries must be addresses or CIDR blocks' }), {
        default: d?.allow ?? [],
        description: 'Source addresses or CIDR blocks allowed to connect; empty: anyone.',
      }),
      mtls,
    },
    {
      ...(d ? { default: {}, description: d.description } : { rule: 'a custom listener needs port and groups' }),
      env: d ? listenVariable(name) : 'FAPIAO_LISTEN_<NAME>',
      envInCode: true,
    },
  );
}

/** A custom listener's schema; the named ones differ only in their defaults. */
const CUSTOM_LISTENER = listenerSchema('custom', undefined);
type ListenerFile = Static<typeof CUSTOM_LISTENER>;

export const LISTENERS_SCHEMA = Type.Object(
  Object.fromEntries(LISTENER_NAMES.map((n) => [n, listenerSchema(n, DEFAULT_LISTENERS[n])])) as Record<ListenerName, ReturnType<typeof listenerSchema>>,
  {
    default: {},
    additionalProperties: CUSTOM_LISTENER,
    title: 'Listeners',
    description:
      'Each port is a separate door with its own route groups, TLS and allowlist ([operations.md](operations.md#listeners-and-route-groups)). ' +
      '`FAPIAO_LISTEN_<NAME>` sets a ' +
      "listener's address as `host:port`, `[ipv6]:port`, `:port` (keeps the host) or `off` (disables it), over the file. " +
      'Further names in `listeners` declare custom listeners (lower-case letters, digits and `-`), which need `port` and ' +
      '`groups`, e.g. a reporting port serving only `query`.',
  },
);

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

/** A listener from its validated file entry (defaults filled in) and its variable. */
function listener(name: string, f: ListenerFile, env: Env, cwd: string): ListenerConfig {
  const path = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p));
  let { enabled, host, port } = f;
  const envName = listenVariable(name);
  const envValue = env[envName];
  if (envValue !== undefined && envValue !== '') {
    const l = parseListen(envValue, envName);
    enabled = l.enabled;
    host = l.host ?? host;
    port = l.port ?? port;
  }
  const tlsFiles = typeof f.tls === 'object' ? { cert: path(f.tls.cert), key: path(f.tls.key) } : undefined;
  const m = f.mtls;
  const mtls: MtlsConfig | undefined = m && {
    ...(m.clientCa ? { clientCa: path(m.clientCa) } : {}),
    ...(m.crl ? { crl: path(m.crl) } : {}),
    clients: m.clients.map((c) => ({ tenantId: c.tenantId, fingerprint256: c.fingerprint256 })),
    revokedFingerprints: m.revokedFingerprints,
    tenantFromSubject: m.tenantFromSubject,
  };
  return { name, enabled, host, port, tls: f.tls !== false, ...(tlsFiles ? { tlsFiles } : {}), groups: f.groups, allow: f.allow, ...(mtls ? { mtls } : {}) };
}

/** The layout from `listeners` as validated against LISTENERS_SCHEMA. */
export function listeners(validated: Json, env: Env, cwd: string): { known: Record<ListenerName, ListenerConfig>; custom: ListenerConfig[] } {
  const file = validated as Record<string, ListenerFile>;
  const known = {} as Record<ListenerName, ListenerConfig>;
  for (const name of LISTENER_NAMES) known[name] = listener(name, file[name]!, env, cwd);
  const custom: ListenerConfig[] = [];
  for (const [name, f] of Object.entries(file)) {
    if ((LISTENER_NAMES as readonly string[]).includes(name)) continue;
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) throw new ConfigError(`listeners.${name}`, 'names are lower-case letters, digits and -');
    custom.push(listener(name, f, env, cwd));
  }
  return { known, custom };
}

/** Every enabled listener, the six of docs/design.md §5 first. */
export function enabledListeners(config: Readonly<Config>): ListenerConfig[] {
  return [...LISTENER_NAMES.map((n) => config.listeners[n]), ...config.customListeners].filter((l) => l.enabled);
}
