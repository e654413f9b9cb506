// The range of a statement or a reconciliation: issue dates in UTC+8 (an invoice's `issueDate`), either a natural
// month (`YYYY-MM`) or two dates, both included. Bad input is refused with the parameter at fault, never reaches SQL.
import { AppError } from '../../../shared/errors.ts';

export interface DateRange {
  /** First issue date included, `YYYY-MM-DD`. */
  from: string;
  /** Last issue date included, `YYYY-MM-DD`. */
  to: string;
  /** The natural month, when the range is one. */
  period?: string;
}

const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const PERIOD = /^([0-9]{4})-(0[1-9]|1[0-2])$/;
/** Years a 数电票 can carry (the number holds two digits of the year); outside them nothing was issued. */
const FIRST_YEAR = 2000;
const LAST_YEAR = 2099;

/** A calendar date `YYYY-MM-DD` between 2000 and 2099 (Date would roll 2026-02-31 over into March). */
export function isCalendarDate(value: string): boolean {
  const m = DATE.exec(value);
  if (!m) return false;
  const year = Number(m[1]);
  if (year < FIRST_YEAR || year > LAST_YEAR) return false;
  const day = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === value;
}

export function isPeriod(value: string): boolean {
  const m = PERIOD.exec(value);
  return m !== null && Number(m[1]) >= FIRST_YEAR && Number(m[1]) <= LAST_YEAR;
}

/** The first and last day of a month `YYYY-MM`. */
export function monthRange(period: string, where = '/'): DateRange {
  if (!isPeriod(period)) throw new AppError('STATEMENT_PERIOD_INVALID', { field: `${where}period`, detail: 'period is a month YYYY-MM (2000-01 to 2099-12)' });
  const [y, m] = period.split('-').map(Number) as [number, number];
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { from: `${period}-01`, to: `${period}-${String(last).padStart(2, '0')}`, period };
}

/**
 * `period`, or `from` and `to` (both). `where` prefixes the field pointers (`/` for a query string, `--` for the
 * CLI's options).
 */
export function parseRange(input: { period?: string | undefined; from?: string | undefined; to?: string | undefined }, where = '/'): DateRange {
  const { period, from, to } = input;
  const bad = (field: string, detail: string) => new AppError('STATEMENT_PERIOD_INVALID', { field: `${where}${field}`, detail });
  if (period !== undefined) {
    if (from !== undefined || to !== undefined) throw bad('period', 'give either period or from and to, not both');
    return monthRange(period, where);
  }
  if (from === undefined || to === undefined) throw bad(from === undefined ? 'from' : 'to', 'give period, or both from and to');
  if (!isCalendarDate(from)) throw bad('from', 'from is a date YYYY-MM-DD (2000 to 2099)');
  if (!isCalendarDate(to)) throw bad('to', 'to is a date YYYY-MM-DD (2000 to 2099)');
  if (from > to) throw bad('from', 'from is after to');
  const range: DateRange = { from, to };
  const month = from.slice(0, 7);
  if (to.slice(0, 7) === month && monthRange(month).from === from && monthRange(month).to === to) range.period = month;
  return range;
}

/** The months `YYYY-MM` a range touches, in order. */
export function monthsOf(range: DateRange): string[] {
  const out: string[] = [];
  let [y, m] = range.from.slice(0, 7).split('-').map(Number) as [number, number];
  const end = range.to.slice(0, 7);
  for (;;) {
    const p = `${y}-${String(m).padStart(2, '0')}`;
    out.push(p);
    if (p >= end) return out;
    m += 1;
    if (m > 12) {
      m = 1;
      y += 1;
    }
  }
}
