// Integer cents (bigint) ↔ decimal strings, by integer arithmetic only: sums of any size stay exact.

/** 11300n → "113.00", -5n → "-0.05". */
export function formatCents(cents: bigint): string {
  const negative = cents < 0n;
  const abs = negative ? -cents : cents;
  const whole = abs / 100n;
  const frac = abs % 100n;
  return `${negative ? '-' : ''}${whole}.${frac.toString().padStart(2, '0')}`;
}

/** A SUM or BIGINT as either driver returns it (number from better-sqlite3, string from pg; null for no rows). */
export function readSum(value: number | string | bigint | null | undefined): bigint {
  if (value === null || value === undefined) return 0n;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`sum out of the exact range: ${value}`);
    return BigInt(value);
  }
  // PostgreSQL's SUM of bigint is numeric: an integer written in decimal.
  if (!/^-?[0-9]+$/.test(value)) throw new RangeError(`not an integer sum: ${value}`);
  return BigInt(value);
}

const AMOUNT = /^(-?)([0-9]{1,13})(?:\.([0-9]{1,2}))?$/;

/** "113", "113.5", "-0.05" → cents; undefined for anything else (more decimals, exponents, signs, separators). */
export function parseCents(value: string): number | undefined {
  const m = AMOUNT.exec(value);
  if (!m) return undefined;
  const cents = Number(m[2]!) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' && cents !== 0 ? -cents : cents;
}
