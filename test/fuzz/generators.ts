// Request generators of the fuzz suite, driven by the OpenAPI description (docs/openapi.json, generated from the route
// schemas) plus the listeners' routes it leaves out (/healthz, /readyz, /metrics, the /verify page, /docs, the
// redirect listener). Everything is a pure function of (seed, request index): request #i can be regenerated alone
// from the seed printed with a failure, whatever ran before it or alongside it.
//
// Strings and numbers are the inputs that break servers in practice: lone surrogates (not valid Unicode scalar
// values, so not encodable in UTF-8: RFC 3629 §3), NUL and the C0/C1 controls, the noncharacters U+FFFE/U+FFFF
// (Unicode §23.7), bidirectional controls (Unicode TR #9), astral and combining characters, very long strings, huge
// JSON numbers (RFC 8259 §6 leaves their range to the implementation) and decimal strings far beyond any amount.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { idCardCheckChar, usccCheckChar } from '../../src/modules/invoicing/domain/tax-id.ts';
import { formatCents } from '../helpers/invoice-factory.ts';
import { SIGNING_ALGORITHMS } from '../../src/shared/signing.ts';

// ---------------------------------------------------------------------------------------------------------------
// Seeded randomness

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): tiny, fast, good enough for test inputs. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** 0 ≤ n < max. */
  int(max: number): number {
    return max <= 1 ? 0 : Math.floor((this.u32() / 0x1_0000_0000) * max);
  }

  /** lo ≤ n ≤ hi. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** One of `choices` with probability proportional to its weight. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((s, [w]) => s + w, 0);
    let r = (this.u32() / 0x1_0000_0000) * total;
    for (const [w, v] of choices) {
      if (r < w) return v;
      r -= w;
    }
    return choices[choices.length - 1]![1];
  }

  hex(chars: number): string {
    let s = '';
    while (s.length < chars) s += this.u32().toString(16).padStart(8, '0');
    return s.slice(0, chars);
  }

  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(10));
    return s;
  }
}

/** The seed of request `index` of a run: a 32-bit mix (splitmix32 finaliser) of the run's seed and the index. */
export function requestSeed(seed: number, index: number): number {
  let z = (seed ^ Math.imul(index + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Settings from the environment, with the CI defaults. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
  return n;
}

export const FUZZ_SEED = envInt('FAPIAO_FUZZ_SEED', 20261124);

// ---------------------------------------------------------------------------------------------------------------
// Hostile strings and numbers

/** Named so that a failure report says which kind of string did it. */
export const NASTY_STRINGS: readonly (readonly [string, string])[] = [
  ['lone-high-surrogate', '买方\uD800公司'],
  ['lone-low-surrogate', '\uDC00'],
  ['reversed-surrogates', 'a\uDE00\uD83Db'],
  ['surrogate-at-end', 'abc\uDBFF'],
  ['nul', 'a\u0000b'],
  ['only-nul', '\u0000'],
  ['c0-controls', '\u0001\u0002\u0007\u0008\u000b\u000c\u001b[31m\u001f'],
  ['tab-cr-lf', 'a\tb\rc\nd'],
  ['del', 'x\u007f'],
  ['c1-controls', '\u0080\u0085\u009b\u009f'],
  ['nonchar-fffe', '\uFFFE'],
  ['nonchar-ffff', '名称\uFFFF'],
  ['nonchar-fdd0', '\uFDD0\uFDEF'],
  ['nonchar-astral', '\u{1FFFE}\u{10FFFF}'],
  ['bom', '\uFEFF软件'],
  ['rtl-override', '\u202Eabc\u202C'],
  ['rtl-marks', '\u200F名称\u200E'],
  ['bidi-isolates', '\u2066x\u2067y\u2068z\u2069'],
  ['zero-width', 'a\u200Bb\u200Cc\u200Dd\u2060'],
  ['line-separators', 'a\u2028b\u2029c'],
  ['astral', '𠀋𡈽𨋢😀'],
  ['emoji-zwj', '👩‍👩‍👧‍👦🏳️‍🌈'],
  ['combining', 'e\u0301\u0302\u0303\u0304'],
  ['zalgo', `Z${'\u0336\u0334\u0358'.repeat(40)}`],
  ['variation-selectors', '☃\uFE0F葛\u{E0100}'],
  ['tag-characters', '\u{E0041}\u{E0042}'],
  ['private-use', '\uE000\u{F0000}'],
  ['unassigned', '\u0378\u0379'],
  ['replacement-char', '\uFFFD'],
  ['fullwidth', 'ＡＢＣ１２３'],
  ['nbsp-ideographic-space', '\u00A0\u3000'],
  ['whitespace-only', '   '],
  ['empty', ''],
  ['crlf-injection', 'a\r\nX-Injected: 1'],
  ['html', '<script>alert(1)</script>'],
  ['sql', "' OR '1'='1' --"],
  ['template', '{{7*7}}${7*7}'],
  ['traversal', '../../../etc/passwd'],
  ['backslashes', '\\\\\\'],
  ['quotes', '"\'`'],
  ['percent', '%00%ED%A0%80%'],
  ['long-300', 'a'.repeat(300)],
  ['long-cjk-2k', '发'.repeat(2000)],
  ['long-astral-1k', '😀'.repeat(1000)],
  ['long-10k', 'x'.repeat(10_000)],
  ['long-combining-5k', `a${'\u0301'.repeat(5000)}`],
  ['surrogate-at-limit-100', `${'a'.repeat(99)}\uD800`],
  ['astral-at-limit-100', '😀'.repeat(100)],
  ['at-limit-20', '张'.repeat(20)],
  ['over-limit-21', '张'.repeat(21)],
];

/** Decimal strings that no amount, quantity or rate should ever choke on. */
export const NASTY_DECIMALS: readonly (readonly [string, string])[] = [
  ['huge-1000-digits', '9'.repeat(1000)],
  ['huge-40-digits', `1${'0'.repeat(40)}.00`],
  ['max-pattern', '999999999999999.9999999999999'],
  ['just-over-15', '1000000000000000'],
  ['tiny', `0.${'0'.repeat(300)}1`],
  ['many-fraction-digits', `1.${'1'.repeat(500)}`],
  ['negative-zero', '-0'],
  ['negative-zero-cents', '-0.00'],
  ['zero', '0'],
  ['leading-zeros', '00000000000000100.00'],
  ['exponent', '1e2'],
  ['big-exponent', '1e400'],
  ['hex', '0x64'],
  ['plus', '+100.00'],
  ['spaces', ' 100.00 '],
  ['thousands', '1,000.00'],
  ['comma-decimal', '100,00'],
  ['infinity', 'Infinity'],
  ['nan', 'NaN'],
  ['dot-only', '.'],
  ['trailing-dot', '100.'],
  ['leading-dot', '.5'],
  ['fullwidth-digits', '１００．００'],
  ['arabic-indic', '١٠٠'],
  ['negative', '-100.00'],
  ['underscore', '1_000'],
  ['max-safe-plus-2', '9007199254740993'],
];

/** Raw JSON number tokens, inserted where a string or an object is expected. */
export const RAW_NUMBERS: readonly (readonly [string, string])[] = [
  ['overflow-1e309', '1e309'],
  ['underflow', '1e-400'],
  ['thirty-digits', '123456789012345678901234567890'],
  ['unsafe-integer', '9007199254740993'],
  ['negative-zero', '-0'],
  ['fraction', '100.005'],
  ['thousand-digits', '9'.repeat(1000)],
  ['exponent-huge', `1e${'9'.repeat(20)}`],
];

// ---------------------------------------------------------------------------------------------------------------
// JSON text with what JSON.stringify cannot write: raw tokens, duplicate and forbidden keys

/** A piece of JSON text inserted verbatim. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** An object written from its entries, so keys may repeat or be `__proto__`. */
export class Entries {
  constructor(readonly entries: readonly (readonly [string, unknown])[]) {}
}

export function toJsonText(v: unknown): string {
  // JSON.stringify does the work; what it cannot write (raw tokens, repeated keys) goes in as a placeholder first.
  const inserts: string[] = [];
  const text = JSON.stringify(v, (_k, x: unknown) => {
    if (x instanceof RawJson || x instanceof Entries) {
      inserts.push(slowJsonText(x));
      return `\u0000raw:${inserts.length - 1}\u0000`;
    }
    return x;
  }) ?? 'null';
  return inserts.length === 0 ? text : text.replace(/"\\u0000raw:(\d+)\\u0000"/g, (_m, i: string) => inserts[Number(i)]!);
}

function slowJsonText(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (v instanceof Entries) return `{${v.entries.map(([k, x]) => `${JSON.stringify(k)}:${toJsonText(x)}`).join(',')}}`;
  return toJsonText(v);
}

// ---------------------------------------------------------------------------------------------------------------
// The OpenAPI description

export type Listener = 'api' | 'partner' | 'admin' | 'push' | 'metrics' | 'redirect';
export type Security = 'apiKey' | 'adminToken' | 'none';
export type Schema = Record<string, unknown>;

export interface Param {
  name: string;
  in: 'path' | 'query' | 'header';
  schema: Schema;
  required: boolean;
}

export interface Operation {
  method: string;
  /** OpenAPI template, e.g. `/v1/invoices/{number}`. */
  path: string;
  listeners: readonly Listener[];
  security: Security;
  params: readonly Param[];
  body?: Schema;
  /** false for the listeners' routes the description omits. */
  documented: boolean;
  /** How often it is picked relative to others. */
  weight: number;
}

interface OpenApiOperation {
  security?: Record<string, unknown>[];
  parameters?: { name: string; in: string; schema?: Schema; required?: boolean }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

function listenersOf(path: string): Listener[] {
  if (path.startsWith('/admin/')) return ['admin'];
  if (path === '/v1/events') return ['push'];
  if (path.startsWith('/v1/invoices')) return ['api', 'partner'];
  return ['api'];
}

const WEIGHTS: Record<string, number> = {
  'POST /v1/invoices': 10,
  'GET /v1/invoices': 6,
  'GET /v1/invoices/{number}': 4,
  'POST /v1/verify': 4,
  'GET /v1/events': 2,
  // Each export reads the whole audit log, which the run itself keeps growing (19 ms a request by the end).
  'GET /admin/v1/audit/export': 0.3,
};

/** Routes the description leaves out (hidden from it on purpose: probes, metrics, pages and the redirect catch-all). */
const UNDOCUMENTED: readonly Operation[] = [
  { method: 'GET', path: '/healthz', listeners: ['metrics'], security: 'none', params: [], documented: false, weight: 0.5 },
  { method: 'GET', path: '/readyz', listeners: ['metrics'], security: 'none', params: [], documented: false, weight: 0.5 },
  { method: 'GET', path: '/metrics', listeners: ['metrics'], security: 'none', params: [], documented: false, weight: 0.3 },
  {
    method: 'GET', path: '/verify', listeners: ['api'], security: 'none', documented: false, weight: 1,
    params: [
      { name: 'qr', in: 'query', schema: { type: 'string', maxLength: 600 }, required: false },
      { name: 'lang', in: 'query', schema: { anyOf: [{ enum: ['en'] }, { enum: ['zh'] }] }, required: false },
    ],
  },
  { method: 'GET', path: '/docs', listeners: ['admin'], security: 'none', params: [], documented: false, weight: 0.2 },
  { method: 'GET', path: '/docs/json', listeners: ['admin'], security: 'none', params: [], documented: false, weight: 0.2 },
  {
    method: 'GET', path: '/{page}', listeners: ['redirect'], security: 'none', documented: false, weight: 1,
    params: [{ name: 'page', in: 'path', schema: { type: 'string' }, required: true }],
  },
];

export const OPENAPI_PATH = new URL('../../docs/openapi.json', import.meta.url);

/** Every operation of docs/openapi.json, then the undocumented listener routes. */
export function loadOperations(): Operation[] {
  const doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8')) as { paths: Record<string, Record<string, OpenApiOperation>> };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, o] of Object.entries(methods)) {
      const m = method.toUpperCase();
      const sec = o.security?.[0];
      const security: Security = sec && 'apiKey' in sec ? 'apiKey' : sec && 'adminToken' in sec ? 'adminToken' : 'none';
      const body = o.requestBody?.content?.['application/json']?.schema;
      ops.push({
        method: m, path, listeners: listenersOf(path), security, documented: true,
        weight: WEIGHTS[`${m} ${path}`] ?? 1,
        params: (o.parameters ?? []).map((p) => ({ name: p.name, in: p.in as Param['in'], schema: p.schema ?? {}, required: p.required === true })),
        ...(body ? { body } : {}),
      });
    }
  }
  return [...ops, ...UNDOCUMENTED];
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures the generators draw on (made by the harness once the app runs)

/** Buyer personal data the fuzzer sends; none of it may appear in a log line or an error answer. */
export interface PiiPool {
  addresses: string[];
  phones: string[];
  emails: string[];
  bankAccounts: string[];
  idNumbers: string[];
}

export interface FuzzFixtures {
  /** Tenant A's key with every scope. */
  apiKey: string;
  /** Tenant A: only `invoices:read`. */
  readOnlyKey: string;
  /** Tenant B: only `invoices:issue`. */
  issueOnlyKey: string;
  /** Tenant B: every scope. */
  otherKey: string;
  revokedKey: string;
  expiredKey: string;
  adminToken: string;
  tenantId: string;
  otherTenantId: string;
  /** Admin writes with a valid token go here, so the tenants the fuzz runs on keep their keys and quota. */
  scratchTenantId: string;
  scratchKeyIds: string[];
  /** Issued before the run: number, issue date and total of tenant A's invoices. */
  invoices: { number: string; issueDate: string; total: string }[];
  pii: PiiPool;
}

export const BUYER_NAMES = ['杭州买方贸易有限公司', '北京示例科技有限公司', '深圳某某电子厂', 'ACME (Shanghai) Co., Ltd.', '李四'];

/** A valid unified social credit code (GB 32100-2015) from random digits. */
export function uscc(rng: Rng): string {
  const first17 = `91${rng.pick(['310000', '110000', '440300', '330100'])}${rng.digits(9)}`;
  return first17 + usccCheckChar(first17);
}

/** A valid resident ID-card number (GB 11643-1999), personal data. */
export function idCardNumber(rng: Rng): string {
  const birth = `${rng.range(1950, 2004)}${String(rng.range(1, 12)).padStart(2, '0')}${String(rng.range(1, 28)).padStart(2, '0')}`;
  const first17 = `${rng.pick(['330106', '310104', '110105'])}${birth}${rng.digits(3)}`;
  return first17 + idCardCheckChar(first17);
}

/**
 * Recognisable personal data: a handful of values per field, each long and specific enough that finding one in a log
 * line cannot be a coincidence.
 */
export function makePiiPool(seed: number): PiiPool {
  const rng = new Rng(seed ^ 0x5eed_9111);
  const n = 6;
  const each = <T>(f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
  return {
    addresses: each(() => `浙江省杭州市西湖区文三路${rng.range(100, 999)}号${rng.hex(6)}室`),
    phones: each(() => `+86 139 ${rng.digits(4)} ${rng.digits(4)}`),
    emails: each(() => `buyer.${rng.hex(10)}@example.com`),
    bankAccounts: each(() => `6222 0212 ${rng.digits(4)} ${rng.digits(4)} ${rng.digits(3)}`),
    idNumbers: each(() => idCardNumber(rng)),
  };
}

/** Every form a PII value could take in a log: as sent, digits only (phones, accounts), lower case (e-mail). */
export function piiNeedles(pool: PiiPool): { field: string; value: string }[] {
  const out: { field: string; value: string }[] = [];
  for (const v of pool.addresses) out.push({ field: 'buyer address', value: v });
  for (const v of pool.phones) out.push({ field: 'buyer phone', value: v }, { field: 'buyer phone (digits)', value: v.replace(/\D/g, '').slice(2) });
  for (const v of pool.emails) out.push({ field: 'buyer email', value: v });
  for (const v of pool.bankAccounts) out.push({ field: 'buyer bank account', value: v }, { field: 'buyer bank account (digits)', value: v.replace(/\D/g, '') });
  for (const v of pool.idNumbers) out.push({ field: 'buyer ID-card number', value: v });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Values from schemas

const patternPools = new Map<string, string[]>();

/** Strings matching a schema pattern, sampled once per pattern with fast-check from a fixed seed. */
function patternValue(pattern: string, rng: Rng): string {
  let pool = patternPools.get(pattern);
  if (!pool) {
    pool = fc.sample(fc.stringMatching(new RegExp(pattern)), { seed: 0x5ca1ab1e, numRuns: 64 });
    patternPools.set(pattern, pool);
  }
  return rng.pick(pool);
}

function isoTime(rng: Rng): string {
  const ms = Date.UTC(2020, 0, 1) + rng.int(10 * 365 * 24 * 3600) * 1000;
  return new Date(ms).toISOString();
}

/** A value of the schema's shape (random, within its types, patterns and lengths; not necessarily meaningful). */
export function schemaValue(schema: Schema, rng: Rng, depth = 0): unknown {
  if (Array.isArray(schema.anyOf)) return schemaValue(rng.pick(schema.anyOf as Schema[]), rng, depth);
  if (Array.isArray(schema.enum)) return rng.pick(schema.enum as unknown[]);
  if ('const' in schema) return schema.const;
  switch (schema.type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      const out: Record<string, unknown> = {};
      for (const [k, s] of Object.entries(props)) if (required.has(k) || (depth < 4 && rng.chance(0.5))) out[k] = schemaValue(s, rng, depth + 1);
      return out;
    }
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const n = min + rng.int(3);
      return Array.from({ length: n }, () => schemaValue((schema.items ?? {}) as Schema, rng, depth + 1));
    }
    case 'integer': {
      const lo = typeof schema.minimum === 'number' ? schema.minimum : 0;
      const hi = typeof schema.maximum === 'number' ? schema.maximum : 1_000_000;
      return lo + rng.int(Math.min(hi - lo + 1, 2 ** 31));
    }
    case 'number':
      return rng.int(1_000_000) / 100;
    case 'boolean':
      return rng.chance(0.5);
    case 'null':
      return null;
    default: {
      if (typeof schema.pattern === 'string') return patternValue(schema.pattern, rng);
      if (schema.format === 'email') return `u${rng.hex(6)}@example.com`;
      if (schema.format === 'date-time') return isoTime(rng);
      const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
      const max = Math.min(typeof schema.maxLength === 'number' ? schema.maxLength : 40, 40);
      const len = rng.range(min, Math.max(min, max));
      return Array.from({ length: len }, () => rng.pick(['a', 'Z', '9', '发', '票', '-', '_', ' '])).join('');
    }
  }
}

/** A value the schema refuses (wrong type, length, pattern or enum), or a hostile one it may accept. */
export function wrongValue(schema: Schema, rng: Rng): { value: unknown; kind: string } {
  const enumLike = Array.isArray(schema.enum) || Array.isArray(schema.anyOf);
  return rng.weighted<() => { value: unknown; kind: string }>([
    [5, () => {
      const [k, s] = rng.pick(NASTY_STRINGS);
      return { value: s, kind: `nasty:${k}` };
    }],
    [2, () => {
      const [k, s] = rng.pick(NASTY_DECIMALS);
      return { value: s, kind: `decimal:${k}` };
    }],
    [2, () => {
      const [k, s] = rng.pick(RAW_NUMBERS);
      return { value: new RawJson(s), kind: `raw-number:${k}` };
    }],
    [2, () => rng.pick([
      { value: 0, kind: 'type:zero' }, { value: true, kind: 'type:boolean' }, { value: null, kind: 'type:null' },
      { value: [], kind: 'type:empty-array' }, { value: {}, kind: 'type:empty-object' }, { value: ['x'], kind: 'type:array' },
      { value: { a: 1 }, kind: 'type:object' }, { value: '', kind: 'type:empty-string' },
    ])],
    [enumLike ? 3 : 0.2, () => {
      const v = schemaValue(schema, rng);
      const base = typeof v === 'string' ? v : 'normal';
      return rng.pick([
        { value: base.toUpperCase(), kind: 'enum:upper-case' }, { value: `${base} `, kind: 'enum:trailing-space' },
        { value: `${base}\u0000`, kind: 'enum:nul' }, { value: base.replace(/o/g, '\u043e'), kind: 'enum:cyrillic-o' },
        { value: `\uFEFF${base}`, kind: 'enum:bom' }, { value: [base], kind: 'enum:in-array' }, { value: base.normalize('NFD') + '\u0301', kind: 'enum:combining' },
        { value: 'toString', kind: 'enum:prototype-name' }, { value: '__proto__', kind: 'enum:proto' },
      ]);
    }],
    [1, () => {
      const max = typeof schema.maxLength === 'number' ? schema.maxLength : 100;
      return rng.pick([
        { value: 'a'.repeat(max + 1), kind: 'length:max+1' }, { value: '😀'.repeat(max), kind: 'length:astral-at-max' },
        { value: `${'a'.repeat(max - 1)}\uD800`, kind: 'length:surrogate-at-max' }, { value: '发'.repeat(max * 10 + 1), kind: 'length:10x' },
      ]);
    }],
  ])();
}

// ---------------------------------------------------------------------------------------------------------------
// Meaningful bodies: what a real client sends, so that mutations start from something the server accepts

const TAX_RATES = ['0.13', '0.09', '0.06', '0.03', '0.01'];
const LINE_TEMPLATES = [
  { name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务' },
  { name: '技术咨询', taxCode: '3040203000000000000' },
  { name: '运输费', taxCode: '3010000000000000000' },
  { name: '大米', taxCode: '1010101000000000000', unit: '千克', spec: '5kg/袋' },
];

export function validLine(rng: Rng): Record<string, unknown> {
  const t = rng.pick(LINE_TEMPLATES);
  const priceCents = rng.range(1, 5_000_00);
  const quantity = rng.range(1, 20);
  const line: Record<string, unknown> = { ...t, taxRate: rng.pick(TAX_RATES) };
  if (rng.chance(0.6)) Object.assign(line, { quantity: String(quantity), unitPrice: formatCents(priceCents), amount: formatCents(priceCents * quantity) });
  else line.amount = formatCents(priceCents * quantity);
  return line;
}

export function validInvoice(rng: Rng, pii: PiiPool): Record<string, unknown> {
  const person = rng.chance(0.3);
  const special = !person && rng.chance(0.2);
  const buyer: Record<string, unknown> = { name: person ? '李四' : rng.pick(BUYER_NAMES.slice(0, 4)) };
  if (person) buyer.taxId = rng.pick(pii.idNumbers);
  else if (special || rng.chance(0.7)) buyer.taxId = uscc(rng);
  if (rng.chance(0.6)) buyer.address = rng.pick(pii.addresses);
  if (rng.chance(0.7)) buyer.phone = rng.pick(pii.phones);
  if (rng.chance(0.6)) buyer.email = rng.pick(pii.emails);
  if (rng.chance(0.4)) Object.assign(buyer, { bankName: '中国工商银行杭州分行', bankAccount: rng.pick(pii.bankAccounts) });
  const body: Record<string, unknown> = {
    type: special ? 'special' : 'normal',
    buyer,
    lines: Array.from({ length: rng.weighted([[6, 1], [3, 2], [1, 5]]) }, () => validLine(rng)),
    issuer: rng.pick(['张三', '王五', 'Zhang San']),
  };
  if (rng.chance(0.2)) body.priceIncludesTax = true;
  if (rng.chance(0.3)) body.remarks = rng.pick(['合同号 HT-2026-001', '项目：云服务', 'Payment within 30 days']);
  if (rng.chance(0.3)) body.externalId = `ord-${rng.hex(16)}`;
  return body;
}

function validBody(op: Operation, rng: Rng, fx: FuzzFixtures): unknown {
  const key = `${op.method} ${op.path}`;
  switch (key) {
    case 'POST /v1/invoices':
      return validInvoice(rng, fx.pii);
    case 'POST /v1/verify': {
      if (fx.invoices.length > 0 && rng.chance(0.7)) {
        const inv = rng.pick(fx.invoices);
        return { number: inv.number, issueDate: inv.issueDate, total: rng.chance(0.8) ? inv.total : '1.00' };
      }
      return { number: `26311${rng.digits(15)}`, issueDate: '2026-11-24', total: formatCents(rng.range(1, 1_000_000)) };
    }
    case 'POST /admin/v1/bans':
      return {
        // Documentation ranges (RFC 5737, RFC 3849) the fuzz never sends from (see CLIENT_* below): a ban taken here
        // never refuses the fuzz's own clients.
        target: rng.pick([`203.0.113.${rng.range(1, 254)}`, `198.51.100.${rng.range(0, 63) * 4}/30`, `${BANNABLE_V6}${rng.hex(3)}::/64`]),
        reason: rng.chance(0.9) ? 'manual' : 'blocklist',
        ...(rng.chance(0.7) ? { durationSec: rng.range(1, 3600) } : {}),
        ...(rng.chance(0.5) ? { note: 'fuzz' } : {}),
      };
    case 'POST /admin/v1/tenants':
      return {
        name: `测试租户${rng.hex(4)}有限公司`, taxId: uscc(rng), regionCode: rng.pick(['31', '11', '44']),
        ...(rng.chance(0.5) ? { address: '上海市浦东新区世纪大道100号', phone: '021-12345678' } : {}),
        ...(rng.chance(0.3) ? { monthlyQuota: '1000000.00' } : {}),
        // Present in some bodies, so that body mutations reach it too.
        ...(rng.chance(0.3) ? { signingAlgorithm: rng.pick(SIGNING_ALGORITHMS) } : {}),
      };
    case 'PATCH /admin/v1/tenants/{tenantId}':
      return rng.pick([
        { name: `改名${rng.hex(4)}有限公司` }, { address: null }, { phone: '021-87654321' }, { monthlyQuota: null }, { bankName: '中国银行', bankAccount: '6216 6100 0000 1234' },
        { signingAlgorithm: rng.pick([...SIGNING_ALGORITHMS, null]) },
      ]);
    case 'POST /admin/v1/tenants/{tenantId}/api-keys':
      return rng.pick([{}, { scopes: ['invoices:read'] }, { scopes: ['invoices:issue', 'invoices:read'] }, { expiresAt: '2030-01-01T00:00:00.000Z' }]);
    case 'POST /admin/v1/tenants/{tenantId}/data-keys/rotate':
      return rng.pick([{}, { algorithm: 'aes-256-gcm' }, { algorithm: 'sm4-gcm' }]);
    default:
      return op.body ? schemaValue(op.body, rng) : undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

export interface FuzzRequest {
  index: number;
  listener: Listener;
  method: string;
  /** Path and query exactly as sent (already percent-encoded where it should be). */
  url: string;
  headers: Record<string, string>;
  /** The JSON value the body was written from, when it was one (the shrinker works on it). */
  bodyValue?: unknown;
  body?: string | Buffer;
  remoteAddress: string;
  /** `METHOD /template` of the operation it was made for. */
  op: string;
  security: Security;
  /** Whether the request carries the credentials the route needs. */
  validAuth: boolean;
  /** What the generator did, e.g. `body-field:nasty:lone-high-surrogate at /buyer/name`. */
  kind: string;
}

/** Percent-encodes the UTF-8 bytes of a string (lone surrogates become U+FFFD, as any UTF-8 encoder does). */
export function pctEncode(s: string): string {
  // encodeURIComponent leaves !'()* as they are and throws on lone surrogates; the byte loop below does neither.
  try {
    return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  } catch {
    // a lone surrogate: encoded byte by byte below
  }
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A header value as a real socket would carry it: the UTF-8 bytes read as Latin-1 (RFC 9110 §5.5, obs-text). */
export function headerSafe(s: string): string {
  // Node's parser refuses control characters other than HTAB in a field value (RFC 9110 §5.5); raw-socket.test.ts
  // sends those.
  return [...Buffer.from(s, 'utf8').toString('latin1')].filter((c) => c === '\t' || (c >= ' ' && c !== '\u007f')).join('');
}

/** IPv6 prefix of the admin bans the fuzz may take (`2001:db8:b???::/64`); its clients are in `2001:db8:f???::`. */
const BANNABLE_V6 = '2001:db8:b';

/**
 * Client addresses: many (so per-address limits rarely interfere), plus a few hot ones that do get limited and banned.
 * IPv4 from the RFC 2544 benchmarking range 198.18.0.0/15, IPv6 from the RFC 3849 documentation prefix; 192.0.2.0/24
 * is left to the suites' own requests (no fuzzed ban can cover it).
 */
function remoteAddressFor(listener: Listener, rng: Rng): string {
  // The admin and metrics listeners allow loopback only (src/config/listeners.ts); anything in 127.0.0.0/8 is loopback.
  if (listener === 'admin' || listener === 'metrics') return `127.${rng.int(256)}.${rng.int(256)}.${rng.range(1, 254)}`;
  if (rng.chance(0.1)) return rng.pick(['198.18.0.1', '198.18.0.2', '2001:db8:ffff::1']);
  return rng.chance(0.8) ? `198.${rng.range(18, 19)}.${rng.int(256)}.${rng.range(1, 254)}` : `2001:db8:f${rng.hex(3)}:${rng.hex(4)}::${rng.hex(3)}`;
}

interface Draft {
  op: Operation;
  listener: Listener;
  method: string;
  pathValues: Map<string, { raw: string }>;
  /** Path override (for path attacks): replaces the template entirely. */
  rawPath?: string;
  query: { k: string; v: string }[];
  headers: Record<string, string>;
  auth: { header?: string; valid: boolean };
  body?: { value?: unknown; text?: string | Buffer; contentType?: string };
  kind: string[];
}

function validPathValue(op: Operation, p: Param, rng: Rng, fx: FuzzFixtures): string {
  const mutating = op.method !== 'GET';
  switch (p.name) {
    case 'number':
      return fx.invoices.length > 0 && rng.chance(0.7) ? rng.pick(fx.invoices).number : `26311${rng.digits(15)}`;
    case 'tenantId':
      if (mutating) return rng.chance(0.85) ? fx.scratchTenantId : `t_${rng.hex(16)}`;
      return rng.pick([fx.tenantId, fx.otherTenantId, fx.scratchTenantId, `t_${rng.hex(16)}`]);
    case 'keyId':
      return fx.scratchKeyIds.length > 0 && rng.chance(0.5) ? rng.pick(fx.scratchKeyIds) : rng.hex(12);
    case 'target':
      return pctEncode(rng.pick([`203.0.113.${rng.range(1, 254)}`, '198.51.100.0/30', `${BANNABLE_V6}00::/64`, '198.51.100.7', '198.18.0.1']));
    case 'page':
      return rng.pick(['', 'verify', 'verify?qr=01,32', 'index.html', 'docs', 'v1/keys', 'admin/v1/tenants', 'favicon.ico']);
    default:
      return pctEncode(String(schemaValue(p.schema, rng)));
  }
}

function validQuery(op: Operation, rng: Rng, fx: FuzzFixtures): { k: string; v: string }[] {
  const out: { k: string; v: string }[] = [];
  for (const p of op.params) {
    if (p.in !== 'query' || (!p.required && !rng.chance(0.3))) continue;
    let v: string;
    switch (p.name) {
      case 'buyerPhone':
        v = rng.pick(fx.pii.phones);
        break;
      case 'buyerEmail':
        v = rng.pick(fx.pii.emails);
        break;
      case 'buyerTaxId':
        v = rng.chance(0.5) ? rng.pick(fx.pii.idNumbers) : uscc(rng);
        break;
      case 'issuedFrom':
      case 'issuedTo':
        v = `20${rng.range(20, 30)}-${String(rng.range(1, 12)).padStart(2, '0')}-${String(rng.range(1, 28)).padStart(2, '0')}`;
        break;
      case 'limit':
        v = String(rng.range(1, 100));
        break;
      case 'cursor':
        continue;
      case 'after':
        v = String(rng.int(1000));
        break;
      case 'qr':
        v = fx.invoices.length > 0 ? `01,32,,${rng.pick(fx.invoices).number},113.00,20261124,,0000` : '01,32,,1';
        break;
      default:
        v = String(schemaValue(p.schema, rng));
    }
    out.push({ k: p.name, v: pctEncode(v) });
  }
  return out;
}

const WRONG_API_KEYS = [
  // Well-formed but unknown: the secret half must never reach a log.
  'fp_live_0123456789ab_AbCdEfGhIjKlMnOpQrStUvWxYz012345',
  'fp_live_zzzzzzzzzzzz_ZYXWVUTSRQPONMLKJIHGFEDCBA987654',
];

function authFor(security: Security, rng: Rng, fx: FuzzFixtures, kind: string[], forceWrong: boolean): Draft['auth'] {
  const valid = security === 'adminToken' ? fx.adminToken : fx.apiKey;
  if (!forceWrong) {
    if (security === 'none') return rng.chance(0.1) ? { header: `Bearer ${fx.apiKey}`, valid: true } : { valid: true };
    return { header: `Bearer ${valid}`, valid: true };
  }
  const [name, header, isValid] = rng.pick<readonly [string, string | undefined, boolean]>([
    ['missing', undefined, false],
    ['empty', '', false],
    ['bearer-only', 'Bearer', false],
    ['bearer-space', 'Bearer ', false],
    ['basic', `Basic ${Buffer.from(`user:${valid}`).toString('base64')}`, false],
    ['lower-case-scheme', `bearer ${valid}`, false],
    ['double-space', `Bearer  ${valid}`, false],
    ['trailing-garbage', `Bearer ${valid} x`, false],
    ['one-char-changed', `Bearer ${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`, false],
    ['truncated', `Bearer ${valid.slice(0, -4)}`, false],
    ['extended', `Bearer ${valid}0`, false],
    ['unknown-key', `Bearer ${rng.pick(WRONG_API_KEYS)}`, false],
    ['revoked-key', `Bearer ${fx.revokedKey}`, false],
    ['expired-key', `Bearer ${fx.expiredKey}`, false],
    ['other-credential', `Bearer ${security === 'adminToken' ? fx.apiKey : fx.adminToken}`, false],
    ['long-token', `Bearer ${'A'.repeat(4000)}`, false],
    ['utf8-token', headerSafe(`Bearer ${valid.slice(0, 10)}密钥`), false],
    ['nasty-token', headerSafe(`Bearer ${rng.pick(NASTY_STRINGS)[1]}`), false],
    ['read-only-key', `Bearer ${fx.readOnlyKey}`, security === 'apiKey'],
    ['issue-only-key', `Bearer ${fx.issueOnlyKey}`, security === 'apiKey'],
    ['other-tenant-key', `Bearer ${fx.otherKey}`, security === 'apiKey'],
  ]);
  kind.push(`auth:${name}`);
  return header === undefined ? { valid: isValid || security === 'none' } : { header, valid: isValid || security === 'none' };
}

/** Every JSON Pointer of a value's nodes (objects, arrays and leaves), root excluded. */
export function pointers(v: unknown, base = ''): string[] {
  const out: string[] = [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(`${base}/${i}`, ...pointers(x, `${base}/${i}`)));
  else if (v !== null && typeof v === 'object' && !(v instanceof RawJson) && !(v instanceof Entries)) {
    for (const [k, x] of Object.entries(v)) out.push(`${base}/${k}`, ...pointers(x, `${base}/${k}`));
  }
  return out;
}

function parentOf(root: unknown, pointer: string): { parent: Record<string, unknown> | unknown[]; key: string } | undefined {
  const parts = pointer.split('/').slice(1);
  const key = parts.pop()!;
  let cur: unknown = root;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur !== null && typeof cur === 'object' ? { parent: cur as Record<string, unknown>, key } : undefined;
}

export function setAt(root: unknown, pointer: string, value: unknown): void {
  const at = parentOf(root, pointer);
  if (at) (at.parent as Record<string, unknown>)[at.key] = value;
}

export function deleteAt(root: unknown, pointer: string): void {
  const at = parentOf(root, pointer);
  if (!at) return;
  if (Array.isArray(at.parent)) at.parent.splice(Number(at.key), 1);
  else delete at.parent[at.key];
}

export function getAt(root: unknown, pointer: string): unknown {
  let cur: unknown = root;
  for (const p of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function nest(depth: number, open: string, close: string, inner = '1'): RawJson {
  return new RawJson(open.repeat(depth) + inner + close.repeat(depth));
}

/** One to three changes at random places of a body that would otherwise be accepted. */
function mutateBody(value: unknown, rng: Rng, kind: string[]): unknown {
  const root = structuredClone(value);
  const count = rng.weighted([[6, 1], [3, 2], [1, 3]]);
  for (let i = 0; i < count; i++) {
    const ptrs = pointers(root);
    if (ptrs.length === 0) break;
    const at = rng.pick(ptrs);
    const current = getAt(root, at);
    const mutation = rng.weighted<string>([[8, 'wrong'], [typeof current === 'string' ? 3 : 0, 'suffix'], [2, 'delete'], [1, 'unknown-key'], [1, 'proto'], [1, 'deep'], [1, 'duplicate-key'], [0.1, 'many-lines']]);
    switch (mutation) {
      case 'wrong': {
        const w = wrongValue(typeof current === 'string' ? { type: 'string' } : {}, rng);
        setAt(root, at, w.value);
        kind.push(`${w.kind} at ${at}`);
        break;
      }
      case 'suffix': {
        // The value as sent, then a hostile string: an error message that quotes the field quotes the value too
        // (personal data included, which the log check then finds).
        const [k, tail] = rng.pick(NASTY_STRINGS.filter(([n]) => !n.startsWith('long-')));
        setAt(root, at, `${String(current)}${tail}`);
        kind.push(`suffix:${k} at ${at}`);
        break;
      }
      case 'delete':
        deleteAt(root, at);
        kind.push(`delete ${at}`);
        break;
      case 'unknown-key': {
        const target = current !== null && typeof current === 'object' && !Array.isArray(current) ? at : '';
        const obj = target ? current : root;
        if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
          (obj as Record<string, unknown>)[rng.pick(['colour', 'id', 'number', 'tenantId', 'status', 'hash', 'signature', '', ' ', '\u0000', '😀'])] = 'x';
          kind.push(`unknown-key in ${target || '/'}`);
        }
        break;
      }
      case 'proto': {
        const key = rng.pick(['__proto__', 'constructor', 'prototype']);
        const payload = rng.pick([{ admin: true }, { prototype: { polluted: 1 } }, 'x', null]);
        const obj = current !== null && typeof current === 'object' && !Array.isArray(current) ? current : undefined;
        setAt(root, obj ? at : at, new Entries([...Object.entries(obj ?? {}), [key, payload]]));
        kind.push(`proto-key:${key} at ${at}`);
        break;
      }
      case 'deep': {
        const depth = rng.pick([17, 64, 1000, 100_000]);
        setAt(root, at, rng.chance(0.5) ? nest(depth, '[', ']') : nest(depth, '{"a":', '}'));
        kind.push(`deep-nesting:${depth} at ${at}`);
        break;
      }
      case 'duplicate-key': {
        const obj = current !== null && typeof current === 'object' && !Array.isArray(current) ? current : undefined;
        if (obj) {
          const entries = Object.entries(obj);
          const dup = entries[0];
          if (dup) setAt(root, at, new Entries([...entries, [dup[0], rng.pick(NASTY_STRINGS)[1]]]));
          kind.push(`duplicate-key at ${at}`);
        } else {
          setAt(root, at, rng.pick(NASTY_STRINGS)[1]);
          kind.push(`nasty at ${at}`);
        }
        break;
      }
      case 'many-lines': {
        // A clean line repeated (not one of the mutated ones: a 10,000-character line times 5,000 is no request).
        if (Array.isArray(getAt(root, '/lines'))) {
          // maxItems is 2000 (docs/openapi.json): just at it, and just past it.
          const n = rng.pick([2000, 2001]);
          const line = validLine(rng);
          setAt(root, '/lines', Array.from({ length: n }, () => line));
          kind.push(`lines:${n}`);
        }
        break;
      }
    }
  }
  return root;
}

/** Bodies that are not the JSON they claim to be, or JSON of the wrong shape entirely. */
function rawBody(rng: Rng, valid: unknown, kind: string[]): { text: string | Buffer; value?: unknown } {
  const validText = toJsonText(valid ?? {});
  const [name, make] = rng.pick<readonly [string, () => string | Buffer]>([
    ['truncated', () => validText.slice(0, Math.max(1, rng.int(validText.length)))],
    ['trailing-comma', () => validText.replace(/}$/, ',}')],
    ['single-quotes', () => validText.replaceAll('"', "'")],
    ['comment', () => `/* c */${validText}`],
    ['trailing-garbage', () => `${validText}x`],
    ['two-documents', () => `${validText}${validText}`],
    ['nan', () => '{"type":NaN}'],
    ['bare-word', () => 'undefined'],
    ['bom', () => `\uFEFF${validText}`],
    ['empty', () => ''],
    ['whitespace', () => ' \n\t '],
    ['null', () => 'null'],
    ['array', () => '[]'],
    ['array-of-body', () => `[${validText}]`],
    ['string', () => '"normal"'],
    ['number', () => '113.00'],
    ['true', () => 'true'],
    ['raw-control-in-string', () => validText.replace(/"([^"]*)"/, '"$1\u0001\u0000"')],
    ['raw-newline-in-string', () => validText.replace(/"([^"]*)"/, '"$1\n"')],
    ['invalid-utf8', () => Buffer.concat([Buffer.from('{"issuer":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae, 0xed, 0xa0, 0x80]), Buffer.from('"}')])],
    ['overlong-utf8-quote', () => Buffer.concat([Buffer.from('{"issuer":"'), Buffer.from([0xc0, 0xa2]), Buffer.from('"}')])],
    ['utf16le', () => Buffer.from(validText, 'utf16le')],
    ['escaped-lone-surrogate', () => validText.replace(/"issuer":"[^"]*"/, '"issuer":"\\ud800"').replace(/"name":"[^"]*"/, '"name":"\\udfff\\ud800"')],
    ['escaped-nul', () => validText.replace(/"name":"[^"]*"/, '"name":"\\u0000"')],
    ['bad-escape', () => '{"issuer":"\\x41\\u12"}'],
    ['deep-array', () => `${'['.repeat(50_000)}${']'.repeat(50_000)}`],
    ['deep-object', () => `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`],
    ['unbalanced-deep', () => '['.repeat(100_000)],
    ['proto-root', () => `{"__proto__":{"isAdmin":true},${validText.slice(1)}`],
    ['constructor-prototype', () => '{"constructor":{"prototype":{"polluted":true}}}'],
    ['huge-number-root', () => '1e309'],
    ['long-whitespace', () => `${' '.repeat(200_000)}${validText}`],
    ['many-keys', () => `{${Array.from({ length: 20_000 }, (_, i) => `"k${i}":1`).join(',')}}`],
    ['long-key', () => `{"${'k'.repeat(100_000)}":1}`],
  ]);
  kind.push(`raw-body:${name}`);
  return { text: make() };
}

const CONTENT_TYPES: readonly (readonly [string, string | undefined])[] = [
  ['none', undefined],
  ['text-plain', 'text/plain'],
  ['form', 'application/x-www-form-urlencoded'],
  ['multipart', 'multipart/form-data; boundary=----x'],
  ['xml', 'application/xml'],
  ['octet-stream', 'application/octet-stream'],
  ['charset-latin1', 'application/json; charset=latin1'],
  ['charset-utf16', 'application/json; charset=utf-16'],
  ['upper-case', 'APPLICATION/JSON'],
  ['problem-json', 'application/problem+json'],
  ['merge-patch', 'application/merge-patch+json'],
  ['vendor-json', 'application/vnd.api+json'],
  ['list', 'application/json, text/plain'],
  ['wildcard', '*/*'],
  ['empty', ''],
  ['garbage', 'a/b/c;;;=='],
  ['long-parameters', `application/json; ${Array.from({ length: 500 }, (_, i) => `p${i}=v`).join('; ')}`],
  ['json-suffix-garbage', 'application/jsonx'],
  ['utf8-bytes', headerSafe('application/json; charset=文字')],
];

const QUERY_VALUES: readonly { v: string; what: string }[] = [
      { v: 'x', what: 'x' }, { v: '', what: 'empty' }, { v: '%', what: 'lone-percent' }, { v: '%ZZ', what: 'bad-escape' },
      { v: '%ED%A0%80', what: 'encoded-surrogate' }, { v: '%C0%AE%C0%AE', what: 'overlong-utf8' }, { v: '%FF%FE', what: 'invalid-utf8' },
      { v: '%00', what: 'nul' }, { v: '+', what: 'plus' }, { v: 'a%26b%3Dc', what: 'encoded-separators' }, { v: pctEncode('😀'.repeat(300)), what: 'astral-300' },
      { v: 'a'.repeat(5000), what: 'long-5000' }, { v: '-1', what: 'negative' }, { v: '0', what: 'zero' }, { v: '99999999999999999999', what: 'huge' },
      { v: '1e3', what: 'exponent' }, { v: '0x10', what: 'hex' }, { v: 'true', what: 'boolean' }, { v: 'null', what: 'null' },
];

/** Search cursors: junk, and the shape the server writes (base64url of {"d": issue date, "n": number}) gone wrong. */
const CURSOR_VALUES: readonly { v: string; what: string }[] = [
      { v: 'x', what: 'cursor=x' }, { v: '', what: 'empty-cursor' }, { v: Buffer.from('{"a":1}').toString('base64url'), what: 'cursor-json' },
      { v: Buffer.from('[1,2,3]').toString('base64url'), what: 'cursor-array' }, { v: Buffer.from('\u0000\uFFFF').toString('base64url'), what: 'cursor-binary' },
      { v: 'AAAA', what: 'cursor-zeros' }, { v: '____', what: 'cursor-underscores' }, { v: 'a'.repeat(513), what: 'cursor-513' },
      { v: Buffer.from('2026-11-24T00:00:00.000Z|26311000000000000001').toString('base64url'), what: 'cursor-guessed' },
      { v: pctEncode(Buffer.from('{"issuedAt":"\\ud800","number":1e309}').toString('base64')), what: 'cursor-base64-nasty' },
      { v: Buffer.from('{"d":"2026-11-24","n":"26311000000000000002"}').toString('base64url'), what: 'cursor-well-formed' },
      { v: Buffer.from('{"d":"\\ud800","n":"\\u0000"}').toString('base64url'), what: 'cursor-surrogate-nul' },
      { v: Buffer.from('{"d":1e309,"n":-0}').toString('base64url'), what: 'cursor-numbers' },
      { v: Buffer.from('{"d":"2026-13-45","n":"x\' OR 1=1 --"}').toString('base64url'), what: 'cursor-sql' },
      { v: Buffer.from(`{"d":"${'9'.repeat(300)}","n":"${'9'.repeat(60)}"}`).toString('base64url'), what: 'cursor-long-members' },
      { v: Buffer.from('{"d":["a"],"n":{"a":1},"__proto__":{"d":"x"}}').toString('base64url'), what: 'cursor-nested' },
];

/** Query strings the route schemas must refuse or survive. */
function queryAttack(op: Operation, rng: Rng, fx: FuzzFixtures, kind: string[]): { k: string; v: string }[] {
  const q = validQuery(op, rng, fx);
  const names = op.params.filter((p) => p.in === 'query').map((p) => p.name);
  const name = names.length > 0 && rng.chance(0.85) ? rng.pick(names) : rng.pick(['unknown', 'x', '__proto__', 'constructor', '', 'limit[]']);
  const attack = rng.weighted<() => { v: string; what: string; param?: string }>([
    [4, () => {
      const w = wrongValue(op.params.find((p) => p.name === name)?.schema ?? {}, rng);
      return { v: pctEncode(w.value instanceof RawJson ? w.value.text : typeof w.value === 'string' ? w.value : JSON.stringify(w.value)), what: w.kind };
    }],
    [2, () => rng.pick(QUERY_VALUES)],
    [names.includes('cursor') ? 3 : 0, () => ({ ...rng.pick(CURSOR_VALUES), param: 'cursor' })],
  ])();
  const repeated = rng.chance(0.15);
  const chosen = attack.param ?? name;
  const out = q.filter((x) => x.k !== chosen);
  out.push({ k: pctEncode(chosen), v: attack.v });
  if (repeated) out.push({ k: pctEncode(chosen), v: attack.v || 'y' });
  kind.push(`query:${chosen}=${attack.what}${repeated ? ' (repeated)' : ''}`);
  return out;
}

/** Paths that decode to something odd, or do not decode at all. */
function pathAttack(d: Draft, rng: Rng, kind: string[]): void {
  const template = d.op.path;
  const params = d.op.params.filter((p) => p.in === 'path');
  if (params.length > 0 && rng.chance(0.6)) {
    const p = rng.pick(params);
    const [what, make] = rng.pick<readonly [string, () => string]>([
      ['encoded-surrogate', () => '%ED%A0%80'],
      ['overlong-dots', () => '%c0%ae%c0%ae'],
      ['encoded-slash', () => '..%2F..%2Fetc'],
      ['encoded-nul', () => 'a%00b'],
      ['bad-escape', () => '%ZZ'],
      ['lone-percent', () => '%'],
      ['len-200', () => '1'.repeat(200)],
      ['len-101', () => '2'.repeat(101)],
      ['len-5000', () => '3'.repeat(5000)],
      ['utf8-200', () => pctEncode('票'.repeat(200))],
      ['astral', () => pctEncode('😀')],
      ['nasty', () => pctEncode(rng.pick(NASTY_STRINGS)[1])],
      ['empty', () => ''],
      ['dot', () => '.'],
      ['dotdot', () => '..'],
      ['space', () => '%20'],
      ['fullwidth-digits', () => pctEncode('２６３１１０００００００００００００００１')],
      ['number-21', () => `2${'6'.repeat(20)}`],
    ]);
    d.pathValues.set(p.name, { raw: make() });
    kind.push(`path:${p.name}=${what}`);
    return;
  }
  const concrete = template.replace(/\{(\w+)\}/g, (_m, n: string) => d.pathValues.get(n)?.raw ?? 'x');
  const [what, make] = rng.pick<readonly [string, () => string]>([
    ['encoded-v1', () => concrete.replace('/v1/', '/%76%31/')],
    ['encoded-letter', () => concrete.replace(/\/([a-z])/, (_m, c: string) => `/%${c.charCodeAt(0).toString(16)}`)],
    ['upper-encoded', () => concrete.replace('/v1/', '/%56%31/')],
    ['double-slash', () => `/${concrete}`],
    ['inner-double-slash', () => concrete.replace('/v1/', '/v1//')],
    ['trailing-slash', () => `${concrete}/`],
    ['dot-segment', () => concrete.replace('/v1/', '/v1/./')],
    ['dotdot-segment', () => concrete.replace('/v1/', '/v1/x/../')],
    ['encoded-dotdot', () => concrete.replace('/v1/', '/v1/%2e%2e/v1/')],
    ['upper-case', () => concrete.toUpperCase()],
    ['semicolon', () => `${concrete};jsessionid=1`],
    ['encoded-query', () => `${concrete}%3Fa=1`],
    ['hash', () => `${concrete}#x`],
    ['encoded-surrogate-segment', () => `${concrete}/%ED%A0%80`],
    ['overlong-segment', () => `${concrete}/%c0%ae%c0%ae/%c0%ae%c0%ae`],
    ['long-path', () => `/${'a'.repeat(8000)}`],
    ['many-segments', () => `/${'a/'.repeat(2000)}`],
    ['backslash', () => concrete.replaceAll('/', '\\')],
    ['encoded-backslash', () => concrete.replace('/v1/', '/v1%5C')],
    ['unknown', () => '/v2/invoices'],
    ['star', () => '*'],
    ['absolute-url', () => `http://evil.example${concrete}`],
    ['utf8-raw', () => `${concrete}/${'票'}`],
    ['nul-raw', () => `${concrete}%00`],
  ]);
  d.rawPath = make();
  kind.push(`path:${what}`);
}

function headerAttack(d: Draft, rng: Rng, kind: string[]): void {
  const [what, name, make] = rng.pick<readonly [string, string, () => string]>([
    ['accept-pdf', 'accept', () => 'application/pdf'],
    ['accept-xml', 'accept', () => 'application/xml'],
    ['accept-html', 'accept', () => 'text/html'],
    ['accept-none', 'accept', () => 'image/png'],
    ['accept-q', 'accept', () => 'application/pdf;q=0, application/json;q=0.5, */*;q=0.1'],
    ['accept-garbage', 'accept', () => ';;;q=x,,/'],
    ['accept-long', 'accept', () => Array.from({ length: 400 }, (_, i) => `type${i}/sub;q=0.${i % 10}`).join(', ')],
    ['accept-q-huge', 'accept', () => 'application/json;q=1e309'],
    ['idempotency-empty', 'idempotency-key', () => ''],
    ['idempotency-long', 'idempotency-key', () => 'k'.repeat(300)],
    ['idempotency-utf8', 'idempotency-key', () => headerSafe('键😀')],
    ['idempotency-space', 'idempotency-key', () => 'a b'],
    ['idempotency-fixed', 'idempotency-key', () => `fuzz-${rng.int(8)}`],
    ['last-event-id-nasty', 'last-event-id', () => headerSafe(rng.pick(NASTY_STRINGS)[1])],
    ['last-event-id-huge', 'last-event-id', () => '9'.repeat(30)],
    ['last-event-id-negative', 'last-event-id', () => '-1'],
    ['xff-spoof', 'x-forwarded-for', () => '127.0.0.1'],
    ['xff-garbage', 'x-forwarded-for', () => `${'1.'.repeat(1000)}1`],
    ['x-real-ip', 'x-real-ip', () => '::1'],
    ['host-garbage', 'host', () => 'evil.example:99999'],
    ['host-utf8', 'host', () => headerSafe('发票.example')],
    ['content-length-short', 'content-length', () => '1'],
    ['content-length-negative', 'content-length', () => '-1'],
    ['content-length-huge', 'content-length', () => '99999999999999999999'],
    ['content-encoding-gzip', 'content-encoding', () => 'gzip'],
    ['expect', 'expect', () => '100-continue'],
    ['transfer-encoding', 'transfer-encoding', () => 'chunked'],
    ['long-header', 'x-long', () => 'a'.repeat(12_000)],
    ['cookie', 'cookie', () => `session=${'a'.repeat(2000)}`],
    ['origin', 'origin', () => 'https://evil.example'],
    ['range', 'range', () => 'bytes=0-10'],
    ['if-none-match', 'if-none-match', () => '*'],
  ]);
  d.headers[name] = make();
  kind.push(`header:${what}`);
}

const OTHER_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'QUERY', 'PURGE', 'LOCK', 'CONNECT'];

/** Request #index of a run: the operation, then what is wrong with it (possibly nothing). */
export interface GenerateOptions {
  /** Only operations served by these listeners. */
  listeners?: readonly Listener[];
  /** Weights by `METHOD /path` replacing the operations' own. */
  weights?: Readonly<Record<string, number>>;
}

export function generateRequest(ops: readonly Operation[], fx: FuzzFixtures, seed: number, index: number, opts: GenerateOptions = {}): FuzzRequest {
  const rng = new Rng(requestSeed(seed, index));
  const usable = opts.listeners ? ops.filter((o) => o.listeners.some((l) => opts.listeners!.includes(l))) : ops;
  const op = rng.weighted(usable.map((o) => [opts.weights?.[`${o.method} ${o.path}`] ?? o.weight, o] as const));
  const listeners = opts.listeners ? op.listeners.filter((l) => opts.listeners!.includes(l)) : op.listeners;
  const listener = listeners.length > 1 && rng.chance(0.1) ? listeners[1]! : listeners[0]!;
  const kind: string[] = [];
  const hasQuery = op.params.some((p) => p.in === 'query');
  const mode = rng.weighted<string>([
    [14, 'valid'], [10, 'auth'], [24, 'body-field'], [5, 'body-schema'], [8, 'body-raw'], [5, 'content-type'],
    [0.3, 'oversize'], [hasQuery ? 16 : 2, 'query'], [8, 'path'], [6, 'headers'], [4, 'method'],
  ]);
  kind.push(mode);
  const d: Draft = {
    op, listener, method: op.method, pathValues: new Map(), query: [], headers: {}, kind,
    auth: authFor(op.security, rng, fx, kind, mode === 'auth'),
  };
  for (const p of op.params) if (p.in === 'path') d.pathValues.set(p.name, { raw: validPathValue(op, p, rng, fx) });
  d.query = mode === 'query' ? queryAttack(op, rng, fx, kind) : validQuery(op, rng, fx);

  const hasBody = op.body !== undefined || ['POST', 'PATCH', 'PUT'].includes(op.method);
  const valid = hasBody ? validBody(op, rng, fx) : undefined;
  if (op.path === '/v1/invoices' && op.method === 'POST' && rng.chance(0.3)) d.headers['idempotency-key'] = `fz-${rng.hex(12)}`;
  switch (mode) {
    case 'body-field':
      if (valid !== undefined && pointers(valid).length > 0) d.body = { value: mutateBody(valid, rng, kind) };
      else d.query = queryAttack(op, rng, fx, kind);
      break;
    case 'body-schema':
      d.body = { value: op.body ? schemaValue(op.body, rng) : { a: rng.pick(NASTY_STRINGS)[1] } };
      break;
    case 'body-raw':
      d.body = rawBody(rng, valid, kind);
      break;
    case 'content-type': {
      const [name, ct] = rng.pick(CONTENT_TYPES);
      const text = rng.chance(0.7) ? toJsonText(valid ?? {}) : rng.pick(['a=1&b=2', '<x/>', '------x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n------x--']);
      d.body = ct === undefined ? { text } : { text, contentType: ct };
      kind.push(`content-type:${name}`);
      break;
    }
    case 'oversize': {
      const size = rng.pick([1024 * 1024 + 1, 1536 * 1024]);
      const pad = 'x'.repeat(size);
      d.body = rng.chance(0.5) ? { text: toJsonText({ ...(valid as object), remarks: pad }) } : { text: `"${pad}"` };
      kind.push(`oversize:${size}`);
      break;
    }
    case 'path':
      pathAttack(d, rng, kind);
      if (valid !== undefined) d.body = { value: valid };
      break;
    case 'headers':
      headerAttack(d, rng, kind);
      if (valid !== undefined) d.body = { value: valid };
      break;
    case 'method': {
      d.method = rng.pick(OTHER_METHODS.filter((m) => m !== op.method));
      kind.push(`method:${d.method}`);
      if (rng.chance(0.5)) d.body = { value: valid ?? { a: 1 } };
      break;
    }
    default:
      if (valid !== undefined) d.body = { value: valid };
  }
  return finish(d, index, rng);
}

function finish(d: Draft, index: number, rng: Rng): FuzzRequest {
  let path = d.rawPath ?? d.op.path.replace(/\{(\w+)\}/g, (_m, n: string) => d.pathValues.get(n)?.raw ?? '');
  if (d.op.path === '/{page}') path = `/${d.pathValues.get('page')?.raw ?? ''}`;
  const qs = d.query.map(({ k, v }) => `${k}=${v}`).join('&');
  const url = qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
  const headers: Record<string, string> = { ...d.headers };
  if (d.auth.header !== undefined) headers.authorization = d.auth.header;
  let body: string | Buffer | undefined;
  let bodyValue: unknown;
  if (d.body) {
    if (d.body.text !== undefined) body = d.body.text;
    else if (d.body.value !== undefined) {
      bodyValue = d.body.value;
      body = toJsonText(d.body.value);
    }
    if (body !== undefined && !('content-type' in headers)) {
      if (d.body.contentType !== undefined) headers['content-type'] = d.body.contentType;
      else if (!(d.body.text !== undefined && d.kind.some((k) => k === 'content-type:none'))) headers['content-type'] = 'application/json';
    }
  }
  return {
    index, listener: d.listener, method: d.method, url, headers, body, remoteAddress: remoteAddressFor(d.listener, rng),
    op: `${d.op.method} ${d.op.path}`, security: d.op.security, validAuth: d.auth.valid, kind: d.kind.join(' · '),
    ...(bodyValue !== undefined ? { bodyValue } : {}),
  };
}

/** The body of a request rewritten from a changed JSON value (for the shrinker). */
export function withBodyValue(req: FuzzRequest, value: unknown): FuzzRequest {
  return { ...req, bodyValue: value, body: toJsonText(value) };
}

/** Each fixture invoice in each document format: every hostile string the server accepted, through every renderer. */
export function renderRequests(fx: FuzzFixtures): FuzzRequest[] {
  const formats = ['json', 'xml', 'pdf', 'ofd', 'ubl'];
  return fx.invoices.flatMap((inv, i) => formats.map((format, j): FuzzRequest => ({
    index: -1 - (i * formats.length + j), listener: 'api', method: 'GET', url: `/v1/invoices/${inv.number}?format=${format}`,
    headers: { authorization: `Bearer ${fx.apiKey}` }, remoteAddress: `198.18.250.${1 + ((i * formats.length + j) % 250)}`,
    op: 'GET /v1/invoices/{number}', security: 'apiKey', validAuth: true, kind: `render:${format}`,
  })));
}

// ---------------------------------------------------------------------------------------------------------------
// The tenant's signing algorithm: every way the admin API sets it, with every kind of value it must refuse

/**
 * Values the signing-algorithm setting (`signingAlgorithm` of POST and PATCH /admin/v1/tenants, `fapiao tenant
 * create|update --signing-algorithm`) must refuse, by name: names of no algorithm (signature schemes, other curves,
 * other spellings), other JSON types, invisible and look-alike characters, and huge strings.
 */
export const BAD_SIGNING_ALGORITHMS: readonly (readonly [string, unknown])[] = [
  ['unknown-rsa', 'RSA'],
  ['unknown-p384', 'ECDSA-P384'],
  ['unknown-ed448', 'Ed448'],
  ['scheme-sm2-sm3', 'SM2-SM3'],
  ['scheme-p256-sha256', 'ECDSA-P256-SHA256'],
  ['lower-case-sm2', 'sm2'],
  ['lower-case-p256', 'ecdsa-p256'],
  ['lower-case-ed25519', 'ed25519'],
  ['upper-case-ed25519', 'ED25519'],
  ['curve-name', 'P-256'],
  ['no-dash', 'ECDSAP256'],
  ['cli-default-word', 'default'],
  ['two-names', 'SM2,Ed25519'],
  ['repeated', 'SM2SM2'],
  ['empty', ''],
  ['space', ' '],
  ['trailing-space', 'SM2 '],
  ['leading-space', ' Ed25519'],
  ['tab', 'SM2\t'],
  ['newline', 'ECDSA-P256\n'],
  ['nul', 'SM2\u0000'],
  ['bom', '\uFEFFSM2'],
  ['zero-width', 'SM\u200B2'],
  ['fullwidth', 'ＳＭ２'],
  ['cyrillic-e', '\u0415d25519'],
  ['combining', 'SM2\u0301'],
  ['nfd-lookalike', 'E\u0301d25519'],
  ['lone-surrogate', 'SM2\uD800'],
  ['rtl-override', '\u202ESM2'],
  ['astral', '😀'],
  ['cjk', '国密'],
  ['proto', '__proto__'],
  ['prototype-name', 'toString'],
  ['constructor', 'constructor'],
  ['huge-100k', 'S'.repeat(100_000)],
  ['valid-then-10k', `SM2${'x'.repeat(10_000)}`],
  ['number', 2],
  ['zero', 0],
  ['raw-overflow', new RawJson('1e309')],
  ['true', true],
  ['false', false],
  ['array', ['SM2']],
  ['empty-array', []],
  ['object', { alg: 'SM2' }],
  ['empty-object', {}],
  // Written in place of the value, the last key of every body below: `"signingAlgorithm":"SM2","signingAlgorithm":"RSA"`,
  // which a JSON parser reads as its last.
  ['duplicate-key-last-wins', new RawJson('"SM2","signingAlgorithm":"RSA"')],
];

/** A valid tax ID (checksum included) for the tenants the signing-algorithm requests would create. */
export const SIGNING_PROBE_TAX_ID = uscc(new Rng(0x516e));

type SigningWay = [way: string, method: string, url: string, body: (v: unknown) => Record<string, unknown>];

function signingWays(fx: FuzzFixtures): SigningWay[] {
  return [
    ['create', 'POST', '/admin/v1/tenants', (v) => ({ name: '签名算法测试有限公司', taxId: SIGNING_PROBE_TAX_ID, regionCode: '31', signingAlgorithm: v })],
    ['update', 'PATCH', `/admin/v1/tenants/${fx.scratchTenantId}`, (v) => ({ signingAlgorithm: v })],
    ['update-with-name', 'PATCH', `/admin/v1/tenants/${fx.scratchTenantId}`, (v) => ({ name: '不应改名有限公司', signingAlgorithm: v })],
  ];
}

/**
 * One request per bad value and way of setting it: a new tenant with it (valid otherwise), the scratch tenant changed
 * to it alone, and changed to it together with a valid name (the change is one: the name must not change either).
 * POST also gets `null` (only PATCH may clear). `kind` says which (`signing-algorithm:<way>:<value>`).
 */
export function signingAlgorithmRequests(fx: FuzzFixtures): FuzzRequest[] {
  return signingRequests(fx, signingWays(fx).map(([way, method, url, body]) =>
    [way, method, url, body, way === 'create' ? [...BAD_SIGNING_ALGORITHMS, ['null-on-create', null]] : BAD_SIGNING_ALGORITHMS]), -100_000);
}

/**
 * The same requests with each algorithm there is (and `null` for PATCH): what shows that the bodies around the bad
 * values are otherwise accepted. They change tenants: sent after the bad ones.
 */
export function signingAlgorithmControls(fx: FuzzFixtures): FuzzRequest[] {
  const good: (readonly [string, unknown])[] = SIGNING_ALGORITHMS.map((a) => [a, a] as const);
  return signingRequests(fx, signingWays(fx).map(([way, method, url, body]) =>
    [way, method, url, body, way === 'create' ? good : [...good, ['null', null]]]), -200_000);
}

function signingRequests(fx: FuzzFixtures, ways: [...SigningWay, readonly (readonly [string, unknown])[]][], firstIndex: number): FuzzRequest[] {
  const out: FuzzRequest[] = [];
  for (const [way, method, url, body, values] of ways) {
    for (const [name, value] of values) {
      const bodyValue = body(value);
      const i = out.length;
      out.push({
        index: firstIndex - i, listener: 'admin', method, url, bodyValue, body: toJsonText(bodyValue),
        headers: { authorization: `Bearer ${fx.adminToken}`, 'content-type': 'application/json' },
        remoteAddress: `127.0.${Math.floor(i / 250)}.${1 + (i % 250)}`,
        op: method === 'POST' ? 'POST /admin/v1/tenants' : 'PATCH /admin/v1/tenants/{tenantId}', security: 'adminToken', validAuth: true,
        kind: `signing-algorithm:${way}:${name}`,
      });
    }
  }
  return out;
}
