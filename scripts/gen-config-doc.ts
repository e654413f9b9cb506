// Writes docs/configuration.md from the configuration schema (CONFIG_SCHEMA, src/config/config.ts): one section per
// group of settings, each setting with its variable, type, default, bounds and description. test/config-doc.test.ts
// fails when the two drift.
import { writeFileSync } from 'node:fs';
import { CONFIG_SCHEMA } from '../src/config/config.ts';
import { LISTENER_NAMES } from '../src/config/listeners.ts';
import { node, type Node } from '../src/config/read.ts';

/** One documented setting: a leaf of the schema (scalar, list or union). */
export interface ConfigRow {
  path: string;
  node: Node;
}

const isSection = (n: Node) => n.type === 'object' && n.properties !== undefined && !n.anyOf;

/** The settings under `n` at `path`, depth first in schema order. */
function leaves(n: Node, path: string): ConfigRow[] {
  if (!isSection(n)) return [{ path, node: n }];
  return Object.entries(n.properties!).flatMap(([k, c]) => leaves(c, path ? `${path}.${k}` : k));
}

/** The listener template: a custom listener's schema, under `listeners.<name>`. */
const LISTENERS = node(CONFIG_SCHEMA).properties!.listeners!;
const TEMPLATE = LISTENERS.additionalProperties as Node;
const NAMED = LISTENER_NAMES.map((name) => [name, LISTENERS.properties![name]!] as const);

/** Every setting of the schema (the listeners once, as `listeners.<name>.…`). */
export function configRows(): ConfigRow[] {
  return Object.entries(node(CONFIG_SCHEMA).properties!).flatMap(([k, c]) => (k === 'listeners' ? leaves(TEMPLATE, 'listeners.<name>') : leaves(c, k)));
}

const cell = (s: string) => s.replaceAll('|', '\\|');
const code = (s: string) => `\`${s}\``;

function value(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? code('[]') : v.map((x) => code(String(x))).join(', ');
  if (isObjectValue(v)) return code(JSON.stringify(v));
  return code(String(v));
}

const isObjectValue = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeOf(n: Node): string {
  if (n.anyOf) return n.anyOf.map(typeOf).join(' or ');
  if (n.enum) return 'string';
  if (n.type === 'array') return `list of ${n.items ? plural(typeOf(n.items)) : 'values'}`;
  if (n.type === 'object') return code(`{ ${Object.keys(n.properties ?? {}).join(', ')} }`);
  return n.type ?? 'any';
}

const plural = (t: string) => (t.startsWith('`') ? t : `${t}s`);

function boundsOf(n: Node): string {
  if (n.enum) return `one of ${n.enum.map((v) => code(String(v))).join(', ')}`;
  if (n.type === 'integer') return n.maximum === undefined ? `≥ ${n.minimum}` : `${n.minimum} – ${n.maximum}`;
  if (n.format === 'address-or-cidr') return 'an address or CIDR block';
  if (n.pattern) return `matches ${code(n.pattern)}`;
  if (n.type === 'array' && n.items) {
    const item = n.items.type === 'object' ? Object.entries(n.items.properties ?? {}).filter(([, p]) => p.pattern).map(([k, p]) => `${code(k)} matches ${code(p.pattern!)}`).join('; ') : boundsOf(n.items);
    return item && `each ${item}`;
  }
  // A rule the code checks (a key's length): in the words of the error.
  if (n.rule) return n.rule.replace(/^must (be )?/, '');
  if (n.type === 'string' && n.minLength) return 'not empty';
  return '';
}

function defaultOf(n: Node): string {
  if (n.defaultText) return n.defaultText;
  if (n.default === undefined) return '—';
  return value(n.default);
}

function variableOf(n: Node): string {
  if (!n.env) return '';
  const notes = [n.envList ? 'comma-separated' : '', n.envOnly ? 'only' : ''].filter(Boolean);
  return code(n.env) + (notes.length ? ` (${notes.join(', ')})` : '');
}

