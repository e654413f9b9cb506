// Fixed-window request counters for the abuse controls (issue 3). The window of a key opens at its first hit and
// lasts `windowMs`: exactly what `INCR key` + `PEXPIRE key windowMs NX` gives in Redis, so the in-process and the
// shared implementation (redis-abuse-store.ts) answer alike. Keys name what is limited: a client address for public
// routes, a tenant for tenant routes (invariant 7: a tenant's budget is never shared with another tenant's).
import type { Clock } from '../../../shared/clock.ts';

export interface RateDecision {
  allowed: boolean;
  /** The quota of the window (`q` of RateLimit-Policy). */
  limit: number;
  /** Requests left in the window after this one (`r` of RateLimit); 0 once refused. */
  remaining: number;
  /** Seconds until the window ends (`t` of RateLimit; Retry-After when refused); at least 1. */
  resetSec: number;
}

export interface RateLimiter {
  /** Counts one request under `key`; hits past `limit` inside the window are refused and still counted. */
  hit(key: string, limit: number, windowMs: number): Promise<RateDecision>;
  /** Forgets the counter of `key` (after an admin lifts a ban, for instance). */
  reset(key: string): Promise<void>;
}

/** `ip:<group>:<subject>` — the counter of a client address (IPv6 by /64) on one route group. */
export function ipRateKey(group: string, subject: string): string {
  return `ip:${group}:${subject}`;
}

/** `tenant:<group>:<tenantId>` — the counter of a tenant on one route group. */
export function tenantRateKey(group: string, tenantId: string): string {
  return `tenant:${group}:${tenantId}`;
}

export function decide(count: number, limit: number, ttlMs: number): RateDecision {
  const resetSec = Math.max(1, Math.ceil(ttlMs / 1000));
  return { allowed: count <= limit, limit, remaining: Math.max(0, limit - count), resetSec };
}

interface Counter {
  count: number;
  expiresAt: number;
}

export interface MemoryRateLimiterOptions {
  clock: Clock;
  /** Keys held at most; memory stays bounded however many addresses an attacker uses. */
  maxKeys?: number;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly counters = new Map<string, Counter>();
  private readonly clock: Clock;
  private readonly maxKeys: number;

  constructor(opts: MemoryRateLimiterOptions) {
    this.clock = opts.clock;
    this.maxKeys = opts.maxKeys ?? 200_000;
  }

  async hit(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const now = this.clock.now().getTime();
    let c = this.counters.get(key);
    if (c && c.expiresAt <= now) {
      this.counters.delete(key);
      c = undefined;
    }
    if (!c) {
      if (this.counters.size >= this.maxKeys) this.makeRoom(now);
      c = { count: 0, expiresAt: now + windowMs };
      this.counters.set(key, c);
    }
    c.count++;
    return decide(c.count, limit, c.expiresAt - now);
  }

  async reset(key: string): Promise<void> {
    this.counters.delete(key);
  }

  /** Keys currently held (for tests and metrics). */
  get size(): number {
    return this.counters.size;
  }

  /** Drops expired counters, then the oldest ones until a tenth of the table is free (Map keeps insertion order). */
  private makeRoom(now: number): void {
    for (const [k, v] of this.counters) if (v.expiresAt <= now) this.counters.delete(k);
    const target = this.maxKeys - Math.max(1, Math.floor(this.maxKeys / 10));
    for (const k of this.counters.keys()) {
      if (this.counters.size <= target) break;
      this.counters.delete(k);
    }
  }
}

/**
 * How a shared store (Redis) is doing, as the fallback wrappers below see it. One per client connection, shared by
 * the limiter and the ban store, so an outage is noticed, logged and counted once for both.
 */
export interface SharedStoreHealth {
  /** Whether to send this operation to the shared store: false during an outage, but for a retry now and then. */
  usable(): boolean;
  /** An operation on the shared store failed (the first failure of an outage is the one logged). */
  failed(error: unknown): void;
  /** An operation on the shared store succeeded (ends an outage). */
  succeeded(): void;
  /** An operation was answered by the in-process store instead (the `fapiao_abuse_store_fallback_total` metric). */
  fellBack(store: 'rate-limit' | 'ban'): void;
}

/**
 * The shared counters while they answer, in-process ones while they do not: the limits of 查验 and of the public and
 * tenant routes stay enforced through a Redis outage (per node, each counting alone, as without Redis) instead of
 * every check failing. Counts made in process during an outage stay there; Redis starts from its own when it is
 * back, so a budget may be spent up to twice over across an outage (never more than one node's worth each time).
 */
export class FallbackRateLimiter implements RateLimiter {
  constructor(
    private readonly shared: RateLimiter,
    private readonly local: RateLimiter,
    private readonly health: SharedStoreHealth,
  ) {}

  async hit(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    if (this.health.usable()) {
      try {
        const d = await this.shared.hit(key, limit, windowMs);
        this.health.succeeded();
        return d;
      } catch (err) {
        this.health.failed(err);
      }
    }
    this.health.fellBack('rate-limit');
    return this.local.hit(key, limit, windowMs);
  }

  /** Forgets the key in both stores; the shared one only when it answers (its counter then expires by itself). */
  async reset(key: string): Promise<void> {
    await this.local.reset(key);
    if (!this.health.usable()) return;
    try {
      await this.shared.reset(key);
      this.health.succeeded();
    } catch (err) {
      this.health.failed(err);
    }
  }
}
