// CSV output (RFC 4180) that a spreadsheet opens without running anything. OWASP "CSV Injection": a cell beginning
// with `=`, `+`, `-`, `@`, a tab or a carriage return may be taken for a formula, so such a text cell is prefixed with
// a single quote and quoted. Numeric cells are the server's own figures (counts; amounts written from integer cents
// as `-?[0-9]+.[0-9]{2}`): they are written bare, so a red invoice's negative amount stays a number a spreadsheet can
// sum, and no text can reach a numeric cell.

/** A text cell: neutralised when it could start a formula, quoted when it holds a separator, quote or line break. */
export function textCell(value: string | undefined | null): string {
  if (value === undefined || value === null || value === '') return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n']/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

const NUMERIC = /^-?[0-9]+(\.[0-9]{2})?$/;

/** A numeric cell (a count, or an amount from formatCents): written bare; anything else is refused, not written. */
export function numberCell(value: string | number | undefined | null): string {
  if (value === undefined || value === null) return '';
  const text = String(value);
  if (!NUMERIC.test(text)) throw new RangeError(`not a numeric cell: ${text}`);
  return text;
}

/** One record, CRLF-terminated (RFC 4180 §2). */
export function csvRecord(cells: readonly string[]): string {
  return `${cells.join(',')}\r\n`;
}
