// When a failed delivery is tried again (docs/webhooks.md, "Retries"). Exponential-ish steps, as the Standard Webhooks
// guidance suggests, spread over more than three days so an endpoint that is down over a weekend still gets its
// events; then the delivery is dead-lettered (kept, listed, redeliverable by hand).
//
// Jitter only lengthens a step (× 1 … 1.2), so the schedule's total never falls under the documented minimum and
// endpoints failing together do not come back in lock step.

const S = 1000;
const M = 60 * S;
const H = 60 * M;

/** The wait after attempt n (1-based) failed, before attempt n + 1; after the last one the delivery is dead. */
export const RETRY_DELAYS_MS: readonly number[] = [10 * S, M, 5 * M, 30 * M, 2 * H, 6 * H, 12 * H, 12 * H, 24 * H, 24 * H];

/** Attempts in all: the first and one per step. */
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

export const JITTER = 0.2;

/**
 * When attempt `attempts + 1` is due after attempt `attempts` failed at `failedAt`, or undefined when `attempts` was the
 * last (dead letter). `random` is in [0, 1).
 */
export function nextAttemptAt(attempts: number, failedAt: Date, random: number): Date | undefined {
  const base = RETRY_DELAYS_MS[attempts - 1];
  if (base === undefined) return undefined;
  return new Date(failedAt.getTime() + Math.round(base * (1 + JITTER * random)));
}
