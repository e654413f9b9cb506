// Bans of client addresses and blocks (issue 3, "Abuse control"): automatic ones (rate limit, exploit signature,
// failed authentication) that expire, and manual ones or blocklist entries from the admin API, possibly permanent.
// The store holds them (in process, or in Redis shared by every node: redis-abuse-store.ts); the service gives
// targets their canonical form, keeps an automatic ban from shortening a longer one, and reports every change to
// `onBan` / `onLift` so the composition root can write the audit entry.
import { AppError } from '../../../shared/errors.ts';
import { cidrContains, cidrOf, formatCidr, isSingleAddress, parseCidr, parseIp, type Cidr } from '../../../shared/cidr.ts';
import type { Clock } from '../../../shared/clock.ts';
import type { SharedStoreHealth } from './rate-limiter.ts';

export const BAN_REASONS = ['rate-limit', 'exploit', 'auth-failures', 'manual', 'blocklist'] as const;
export type BanReason = (typeof BAN_REASONS)[number];

export interface Ban {
  /** An address (`1.2.3.4`, `2001:db8::1`) or a CIDR block (`10.0.0.0/8`), in canonical form. */
  target: string;
  reason: BanReason;
  /** ISO 8601 end of the ban; absent = permanent. */
  until?: string;
  createdAt: string;
  note?: string;
}

export interface BanStore {
  /** Stores `ban`, replacing any ban of the same target. The target is canonical (see canonicalBanTarget). */
  add(ban: Ban): Promise<void>;
  /** Removes the ban of `target`; the removed ban if one was active. */
  lift(target: string): Promise<Ban | undefined>;
  /** The active ban of exactly `target`. */
  get(target: string): Promise<Ban | undefined>;
  /** Active bans, oldest first. */
  list(): Promise<Ban[]>;
  /** The most severe active ban covering the address (its own, its IPv6 /64's, or a block's). */
  check(ip: string): Promise<Ban | undefined>;
}

export interface BanTarget {
  /** Canonical text: `1.2.3.4`, `2001:db8:1:2::/64`, `10.0.0.0/8`. */
  key: string;
  /**
   * True for targets found by key lookup (one address, or an IPv6 /64 — the subject automatic bans name); false for
   * other blocks, which are matched by scanning (there are few: the admin adds them).
   */
  exact: boolean;
  cidr: Cidr;
}

export function canonicalBanTarget(target: string): BanTarget | undefined {
  const cidr = parseCidr(target);
  if (!cidr) return undefined;
  return { key: formatCidr(cidr), exact: isSingleAddress(cidr) || (cidr.family === 6 && cidr.prefix === 64), cidr };
}

/** The exact keys under which a ban of this address may be stored: the address, and for IPv6 its /64. */
export function banKeysOf(ip: string): readonly string[] {
  let keys = banKeyCache.get(ip);
  if (!keys) {
    const a = parseIp(ip);
    keys = !a ? [] : a.family === 6 ? [formatCidr(cidrOf(a, 128)), formatCidr(cidrOf(a, 64))] : [formatCidr(cidrOf(a, 128))];
    // Every request checks its client's bans: parse each address once (bounded, the mapping never changes).
    if (banKeyCache.size >= 10_000) banKeyCache.clear();
    banKeyCache.set(ip, Object.freeze(keys));
  }
  return keys;
}

const banKeyCache = new Map<string, readonly string[]>();

export function isBanActive(ban: Ban, nowMs: number): boolean {
  return ban.until === undefined || Date.parse(ban.until) > nowMs;
}

export function isRangeCovering(ban: Ban, ip: string): boolean {
  const t = canonicalBanTarget(ban.target);
  const a = parseIp(ip);
  return t !== undefined && a !== undefined && cidrContains(t.cidr, a);
}

/** The most severe of several bans: a permanent one, else the one that ends last. */
export function mostSevere(bans: Iterable<Ban | undefined>): Ban | undefined {
  let best: Ban | undefined;
  for (const b of bans) {
    if (!b) continue;
    if (!best) best = b;
    else if (best.until === undefined) continue;
    else if (b.until === undefined || Date.parse(b.until) > Date.parse(best.until)) best = b;
  }
  return best;
}

