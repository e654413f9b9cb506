// The schema machinery of the configuration. Every setting is one TypeBox node of the schema (config.ts assembles it
// from the sections of listeners.ts, security.ts and limits.ts): its JSON Schema type, default and bounds, plus the
// annotations of SettingMeta (environment variable, description, the rule in words). The loader
//   1. reads the file and drops what it must not hold (`null` counts as absent, environment-only settings are
//      ignored),
//   2. lays the environment over it (`overlayEnv`: a set, non-empty variable replaces the file's value, its text
//      coerced to the node's type),
//   3. fills in the defaults and checks the result against the compiled schema (`validate`).
// An invalid setting becomes one ConfigError naming the setting (its file path, or the variable it came from) and
// the rule it breaks, never the value: it may be a secret. The cross-field rules a schema cannot say run after, in
// code, naming settings through the same `SettingNames`.
import { Type, type TProperties, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import Format from 'typebox/format';
import { Value } from 'typebox/value';
import { parseCidr } from '../shared/cidr.ts';

export class ConfigError extends Error {
  constructor(readonly setting: string, reason: string) {
    super(`invalid setting ${setting}: ${reason}`);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;
export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What a setting's schema node carries beyond JSON Schema; read by the loader and by scripts/gen-config-doc.ts. */
export type SettingMeta = {
  /** One or two sentences for docs/configuration.md. */
  description?: string;
  /** The environment variable that overrides the file's value. */
  env?: string;
  /** The variable is read by the code of its section, not laid over the file (listeners.ts: `host:port` or `off`). */
  envInCode?: boolean;
  /** The variable holds a comma-separated list (entries trimmed, empty ones dropped). */
  envList?: boolean;
  /** Only the environment sets it (a secret kept out of files); the file's value is ignored. */
  envOnly?: boolean;
  /** Sibling settings the variable sets along with this one, e.g. a 60-second window for a per-minute rate. */
  envSets?: Record<string, unknown>;
  /**
   * An invalid value from the variable is reported under the file setting's name, the variable in the reason (kept
   * for settings whose callers match on that name).
   */
  envReportsPath?: boolean;
  /** The rule in words as an error states it ("must …"); default: said from the type and bounds. */
  rule?: string;
  /** The default in words, where it is computed (from another setting, from the machine) or absent. */
  defaultText?: string;
  /** The documentation section of a top-level scalar. */
  group?: string;
};

/** A schema node as plain JSON Schema with the annotations (TypeBox nodes are that). */
export interface Node extends SettingMeta {
  type?: string;
  title?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  format?: string;
  enum?: readonly unknown[];
  anyOf?: Node[];
  items?: Node;
  properties?: Record<string, Node>;
  required?: string[];
  additionalProperties?: Node | boolean;
}

export const node = (schema: TSchema): Node => schema;

type Options<T> = SettingMeta & { default?: T };

// Format `address-or-cidr`: an IPv4/IPv6 address or CIDR block as shared/cidr.ts reads them.
Format.Set('address-or-cidr', (v) => parseCidr(v) !== undefined);

/** An integer from min to max (no max: any above min). */
export function int(min: number, max: number | undefined, o: Options<number> = {}) {
  return Type.Integer({ minimum: min, ...(max === undefined ? {} : { maximum: max }), ...o });
}

export function bool(o: Options<boolean> = {}) {
  return Type.Boolean(o);
}

/** A non-empty string, optionally matching `pattern` (then say the rule in words). */
export function text(o: Options<string> & { pattern?: string } = {}) {
  return Type.String({ minLength: 1, ...o });
}

export function oneOf<const V extends string[]>(values: readonly [...V], o: Options<V[number]> = {}) {
  return Type.Enum(values, o);
}

export function list<T extends TSchema>(item: T, o: Options<readonly string[]> = {}) {
  return Type.Array(item, o);
}

/** Addresses or CIDR blocks (shared/cidr.ts). */
export function cidrList(o: Options<readonly string[]> = {}) {
  return list(Type.String({ format: 'address-or-cidr', rule: 'entries must be addresses or CIDR blocks' }), { default: [], ...o });
}

/** A group of settings: absent reads as `{}`, so its members' defaults apply. */
export function section<P extends TProperties>(properties: P, o: { title?: string; description?: string } = {}) {
  return Type.Object(properties, { default: {}, ...o });
}

/** The members of `v` its section's schema lists, in its order (a file may hold others: they are ignored). */
export function known<T extends object>(schema: TSchema, v: T): T {
  const members = v as Json;
  return Object.fromEntries(Object.keys(node(schema).properties ?? {}).filter((k) => k in members).map((k) => [k, members[k]])) as T;
}

/** The schema node of each property of an object node (`additionalProperties` for names it does not list). */
function child(n: Node, key: string): Node | undefined {
  if (n.properties && Object.hasOwn(n.properties, key)) return n.properties[key];
  return isObject(n.additionalProperties) ? n.additionalProperties : undefined;
}

/** A union resolved by the value: the object variant for an object, else the union itself. */
function variant(n: Node, value: unknown): Node {
  if (!n.anyOf) return n;
  return (isObject(value) && n.anyOf.find((v) => v.type === 'object')) || n;
}

/** The file's values as the schema reads them: `null` is absent, environment-only settings are dropped. */
export function fromFile(schema: TSchema, file: Json): Json {
  const walk = (n: Node, v: Json): Json => {
    const out: Json = {};
    for (const [key, value] of Object.entries(v)) {
      const c = child(n, key);
      if (value === null || c?.envOnly) continue;
      const cn = c && variant(c, value);
      // Defined, not assigned: a key `__proto__` stays a key (and is refused as a listener name, say).
      Object.defineProperty(out, key, {
        value: cn?.type === 'object' && isObject(value) ? walk(cn, value) : value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  return walk(node(schema), file);
}

/** Which settings took their value from which variable (setting path → variable). */
export type Sources = Map<string, string>;

/** How an error names a setting: the variable it came from, or its path in the file. */
export class SettingNames {
  constructor(private readonly schema: TSchema, readonly sources: Sources) {}

  /** The name for errors of the setting at `path` (dotted), with the reason to give. */
  report(path: string, reason: string): ConfigError {
    const variable = this.sources.get(path);
    if (variable === undefined) return new ConfigError(path, reason);
    if (this.nodeAt(path)?.envReportsPath) return new ConfigError(path, `${reason} (set by ${variable})`);
    return new ConfigError(variable, reason);
  }

  private nodeAt(path: string): Node | undefined {
    let n: Node | undefined = node(this.schema);
    for (const key of path.split('.')) n = n && child(n, key);
    return n;
  }
}

/** The text of a variable as the node's type: integers `^\d+$`, booleans true/false, lists comma-separated. */
function coerce(n: Node, raw: string): unknown {
  if (n.type === 'integer') return /^\d+$/.test(raw) ? Number(raw) : raw;
  if (n.type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  if (n.type === 'array' && n.envList) return raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  return raw;
}

/**
 * Lays the set, non-empty variables of the schema over `data` (mutated): a variable wins over the file. A section
 * that is not an object is left as it is, for validation to refuse.
 */
export function overlayEnv(schema: TSchema, data: Json, env: Env): Sources {
  const sources: Sources = new Map();
  const walk = (n: Node, at: string[], parent: () => Json | undefined) => {
    for (const [key, c] of Object.entries(n.properties ?? {})) {
      const raw = c.env === undefined || c.envInCode ? undefined : env[c.env];
      if (raw !== undefined && raw !== '') {
        const target = parent();
        if (target) {
          target[key] = coerce(c, raw);
          sources.set([...at, key].join('.'), c.env!);
          for (const [sibling, value] of Object.entries(c.envSets ?? {})) {
            target[sibling] = value;
            sources.set([...at, sibling].join('.'), c.env!);
          }
        }
      }
      if (c.type === 'object' && c.properties) {
        walk(c, [...at, key], () => {
          const p = parent();
          if (!p) return undefined;
          if (p[key] === undefined) p[key] = {};
          return isObject(p[key]) ? p[key] : undefined;
        });
      }
    }
  };
  walk(node(schema), [], () => data);
  return sources;
}

/** The rule a node states, in the words of an error. */
export function ruleOf(n: Node): string {
  if (n.rule) return n.rule;
  if (n.enum) return `must be one of ${n.enum.join(', ')}`;
  switch (n.type) {
    case 'integer':
      if (n.maximum !== undefined) return `must be an integer from ${n.minimum} to ${n.maximum}`;
      return n.minimum === 1 ? 'must be a positive integer' : `must be an integer of at least ${n.minimum}`;
    case 'boolean':
      return 'must be true or false';
    case 'string':
      return n.pattern ? `must match ${n.pattern}` : 'must be a non-empty string';
    case 'array':
      return n.items?.type === 'string' || n.items?.enum ? 'must be an array of strings' : 'must be an array';
    case 'object':
      return 'must be an object';
    default:
      return 'is not valid';
  }
}

interface Failure {
  instancePath: string;
  keyword: string;
}

/** The setting at fault and its rule, for the first failure (or a more precise one below it). */
function explain(schema: TSchema, data: Json, failures: Failure[]): { path: string; rule: string } {
  // `anyOf` and `additionalProperties` summarise failures listed on their own.
  const list = failures.filter((f) => f.keyword !== 'anyOf' && f.keyword !== 'additionalProperties');
  const first = (list.length > 0 ? list : failures)[0]!;
  let pick = first;
  for (const f of list) if (f.instancePath.startsWith(`${pick.instancePath}/`)) pick = f;
  const segments = pick.instancePath.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  let n = node(schema);
  let value: unknown = data;
  const at: string[] = [];
  for (const key of segments) {
    n = variant(n, value);
    if (n.type === 'array') {
      // An entry of a list: the list is the setting; the entry's rule if it has one.
      return { path: at.join('.'), rule: n.items?.rule ?? ruleOf(n) };
    }
    const c = child(n, key);
    if (!c) break;
    n = c;
    value = isObject(value) ? value[key] : undefined;
    at.push(key);
  }
  return { path: at.join('.'), rule: ruleOf(variant(n, value)) };
}

export interface Checker {
  /** Fills in the defaults of `data` (mutated: returned) and checks it; throws ConfigError. */
  (data: Json, names: SettingNames): Json;
}

/** The compiled check of `schema` with the errors of this module. */
export function checker(schema: TSchema): Checker {
  const compiled = Compile(schema);
  return (data, names) => {
    const filled = Value.Default(schema, data) as Json;
    if (compiled.Check(filled)) return filled;
    const { path, rule } = explain(schema, filled, [...compiled.Errors(filled)]);
    throw names.report(path, rule);
  };
}