function descriptionOf(n: Node): string {
  const sets = Object.entries(n.envSets ?? {}).map(([k, v]) => `The variable also sets ${code(k)} to ${v as string}.`);
  return [n.description ?? '', ...sets].filter(Boolean).join(' ');
}

function table(rows: ConfigRow[], defaults: (r: ConfigRow) => string = (r) => defaultOf(r.node)): string[] {
  return [
    '| setting | variable | type | default | bounds | description |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${[code(r.path), variableOf(r.node), typeOf(r.node), defaults(r), boundsOf(r.node), descriptionOf(r.node)].map(cell).join(' | ')} |`),
  ];
}

function listenersSection(): string[] {
  const rows = leaves(TEMPLATE, 'listeners.<name>');
  /** A field's default: one for all named listeners, or "per listener" (the table below). */
  const defaults = (r: ConfigRow) => {
    const field = r.path.slice('listeners.<name>.'.length).split('.');
    const values = NAMED.map(([, n]) => field.reduce<Node | undefined>((x, k) => x?.properties?.[k], n));
    const texts = new Set(values.map((v) => (v ? defaultOf(v) : '—')));
    return texts.size === 1 ? [...texts][0]! : 'per listener, below';
  };
  const d = (n: Node, k: string) => n.properties![k]!.default;
  return [
    `## ${LISTENERS.title}`,
    '',
    LISTENERS.description!,
    '',
    ...table(rows, defaults),
    '',
    'The named listeners and their defaults:',
    '',
    '| listener | variable | address | TLS | groups | allow | serves |',
    '|---|---|---|---|---|---|---|',
    ...NAMED.map(([name, n]) =>
      `| ${[code(name), code(n.env!), code(`${d(n, 'host') as string}:${d(n, 'port') as number}`), d(n, 'tls') ? 'yes' : 'no', value(d(n, 'groups')), value(d(n, 'allow')), n.description!].map(cell).join(' | ')} |`,
    ),
    '',
  ];
}

export function renderConfigDoc(): string {
  const out = [
    '# Configuration',
    '',
    'Every setting has a default. A JSON file overrides the defaults: `fapiao.config.json` in the working directory, or',
    'the file named by `FAPIAO_CONFIG` (which must then exist). An environment variable, where a setting has one,',
    'overrides the file. A variable set to the empty string counts as unset, `null` in the file as absent. Variables',
    'are text: integers are digits, booleans `true` or `false`, lists comma-separated. Relative paths are relative to',
    'the working directory. Unknown names in the file are ignored.',
    '',
    'The configuration is read and checked once, at start. An invalid setting stops the server (the command line exits',
    'with status 2) naming the setting, by its path in the file or by the variable it came from, and the rule it breaks;',
    'never its value, which may be a secret.',
    '',
    'Generated from the schema in `src/config/` by `npm run docs:config`; a test keeps the two in sync.',
    '',
  ];
  // Top-level scalars by group, each group where its first member is; sections in their place.
  const done = new Set<string>();
  const top = Object.entries(node(CONFIG_SCHEMA).properties!);
  for (const [key, n] of top) {
    if (key === 'listeners') {
      out.push(...listenersSection());
    } else if (isSection(n)) {
      out.push(`## ${n.title ?? key} (${code(key)})`, '', ...(n.description ? [n.description, ''] : []), ...table(leaves(n, key)), '');
    } else if (!done.has(n.group ?? '')) {
      const group = n.group ?? '';
      done.add(group);
      const members = top.filter(([, m]) => !isSection(m) && (m.group ?? '') === group).map(([k, m]) => ({ path: k, node: m }));
      out.push(`## ${group || 'Other'}`, '', ...table(members), '');
    }
  }
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../docs/configuration.md', import.meta.url), renderConfigDoc());
  console.log('wrote docs/configuration.md');
}
