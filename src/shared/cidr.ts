// IP addresses and CIDR blocks (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6 prefixes), parsed into bigints so one
// comparison covers both families. Canonical text follows RFC 5952 (lower case, longest run of zero groups as `::`,
// never a single group). IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) are read as the IPv4
// address they carry: a dual-stack socket reports IPv4 clients that way, and a ban on 1.2.3.4 must catch them.

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  value: bigint;
}

export interface Cidr {
  family: IpFamily;
  /** The network address: host bits are zero. */
  network: bigint;
  prefix: number;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };
const V4_MAPPED = 0xffff00000000n;

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    // Decimal only: `010` is octal to inet_aton, so a leading zero would make the address ambiguous.
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(input: string): bigint | undefined {
  const s = input.replace(/%[\w.~-]+$/, ''); // zone id (fe80::1%eth0) does not change the address
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.split('::').length > 2) return undefined;
  let tail = s;
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    // An embedded IPv4 tail (RFC 4291 §2.2 form 3) stands for the last two groups.
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = `${s.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [headText = '', restText] = tail.split('::');
  const head = headText === '' ? [] : headText.split(':');
  const rest = restText === undefined ? undefined : restText === '' ? [] : restText.split(':');
  if (rest !== undefined && head.length + rest.length > 7) return undefined;
  const groups = rest === undefined ? head : [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  if (groups.length !== 8) return undefined;
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return v;
}

/** Parses an IPv4 or IPv6 address; IPv4-mapped IPv6 becomes IPv4. Undefined for anything else. */
export function parseIp(text: string): IpAddress | undefined {
  const s = text.trim();
  if (s.includes(':')) {
    const v = parseV6(s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s);
    if (v === undefined) return undefined;
    if (v >> 32n === V4_MAPPED >> 32n) return { family: 4, value: v & 0xffffffffn };
    return { family: 6, value: v };
  }
  const v = parseV4(s);
  return v === undefined ? undefined : { family: 4, value: v };
}

function formatV4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((v >> shift) & 0xffn)).join('.');
}

function formatV6(v: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function formatIp(ip: IpAddress): string {
  return ip.family === 4 ? formatV4(ip.value) : formatV6(ip.value);
}

/** The canonical text of an address (`::ffff:1.2.3.4` → `1.2.3.4`, `2001:DB8:0::1` → `2001:db8::1`). */
export function normalizeIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip ? formatIp(ip) : undefined;
}

function mask(family: IpFamily, prefix: number): bigint {
  const bits = BigInt(BITS[family]);
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

/**
 * Parses `a.b.c.d/n` or `x:y::/n`; a bare address is a block of one (/32, /128). Host bits below the prefix are
 * cleared (`10.1.2.3/8` is `10.0.0.0/8`). An IPv4-mapped block with a prefix of at least 96 becomes the IPv4 block.
 */
export function parseCidr(text: string): Cidr | undefined {
  const [addr = '', len, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  const raw = addr.includes(':') ? parseV6(addr) : parseV4(addr);
  if (raw === undefined) return undefined;
  let family: IpFamily = addr.includes(':') ? 6 : 4;
  let prefix = BITS[family];
  if (len !== undefined) {
    if (!/^(0|[1-9]\d{0,2})$/.test(len)) return undefined;
    prefix = Number(len);
    if (prefix > BITS[family]) return undefined;
  }
  let value = raw;
  if (family === 6 && raw >> 32n === V4_MAPPED >> 32n && prefix >= 96) {
    family = 4;
    value = raw & 0xffffffffn;
    prefix -= 96;
  }
  return { family, network: value & mask(family, prefix), prefix };
}

/** `10.0.0.0/8`; a block of one address is written as the bare address. */
export function formatCidr(c: Cidr): string {
  const addr = formatIp({ family: c.family, value: c.network });
  return c.prefix === BITS[c.family] ? addr : `${addr}/${c.prefix}`;
}

export function cidrContains(c: Cidr, ip: IpAddress): boolean {
  return c.family === ip.family && (ip.value & mask(c.family, c.prefix)) === c.network;
}

/** The block of `prefix` bits around an address. */
export function cidrOf(ip: IpAddress, prefix: number): Cidr {
  const p = Math.min(prefix, BITS[ip.family]);
  return { family: ip.family, network: ip.value & mask(ip.family, p), prefix: p };
}

/** True when the block is one address (/32 or /128). */
export function isSingleAddress(c: Cidr): boolean {
  return c.prefix === BITS[c.family];
}

/**
 * The subject that limits and bans are keyed by: an IPv4 address as is, an IPv6 address by its /64, since one
 * subscriber usually holds a whole /64 (RFC 6177) and could otherwise rotate through 2^64 addresses.
 */
export function clientSubject(ip: IpAddress): string {
  return ip.family === 4 ? formatIp(ip) : formatCidr(cidrOf(ip, 64));
}

/** A fixed list of blocks, e.g. trusted proxies or a blocklist. Throws on the first entry that is not a CIDR. */
export class CidrSet {
  readonly blocks: readonly Cidr[];

  constructor(entries: Iterable<string>) {
    const blocks: Cidr[] = [];
    for (const e of entries) {
      const c = parseCidr(e);
      if (!c) throw new RangeError(`not an IP address or CIDR block: ${JSON.stringify(e)}`);
      blocks.push(c);
    }
    this.blocks = blocks;
  }

  get size(): number {
    return this.blocks.length;
  }

  has(ip: IpAddress | string | undefined): boolean {
    const a = typeof ip === 'string' ? parseIp(ip) : ip;
    return a !== undefined && this.blocks.some((c) => cidrContains(c, a));
  }
}
