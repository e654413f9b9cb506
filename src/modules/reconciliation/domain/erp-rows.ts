// The ERP's own invoice list, one row per line: CSV with a header line (RFC 4180 quoting, one record per physical
// line) or JSON Lines (one object per line). A row names our invoice by `number` (20 digits) or `externalId` (the
// id the ERP gave when issuing), and carries its issue date, amount excluding tax, tax and, optionally, the buyer's
// tax ID. A row that cannot be read is kept with its error and the field at fault, so it is reported by its line
// number and the rest of the upload still runs.
import { isCalendarDate } from './period.ts';
import { parseCents } from './cents.ts';

export type UploadFormat = 'csv' | 'jsonl';

export interface ErpRow {
  lineNo: number;
  externalId?: string;
  number?: string;
  date: string;
  amountCents: number;
  taxCents: number;
  buyerTaxId?: string;
}

export interface MalformedRow {
  lineNo: number;
  error: string;
  /** The column or member at fault, when one is. */
  field?: string;
}

export type ParsedRow = { ok: true; row: ErpRow } | { ok: false; row: MalformedRow };

const NUMBER = /^[0-9]{20}$/;
const EXTERNAL_ID = /^[\x21-\x7e]{1,64}$/;
const TAX_ID = /^[0-9A-Z]{15,20}$/;

/** The columns or members read, by their lower-cased name; `issueDate` is accepted for `date`. */
export const COLUMNS = ['externalid', 'number', 'date', 'amount', 'tax', 'buyertaxid'] as const;
type Column = (typeof COLUMNS)[number];
const ALIASES: Record<string, Column> = { issuedate: 'date' };

function canonicalColumn(name: string): Column | undefined {
  const key = name.trim().toLowerCase();
  return (COLUMNS as readonly string[]).includes(key) ? (key as Column) : ALIASES[key];
}

const SPELLING: Record<Column, string> = { externalid: 'externalId', number: 'number', date: 'date', amount: 'amount', tax: 'tax', buyertaxid: 'buyerTaxId' };

/** Checks one row's values (strings as written; absent or empty = not given). */
export function validateRow(lineNo: number, v: Partial<Record<Column, string>>): ParsedRow {
  const bad = (field: Column, error: string): ParsedRow => ({ ok: false, row: { lineNo, error, field: SPELLING[field] } });
  const given = (c: Column) => (v[c] !== undefined && v[c] !== '' ? v[c] : undefined);
  const number = given('number');
  const externalId = given('externalid');
  if (number === undefined && externalId === undefined) return bad('number', 'a row needs number or externalId');
  if (number !== undefined && !NUMBER.test(number)) return bad('number', 'number is the 20-digit invoice number');
  if (externalId !== undefined && !EXTERNAL_ID.test(externalId)) return bad('externalid', 'externalId is 1 to 64 visible ASCII characters');
  const date = given('date');
  if (date === undefined || !isCalendarDate(date)) return bad('date', 'date is the issue date YYYY-MM-DD');
  const amount = given('amount');
  const amountCents = amount === undefined ? undefined : parseCents(amount);
  if (amountCents === undefined) return bad('amount', 'amount is a decimal with at most 13 integer and 2 fractional digits');
  const tax = given('tax');
  const taxCents = tax === undefined ? undefined : parseCents(tax);
  if (taxCents === undefined) return bad('tax', 'tax is a decimal with at most 13 integer and 2 fractional digits');
  const buyerTaxId = given('buyertaxid');
  if (buyerTaxId !== undefined && !TAX_ID.test(buyerTaxId)) return bad('buyertaxid', 'buyerTaxId is 15 to 20 digits or capital letters');
  return {
    ok: true,
    row: {
      lineNo, date, amountCents, taxCents,
      ...(number !== undefined ? { number } : {}),
      ...(externalId !== undefined ? { externalId } : {}),
      ...(buyerTaxId !== undefined ? { buyerTaxId } : {}),
    },
  };
}

/** RFC 4180 fields of one record on one line; undefined for an unclosed quote or text after a closing quote. */
export function splitCsvLine(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(value);
      if (i === line.length) return out;
      if (line[i] !== ',') return undefined;
      i += 1;
    } else {
      const c = line.indexOf(',', i);
      if (c < 0) {
        out.push(line.slice(i).trim());
        return out;
      }
      out.push(line.slice(i, c).trim());
      i = c + 1;
    }
  }
}

/** The CSV header: where each known column is. Unknown columns are ignored, so a wider export uploads as it is. */
export type CsvHeader = Partial<Record<Column, number>>;

export function parseCsvHeader(line: string): CsvHeader | { error: string } {
  const cells = splitCsvLine(line);
  if (!cells) return { error: 'the header line is not valid CSV' };
  const header: CsvHeader = {};
  cells.forEach((cell, i) => {
    const c = canonicalColumn(cell);
    if (c !== undefined && header[c] === undefined) header[c] = i;
  });
  const missing = (['date', 'amount', 'tax'] as const).filter((c) => header[c] === undefined);
  if (missing.length > 0) return { error: `the header line lacks ${missing.map((c) => SPELLING[c]).join(', ')}` };
  if (header.number === undefined && header.externalid === undefined) return { error: 'the header line needs number or externalId' };
  return header;
}

export function parseCsvRow(lineNo: number, line: string, header: CsvHeader): ParsedRow {
  const cells = splitCsvLine(line);
  if (!cells) return { ok: false, row: { lineNo, error: 'not a CSV record (an unclosed quote, or text after a closing quote)' } };
  const v: Partial<Record<Column, string>> = {};
  for (const c of COLUMNS) {
    const at = header[c];
    if (at !== undefined && cells[at] !== undefined) v[c] = cells[at];
  }
  return validateRow(lineNo, v);
}

/** One JSON object per line; amounts as strings, or JSON numbers written with at most two decimals. */
export function parseJsonRow(lineNo: number, line: string): ParsedRow {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { ok: false, row: { lineNo, error: 'not a JSON value' } };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, row: { lineNo, error: 'a line is one JSON object' } };
  const v: Partial<Record<Column, string>> = {};
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const c = canonicalColumn(key);
    if (c === undefined || value === null) continue;
    if (typeof value === 'string') v[c] = value;
    // A JSON number is read as JavaScript writes it back: 113.5 stays "113.5"; 1e21 or 0.001 fail the amount rule.
    else if (typeof value === 'number' && (c === 'amount' || c === 'tax')) v[c] = String(value);
    else return { ok: false, row: { lineNo, error: `${SPELLING[c]} is a string`, field: SPELLING[c] } };
  }
  return validateRow(lineNo, v);
}
