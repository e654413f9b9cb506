// Dates on Chinese invoices are in China Standard Time (UTC+8, no daylight saving since 1991), so the issue date and
// the year in the invoice number come from UTC+8, not from the server's zone.
const OFFSET_MS = 8 * 3600 * 1000;

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** `2026-11-24T14:03:05.123+08:00` */
export function toChinaIso(d: Date): string {
  const t = new Date(d.getTime() + OFFSET_MS);
  return (
    `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}T` +
    `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}.${pad(t.getUTCMilliseconds(), 3)}+08:00`
  );
}

/** `YYYY-MM-DD` in UTC+8. */
export function chinaDate(d: Date): string {
  return toChinaIso(d).slice(0, 10);
}

export function chinaYear(d: Date): number {
  return new Date(d.getTime() + OFFSET_MS).getUTCFullYear();
}
