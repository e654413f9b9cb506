// Counters that make 发票查验 expensive to enumerate (invoice-rules.md, "Verification": the public service allows 5
// checks of one invoice a day; ours limits per invoice and per client address). The interface is the one a shared
// Redis implementation will satisfy when several nodes run (DESIGN.md §9): `INCR key` + `PEXPIRE key windowMs NX`.
import type { Clock } from './ports.ts';

export interface LimitDecision {
  allowed: boolean;
  /** Seconds until the window of this key ends; 0 when allowed. For the Retry-After header (RFC 9110 §10.2.3). */
  retryAfterSec: number;
}

export interface VerifyLimiter {
  /**
   * Counts one attempt under `key`. The window opens at the first attempt and lasts `windowMs` (a fixed window:
   * what INCR + PEXPIRE NX gives in Redis); attempts past `limit` inside it are refused and still counted.
   */
  take(key: string, limit: number, windowMs: number): LimitDecision;
}

interface Counter {
  count: number;
  expiresAt: number;
}

export interface MemoryVerifyLimiterOptions {
  clock: Clock;
  /** Keys held at most; memory stays bounded however many addresses or numbers an attacker names. */
  maxKeys?: number;
}

export class MemoryVerifyLimiter implements VerifyLimiter {
  private readonly counters = new Map<string, Counter>();
  private readonly clock: Clock;
  private readonly maxKeys: number;

  constructor(opts: MemoryVerifyLimiterOptions) {
    this.clock = opts.clock;
    this.maxKeys = opts.maxKeys ?? 200_000;
  }

  take(key: string, limit: number, windowMs: number): LimitDecision {
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
    if (c.count <= limit) return { allowed: true, retryAfterSec: 0 };
    return { allowed: false, retryAfterSec: Math.max(1, Math.ceil((c.expiresAt - now) / 1000)) };
  }

  /** Keys currently held (for tests and metrics). */
  get size(): number {
    return this.counters.size;
  }

  /**
   * Drops expired counters; if that frees less than a tenth of the table, drops the oldest ones too. Evicting a live
   * counter forgets its attempts, but filling the table costs an attacker one per-address token per key, so the
   * eviction of a particular invoice's counter cannot be bought cheaply. Sweeping only when full keeps take() O(1)
   * amortised.
   */
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
 * The key of a client address: IPv4 as is, IPv6 by its /64, since one subscriber usually holds a whole /64
 * (RFC 6177) and could otherwise rotate through 2^64 addresses to escape a per-address limit.
 */
export function clientKey(ip: string): string {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (v4mapped) return v4mapped[1]!;
  if (!ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
