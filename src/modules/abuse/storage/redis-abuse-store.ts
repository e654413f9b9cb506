// Rate-limit counters and bans in Redis, so every node behind the load balancer counts one budget and honours one ban
// list (docs/design.md §9). Redis holds nothing acknowledged to a client: losing it forgets counters and temporary bans,
// and the blocklist from the configuration still applies. The classes here throw when Redis does not answer; the
// composition root wraps them (FallbackRateLimiter, FallbackBanStore) so that during an outage the in-process stores
// answer instead, and RedisHealth tells the wrappers when to try Redis. Give the client short limits
// (`new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 250 })`) or an outage turns
// into a stall of every request before it falls back.
//
// Keys (all under `prefix`):
//   rl:<key>        counter: INCR, then PEXPIRE NX opens the fixed window at the first hit (Redis ≥ 7.0)
//   ban:exact       hash target → JSON ban, for addresses and IPv6 /64s (looked up by key with HMGET)
//   ban:ranges      hash target → JSON ban, for other CIDR blocks (few, fetched whole and matched in process)
//   ban:expiry      sorted set target → end of the ban in ms; permanent bans are absent. A Lua sweep removes ended
//                   bans from both hashes atomically, so a ban re-added in the meantime (new score) survives.
import type { Redis } from 'ioredis';
import type { Clock } from '../../../shared/clock.ts';
import { systemClock } from '../../../shared/clock.ts';
import { decide, type RateDecision, type RateLimiter, type SharedStoreHealth } from '../app/rate-limiter.ts';
import { banKeysOf, canonicalBanTarget, isBanActive, isRangeCovering, mostSevere, type Ban, type BanStore } from '../app/ban-service.ts';

export const DEFAULT_REDIS_ABUSE_PREFIX = 'fapiao:abuse:';

export interface RedisAbuseStoreOptions {
  redis: Redis;
  /** Prefix of every key; lets several deployments (or test runs) share one Redis. */
  prefix?: string;
  /** Ban ends are compared with this clock (counters expire by Redis's own clock). */
  clock?: Clock;
}

export interface RedisHealthOptions {
  redis: Redis;
  clock?: Clock;
  /** During an outage, how often an operation still tries Redis (besides at once when ioredis reconnects). */
  retryMs?: number;
  /** The first failure of an outage (log it: once per outage, whatever the traffic). */
  onDown?: (error: unknown) => void;
  /** The first success after an outage. */
  onUp?: () => void;
  /** One operation answered in process. */
  onFallback?: (store: 'rate-limit' | 'ban') => void;
}

/**
 * Whether Redis answers, from ioredis's connection state and the outcome of each operation. While ioredis is not
 * connected nothing is sent at all (with `enableOfflineQueue: false` it would fail at once anyway); while it is
 * connected but commands fail (a stalled server: each one waits for `commandTimeout`), one try per `retryMs`.
 * Registers the client's `error` listener: ioredis emits one per reconnection attempt, which must neither crash the
 * process (an EventEmitter without a listener throws) nor fill the log.
 */
export class RedisHealth implements SharedStoreHealth {
  private readonly redis: Redis;
  private readonly clock: Clock;
  private readonly retryMs: number;
  private up = true;
  private retryAt = 0;

  constructor(private readonly opts: RedisHealthOptions) {
    this.redis = opts.redis;
    this.clock = opts.clock ?? systemClock;
    this.retryMs = opts.retryMs ?? 1000;
    this.redis.on('error', (err: unknown) => this.markDown(err));
    // Reconnected: try at once rather than at the end of the retry interval.
    this.redis.on('ready', () => void (this.retryAt = 0));
  }

  /** False from the first failure of an outage until an operation succeeds again. */
  get isUp(): boolean {
    return this.up;
  }

  usable(): boolean {
    if (this.redis.status !== 'ready') {
      this.markDown(new Error(`redis connection ${this.redis.status}`));
      return false;
    }
    return this.up || this.clock.now().getTime() >= this.retryAt;
  }

  failed(error: unknown): void {
    this.markDown(error);
    this.retryAt = this.clock.now().getTime() + this.retryMs;
  }

  succeeded(): void {
    if (this.up) return;
    this.up = true;
    this.opts.onUp?.();
  }

  fellBack(store: 'rate-limit' | 'ban'): void {
    this.opts.onFallback?.(store);
  }

