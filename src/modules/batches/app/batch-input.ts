// Reading a batch: JSON Lines (one invoice per line; a line that is not JSON is refused by its line number and the
// others go on), a JSON array, or CSV (README "Batch issuance": one row per invoice line, consecutive rows with the same
// externalId make one invoice, whose invoice columns are read from its first row). Each item is then checked by
// BatchService.submit exactly like a single request.
import { AppError } from '../../../shared/errors.ts';
import { findForbidden, MAX_JSON_DEPTH } from '../../../platform/http/json-body.ts';
import type { SubmittedItem } from './batch-service.ts';

/** JSON Lines (https://jsonlines.org): UTF-8, one value per line, LF or CRLF; blank lines are skipped. */
export function parseJsonLines(text: string): SubmittedItem[] {
  const items: SubmittedItem[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const body = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (body.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      items.push({ error: new AppError('MALFORMED_JSON', { detail: `line ${line} is not one JSON value` }), line });
      return;
    }
    const bad = findForbidden(value);
    if (bad) {
      const detail = bad.reason === 'key' ? '__proto__, constructor and prototype keys are refused' : `nesting deeper than ${MAX_JSON_DEPTH} levels is refused`;
      items.push({ error: new AppError('VALIDATION_FAILED', { field: bad.path, detail }), line });
      return;
    }
    items.push({ value, line });
  });
  return items;
}

/** A JSON array of invoices (already parsed, and checked for forbidden keys, by the JSON body parser). */
export function jsonArrayItems(body: unknown): SubmittedItem[] {
  if (!Array.isArray(body)) throw new AppError('VALIDATION_FAILED', { field: '/', detail: 'send a JSON array of invoices, or JSON Lines with Content-Type application/x-ndjson' });
  return body.map((value: unknown) => ({ value }));
}

/** The CSV columns: invoice columns (read from an invoice's first row) and line columns (one line per row). */
export const CSV_INVOICE_COLUMNS = [
  'externalId', 'type', 'issuer', 'priceIncludesTax', 'remarks',
  'buyer.name', 'buyer.taxId', 'buyer.address', 'buyer.phone', 'buyer.bankName', 'buyer.bankAccount', 'buyer.email',
] as const;
export const CSV_LINE_COLUMNS = [
  'line.name', 'line.taxCode', 'line.shortName', 'line.spec', 'line.unit', 'line.quantity', 'line.unitPrice',
  'line.amount', 'line.taxRate', 'line.taxExemption', 'line.tax', 'line.discount',
] as const;
const KNOWN = new Set<string>([...CSV_INVOICE_COLUMNS, ...CSV_LINE_COLUMNS]);

/**
 * CSV (RFC 4180: comma-separated, fields with commas, quotes or line breaks in double quotes, "" for a quote; a UTF-8
 * BOM is skipped) with a header row naming the columns above in any order. An empty cell is an absent field.
 * Each item's `line` is the file line of its first row.
 */
export function parseCsv(text: string): SubmittedItem[] {
  const rows = csvRows(text.startsWith('\ufeff') ? text.slice(1) : text);
  const header = rows.shift();
  if (!header) throw new AppError('BATCH_EMPTY', { detail: 'the CSV file has no header row' });
  const unknown = header.cells.filter((h) => !KNOWN.has(h));
  if (unknown.length > 0) {
    throw new AppError('VALIDATION_FAILED', { field: '/0', detail: `unknown CSV columns: ${unknown.slice(0, 5).join(', ')}; see README "Batch issuance"` });
  }
  const items: SubmittedItem[] = [];
  let current: { externalId: string; invoice: Record<string, unknown>; lines: Record<string, unknown>[] } | undefined;
  for (const row of rows) {
    if (row.cells.every((c) => c === '')) continue;
    const cell = (name: string) => {
      const i = header.cells.indexOf(name);
      const v = i < 0 ? '' : (row.cells[i] ?? '');
      return v === '' ? undefined : v;
    };
    const line: Record<string, unknown> = {};
    for (const c of CSV_LINE_COLUMNS) {
      const v = cell(c);
      if (v !== undefined) line[c.slice('line.'.length)] = v;
    }
    const externalId = cell('externalId') ?? '';
    if (current && externalId !== '' && current.externalId === externalId) {
      current.lines.push(line);
      continue;
    }
    const invoice: Record<string, unknown> = {};
    const buyer: Record<string, unknown> = {};
    for (const c of CSV_INVOICE_COLUMNS) {
      const v = cell(c);
      if (v === undefined) continue;
      if (c.startsWith('buyer.')) buyer[c.slice('buyer.'.length)] = v;
      else if (c === 'priceIncludesTax') invoice[c] = v === 'true' ? true : v === 'false' ? false : v;
      else invoice[c] = v;
    }
    if (Object.keys(buyer).length > 0) invoice.buyer = buyer;
    const lines = [line];
    invoice.lines = lines;
    current = { externalId, invoice, lines };
    items.push({ value: invoice, line: row.line });
  }
  return items;
}

/** RFC 4180 records with the file line each starts on. */
function csvRows(text: string): { line: number; cells: string[] }[] {
  const rows: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let atCellStart = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        cell += ch;
      }
      continue;
    }
    if (ch === '"' && atCellStart) {
      quoted = true;
      atCellStart = false;
    } else if (ch === ',') {
      cells.push(cell);
      cell = '';
      atCellStart = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      cells.push(cell);
      rows.push({ line: start, cells });
      cells = [];
      cell = '';
      atCellStart = true;
      line++;
      start = line;
    } else {
      cell += ch;
      atCellStart = false;
    }
  }
  if (quoted) throw new AppError('VALIDATION_FAILED', { field: '/', detail: `the quoted field that starts on line ${start} is never closed` });
  if (cell !== '' || cells.length > 0) {
    cells.push(cell);
    rows.push({ line: start, cells });
  }
  return rows;
}
