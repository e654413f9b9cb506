// Decimal strings ↔ integer cents by string operations only: money never passes through a binary float.

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d{1,2}))?$/;

/** "113.00" → 11300, "-0.5" → -50. Throws on more than two decimals or a value beyond 2^53 cents. */
export function toCents(value: string): number {
  const m = DECIMAL.exec(value.trim());
  if (!m) throw new RangeError(`not a decimal amount with at most two decimals: ${value}`);
  const [, sign, whole = '', frac = ''] = m;
  const digits = (whole + frac.padEnd(2, '0')).replace(/^0+(?=\d)/, '');
  const cents = Number(digits);
  if (!Number.isSafeInteger(cents)) throw new RangeError(`amount out of range: ${value}`);
  return sign === '-' && cents !== 0 ? -cents : cents;
}