  private markDown(error: unknown): void {
    if (!this.up) return;
    this.up = false;
    this.opts.onDown?.(error);
  }
}

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(opts: RedisAbuseStoreOptions) {
    this.redis = opts.redis;
    this.prefix = opts.prefix ?? DEFAULT_REDIS_ABUSE_PREFIX;
  }

  async hit(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const k = `${this.prefix}rl:${key}`;
    const res = await this.redis.multi().incr(k).pexpire(k, windowMs, 'NX').pttl(k).exec();
    if (!res) throw new Error('redis transaction aborted');
    for (const [err] of res) if (err) throw err;
    const count = Number(res[0]![1]);
    const ttl = Number(res[2]![1]);
    return decide(count, limit, ttl > 0 ? ttl : windowMs);
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}rl:${key}`);
  }
}

// KEYS: expiry zset, exact hash, ranges hash. ARGV: now in ms, most members removed per call.
const SWEEP = `
local ended = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, t in ipairs(ended) do
  redis.call('HDEL', KEYS[2], t)
  redis.call('HDEL', KEYS[3], t)
  redis.call('ZREM', KEYS[1], t)
end
return #ended`;

function parseBan(json: string | null | undefined): Ban | undefined {
  if (!json) return undefined;
  try {
    return JSON.parse(json) as Ban;
  } catch {
    return undefined;
  }
}

export class RedisBanStore implements BanStore {
  private readonly redis: Redis;
  private readonly clock: Clock;
  private readonly exactKey: string;
  private readonly rangesKey: string;
  private readonly expiryKey: string;

  constructor(opts: RedisAbuseStoreOptions) {
    this.redis = opts.redis;
    this.clock = opts.clock ?? systemClock;
    const prefix = opts.prefix ?? DEFAULT_REDIS_ABUSE_PREFIX;
    this.exactKey = `${prefix}ban:exact`;
    this.rangesKey = `${prefix}ban:ranges`;
    this.expiryKey = `${prefix}ban:expiry`;
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  private active(ban: Ban | undefined): Ban | undefined {
    return ban && isBanActive(ban, this.now()) ? ban : undefined;
  }

  /** Removes ended bans (at most `limit` per call, so one call stays short). */
  async sweep(limit = 1000): Promise<number> {
    return Number(await this.redis.eval(SWEEP, 3, this.expiryKey, this.exactKey, this.rangesKey, this.now(), limit));
  }

  async add(ban: Ban): Promise<void> {
    const t = canonicalBanTarget(ban.target);
    if (!t) throw new RangeError(`not a ban target: ${ban.target}`);
    const stored: Ban = { ...ban, target: t.key };
    const tx = this.redis.multi()
      .hdel(this.exactKey, t.key)
      .hdel(this.rangesKey, t.key)
      .hset(t.exact ? this.exactKey : this.rangesKey, t.key, JSON.stringify(stored));
    if (stored.until === undefined) tx.zrem(this.expiryKey, t.key);
    else tx.zadd(this.expiryKey, Date.parse(stored.until), t.key);
    const res = await tx.exec();
    for (const [err] of res ?? []) if (err) throw err;
    await this.sweep(100);
  }

  async lift(target: string): Promise<Ban | undefined> {
    const res = await this.redis.multi()
      .hget(this.exactKey, target)
      .hget(this.rangesKey, target)
      .hdel(this.exactKey, target)
      .hdel(this.rangesKey, target)
      .zrem(this.expiryKey, target)
      .exec();
    if (!res) throw new Error('redis transaction aborted');
    for (const [err] of res) if (err) throw err;
    return this.active(parseBan(res[0]![1] as string | null) ?? parseBan(res[1]![1] as string | null));
  }

  async get(target: string): Promise<Ban | undefined> {
    const [exact, range] = await Promise.all([this.redis.hget(this.exactKey, target), this.redis.hget(this.rangesKey, target)]);
    return this.active(parseBan(exact) ?? parseBan(range));
  }

  async list(): Promise<Ban[]> {
    await this.sweep();
    const [exact, ranges] = await Promise.all([this.redis.hvals(this.exactKey), this.redis.hvals(this.rangesKey)]);
    const now = this.now();
    return [...exact, ...ranges]
      .map(parseBan)
      .filter((b): b is Ban => b !== undefined && isBanActive(b, now))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async check(ip: string): Promise<Ban | undefined> {
    const keys = banKeysOf(ip);
    if (keys.length === 0) return undefined;
    // One round trip: HMGET and HVALS are pipelined by ioredis on the same connection.
    const [exact, ranges] = await Promise.all([this.redis.hmget(this.exactKey, ...keys), this.redis.hvals(this.rangesKey)]);
    const candidates = exact.map((j) => this.active(parseBan(j)));
    for (const j of ranges) {
      const b = this.active(parseBan(j));
      if (b && isRangeCovering(b, ip)) candidates.push(b);
    }
    return mostSevere(candidates);
  }
}