export interface MemoryBanStoreOptions {
  clock: Clock;
  /** Exact-key bans held before expired ones are swept. */
  sweepAt?: number;
}

export class MemoryBanStore implements BanStore {
  private readonly exact = new Map<string, Ban>();
  private readonly ranges = new Map<string, Ban>();
  private readonly clock: Clock;
  private readonly sweepAt: number;

  constructor(opts: MemoryBanStoreOptions) {
    this.clock = opts.clock;
    this.sweepAt = opts.sweepAt ?? 10_000;
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private active(ban: Ban | undefined): Ban | undefined {
    return ban && isBanActive(ban, this.now()) ? ban : undefined;
  }

  async add(ban: Ban): Promise<void> {
    const t = canonicalBanTarget(ban.target);
    if (!t) throw new RangeError(`not a ban target: ${ban.target}`);
    this.exact.delete(t.key);
    this.ranges.delete(t.key);
    const map = t.exact ? this.exact : this.ranges;
    if (map.size >= this.sweepAt) this.sweep(map);
    map.set(t.key, { ...ban, target: t.key });
  }

  async lift(target: string): Promise<Ban | undefined> {
    const found = await this.get(target);
    this.exact.delete(target);
    this.ranges.delete(target);
    return found;
  }

  async get(target: string): Promise<Ban | undefined> {
    return this.active(this.exact.get(target) ?? this.ranges.get(target));
  }

  async list(): Promise<Ban[]> {
    this.sweep(this.exact);
    this.sweep(this.ranges);
    return [...this.exact.values(), ...this.ranges.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async check(ip: string): Promise<Ban | undefined> {
    const candidates = banKeysOf(ip).map((k) => this.active(this.exact.get(k)));
    for (const b of this.ranges.values()) if (this.active(b) && isRangeCovering(b, ip)) candidates.push(b);
    return mostSevere(candidates);
  }

  private sweep(map: Map<string, Ban>): void {
    const now = this.now();
    for (const [k, b] of map) if (!isBanActive(b, now)) map.delete(k);
  }
}

/** Bans the server decides by itself; an admin's bans and blocks are the others. */
const AUTOMATIC_REASONS: ReadonlySet<BanReason> = new Set(['rate-limit', 'exploit', 'auth-failures']);

/**
 * The shared ban list (Redis) with an in-process one beside it for outages. While Redis does not answer, checks see
 * the bans this node made meanwhile (it keeps banning the abusers its in-process counters find, see
 * FallbackRateLimiter) but not Redis's: they fail open, as the configured blocklist still applies. Those local bans
 * keep applying here after Redis is back, until they end; other nodes never learn them. An admin's ban, lift or list
 * is refused with 503 during an outage rather than acknowledged for one node only.
 */
export class FallbackBanStore implements BanStore {
  constructor(
    private readonly shared: BanStore,
    private readonly local: BanStore,
    private readonly health: SharedStoreHealth,
  ) {}

  private async sharedOp<T>(op: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
    if (!this.health.usable()) return { ok: false };
    try {
      const value = await op();
      this.health.succeeded();
      return { ok: true, value };
    } catch (err) {
      this.health.failed(err);
      return { ok: false };
    }
  }

  private unavailable(): AppError {
    return new AppError('SERVICE_UNAVAILABLE', { detail: 'the shared ban list (Redis) is unreachable; retry', headers: { 'retry-after': '5' } });
  }

  async add(ban: Ban): Promise<void> {
    const r = await this.sharedOp(() => this.shared.add(ban));
    if (r.ok) return;
    if (!AUTOMATIC_REASONS.has(ban.reason)) throw this.unavailable();
    this.health.fellBack('ban');
    await this.local.add(ban);
  }

  async lift(target: string): Promise<Ban | undefined> {
    const local = await this.local.lift(target);
    const r = await this.sharedOp(() => this.shared.lift(target));
    if (!r.ok) throw this.unavailable();
    return mostSevere([r.value, local]);
  }

  async get(target: string): Promise<Ban | undefined> {
    const local = await this.local.get(target);
    const r = await this.sharedOp(() => this.shared.get(target));
    if (!r.ok) this.health.fellBack('ban');
    return mostSevere([r.ok ? r.value : undefined, local]);
  }

  async list(): Promise<Ban[]> {
    const r = await this.sharedOp(() => this.shared.list());
    if (!r.ok) throw this.unavailable();
    const local = await this.local.list();
    if (local.length === 0) return r.value;
    const seen = new Set(r.value.map((b) => b.target));
    return [...r.value, ...local.filter((b) => !seen.has(b.target))].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async check(ip: string): Promise<Ban | undefined> {
    const local = await this.local.check(ip);
    const r = await this.sharedOp(() => this.shared.check(ip));
    if (!r.ok) this.health.fellBack('ban');
    return mostSevere([r.ok ? r.value : undefined, local]);
  }
}

export interface BanInput {
  target: string;
  reason: BanReason;
  /** Length of the ban; absent = permanent. */
  durationSec?: number;
  note?: string;
  /** Who bans: `system` for automatic bans, else the admin's name; passed to onBan for the audit entry. */
  actor?: string;
  /**
   * Automatic bans set this: an existing ban of the target that lasts as long or longer is kept as it is (and no
   * event fires), so a burst of refused requests does not rewrite a longer or permanent ban.
   */
  extendOnly?: boolean;
}

export interface BanServiceOptions {
  store: BanStore;
  clock: Clock;
  onBan?: (ban: Ban, actor: string) => void | Promise<void>;
  onLift?: (ban: Ban, actor: string) => void | Promise<void>;
}

export class BanService {
  constructor(private readonly opts: BanServiceOptions) {}

  async ban(input: BanInput): Promise<Ban> {
    const t = canonicalBanTarget(input.target);
    if (!t) throw new AppError('VALIDATION_FAILED', { field: '/target', detail: 'target must be an IP address or a CIDR block' });
    if (input.durationSec !== undefined && !(Number.isInteger(input.durationSec) && input.durationSec > 0)) {
      throw new AppError('VALIDATION_FAILED', { field: '/durationSec', detail: 'durationSec must be a positive integer' });
    }
    const now = this.opts.clock.now();
    const until = input.durationSec === undefined ? undefined : new Date(now.getTime() + input.durationSec * 1000);
    if (input.extendOnly) {
      const existing = await this.opts.store.get(t.key);
      // Within a second counts as the same ban: concurrent refusals of one burst write it once.
      if (existing && (existing.until === undefined || (until && Date.parse(existing.until) >= until.getTime() - 1000))) {
        return existing;
      }
    }
    const ban: Ban = {
      target: t.key,
      reason: input.reason,
      ...(until ? { until: until.toISOString() } : {}),
      createdAt: now.toISOString(),
      ...(input.note !== undefined ? { note: input.note } : {}),
    };
    await this.opts.store.add(ban);
    await this.opts.onBan?.(ban, input.actor ?? 'system');
    return ban;
  }

  /** Lifts the ban of `target` (an address or block, any spelling); undefined when there was none. */
  async lift(target: string, actor = 'system'): Promise<Ban | undefined> {
    const t = canonicalBanTarget(target);
    if (!t) throw new AppError('VALIDATION_FAILED', { field: '/target', detail: 'target must be an IP address or a CIDR block' });
    const lifted = await this.opts.store.lift(t.key);
    if (lifted) await this.opts.onLift?.(lifted, actor);
    return lifted;
  }

  list(): Promise<Ban[]> {
    return this.opts.store.list();
  }

  /** The ban that refuses this client address now, if any. */
  check(ip: string): Promise<Ban | undefined> {
    return this.opts.store.check(ip);
  }
}
