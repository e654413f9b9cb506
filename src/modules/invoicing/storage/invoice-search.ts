// Invoice search with keyset pagination. Order: newest issue date first, then number descending; the cursor is the
// (issue_date, number) of the last row of the page, base64url JSON. Keyset paging never repeats or skips a row that
// existed when paging started, whatever is inserted meanwhile (an OFFSET would shift); rows inserted later appear only
// if they sort after the cursor. Index: invoices_issue_date_ix (tenant_id, issue_date, number).
import type { Kysely } from 'kysely';
import type { Database } from '../../../platform/storage/database.ts';
import { InvalidCursor } from '../../../platform/storage/storage-errors.ts';
import type { InvoicePage, InvoiceQuery } from './invoice-contract.ts';
import { toCents } from '../../../shared/decimal-cents.ts';
import type { InvoiceProtection } from './invoice-protection.ts';
import { DOCUMENT_COLUMNS, type InvoiceDocumentRow } from './invoice-rows.ts';
import type { Invoice } from '../../../shared/invoice.ts';
import { precompile, type Precompiled } from '../../../platform/storage/precompiled.ts';

/** How a row becomes an item: readDocumentRow (plaintext) or readMaskedRow (invoice-rows.ts). */
type RowReader<T extends Invoice> = (db: Kysely<Database>, protector: InvoiceProtection | undefined, tenantId: string, row: InvoiceDocumentRow) => Promise<T>;

export interface CursorKey {
  d: string;
  n: string;
}

/**
 * Buyer phone, e-mail and tax ID are matched through their blind indexes when a protector is configured (the tax ID
 * also through the plaintext column, which holds company codes and rows written before encryption). Without a
 * protector the tax ID uses the plaintext column and phone or e-mail searches are refused.
 */
export async function searchInvoices<T extends Invoice>(
  db: Kysely<Database>,
  tenantId: string,
  query: InvoiceQuery,
  protector: InvoiceProtection | undefined,
  read: RowReader<T>,
  compiled?: SearchStatements,
): Promise<InvoicePage<T>> {
  if (!Number.isSafeInteger(query.limit) || query.limit < 1) throw new RangeError(`bad limit: ${query.limit}`);
  // The tenant's index key is stored (platform/storage/field-keys.ts): load it before the indexes below are computed.
  const indexed = query.buyerTaxId !== undefined || query.buyerPhone !== undefined || query.buyerEmail !== undefined;
  if (protector && indexed) await protector.keys.prepareIndex(db, tenantId);
  const statements = compiled ?? new SearchStatements(db);
  const values: Partial<Record<SearchParam, unknown>> = { tenantId, limit: query.limit + 1 };
  if (query.issuedFrom !== undefined) values.issuedFrom = query.issuedFrom;
  if (query.issuedTo !== undefined) values.issuedTo = query.issuedTo;
  if (query.buyerTaxId !== undefined) values.taxId = query.buyerTaxId;
  if (query.cursor !== undefined) {
    const { d, n } = decodeCursor(query.cursor);
    values.cursorDate = d;
    values.cursorNumber = n;
  }
  for (const [field, param, value] of [['phone', 'phoneIndex', query.buyerPhone], ['email', 'emailIndex', query.buyerEmail]] as const) {
    if (value === undefined) continue;
    if (!protector) throw new RangeError(`searching by buyer ${field} needs field protection (a master key)`);
    // Nothing left after normalisation matches nothing (an empty index would match every absent value).
    values[param] = protector.keys.index(tenantId, field, value) ?? '-';
  }
  if (query.status !== undefined) values.status = query.status;
  if (query.minTotal !== undefined) values.minCents = toCents(query.minTotal);
  if (query.maxTotal !== undefined) values.maxCents = toCents(query.maxTotal);
  if (query.updatedSince !== undefined) values.updatedSince = toUtcIso(query.updatedSince);
  const taxIdIndex = query.buyerTaxId !== undefined ? protector?.keys.index(tenantId, 'taxId', query.buyerTaxId) : undefined;
  // Two branches, each served by its own index in page order (migration 0019): the blind index, and the plaintext
  // column of rows that have no blind index (written before encryption, not yet re-encrypted).
  const rows = taxIdIndex !== undefined
    ? [
      ...(await statements.run('indexed', { ...values, taxIdIndex })),
      ...(await statements.run('plain', values)),
    ]
      .sort((a, b) => (a.issue_date === b.issue_date ? (a.number < b.number ? 1 : a.number > b.number ? -1 : 0) : a.issue_date < b.issue_date ? 1 : -1))
      .slice(0, query.limit + 1)
    : await statements.run(query.buyerTaxId !== undefined ? 'plaintext' : undefined, values);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  const items: T[] = [];
  for (const row of page) items.push(await read(db, protector, tenantId, row));
  const result: InvoicePage<T> = { items };
  if (rows.length > query.limit && last) result.nextCursor = encodeCursor({ d: last.issue_date, n: last.number });
  return result;
}

/** The values a search binds; which of them a search has is its shape. */
type SearchParam =
  | 'tenantId' | 'issuedFrom' | 'issuedTo' | 'taxIdIndex' | 'taxId' | 'phoneIndex' | 'emailIndex' | 'status'
  | 'minCents' | 'maxCents' | 'updatedSince' | 'cursorDate' | 'cursorNumber' | 'limit';
const SEARCH_PARAMS: readonly SearchParam[] = [
  'tenantId', 'issuedFrom', 'issuedTo', 'taxIdIndex', 'taxId', 'phoneIndex', 'emailIndex', 'status', 'minCents',
  'maxCents', 'updatedSince', 'cursorDate', 'cursorNumber', 'limit',
];
/** The buyer tax ID's branch: its blind index, the plaintext column of rows without one, or the column alone. */
type TaxIdBranch = 'indexed' | 'plain' | 'plaintext' | undefined;
type SearchRow = { document: string; status: string; ledger_index: number | string; issue_date: string; number: string };
/** Shapes kept per database; the filters combine into a few hundred at most, the first ones asked are kept. */
const SHAPES_MAX = 512;

/**
 * The search's statements, compiled once per shape (platform/storage/precompiled.ts): building and compiling the
 * Kysely query cost about as much as the indexed read of a page. The SQL of a shape never changes, only its values.
 */
export class SearchStatements {
  private readonly shapes = new Map<string, Precompiled<SearchParam, SearchRow>>();

  constructor(private readonly db: Kysely<Database>) {}

  run(branch: TaxIdBranch, values: Partial<Record<SearchParam, unknown>>): Promise<SearchRow[]> {
    const names = SEARCH_PARAMS.filter((p) => values[p] !== undefined && (p !== 'taxId' || branch !== 'indexed'));
    const key = `${branch ?? ''}:${names.join(',')}`;
    let statement = this.shapes.get(key);
    if (!statement) {
      statement = precompile(this.db, names, (p) => buildSearch(this.db, branch, p));
      if (this.shapes.size < SHAPES_MAX) this.shapes.set(key, statement);
    }
    return statement.run(values as Record<SearchParam, unknown>);
  }
}

/** The search of one shape: a filter for each placeholder present, newest first, one row past the page. */
function buildSearch(db: Kysely<Database>, branch: TaxIdBranch, p: Partial<Record<SearchParam, string>>) {
  // Placeholders stand for values of other types (cents, the limit): precompile swaps the real values in.
  const v = (x: string) => x as unknown as number;
  let q = db
    .selectFrom('invoices')
    .select([...DOCUMENT_COLUMNS, 'issue_date', 'number'])
    .where('tenant_id', '=', p.tenantId!);
  if (p.issuedFrom !== undefined) q = q.where('issue_date', '>=', p.issuedFrom);
  if (p.issuedTo !== undefined) q = q.where('issue_date', '<=', p.issuedTo);
  if (branch === 'indexed') q = q.where('buyer_tax_id_bidx', '=', p.taxIdIndex!);
  else if (branch === 'plain') q = q.where('buyer_tax_id', '=', p.taxId!).where('buyer_tax_id_bidx', 'is', null);
  else if (branch === 'plaintext') q = q.where('buyer_tax_id', '=', p.taxId!);
  if (p.phoneIndex !== undefined) q = q.where('buyer_phone_bidx', '=', p.phoneIndex);
  if (p.emailIndex !== undefined) q = q.where('buyer_email_bidx', '=', p.emailIndex);
  if (p.status !== undefined) q = q.where('status', '=', p.status);
  if (p.minCents !== undefined) q = q.where('total_cents', '>=', v(p.minCents));
  if (p.maxCents !== undefined) q = q.where('total_cents', '<=', v(p.maxCents));
  if (p.updatedSince !== undefined) q = q.where('updated_at', '>=', p.updatedSince);
  const { cursorDate: d, cursorNumber: n } = p;
  if (d !== undefined && n !== undefined) {
    q = q.where((eb) => eb.or([eb('issue_date', '<', d), eb.and([eb('issue_date', '=', d), eb('number', '<', n)])]));
  }
  return q.orderBy('issue_date', 'desc').orderBy('number', 'desc').limit(v(p.limit!));
}

/** The cursor after the row (issue date, number): also the received invoices' (modules/received/). */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

// What encodeCursor writes, and nothing else: unpadded base64url of {"d":"YYYY-MM-DD","n":"<20 digits>"} (RFC 4648
// §5). Anything else is refused before it reaches SQL, so a NUL or invalid text never becomes a database error.
const CURSOR_TEXT = /^[A-Za-z0-9_-]{1,512}$/;
const CURSOR_DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const CURSOR_NUMBER = /^[0-9]{20}$/;

/** The (issue date, number) of a cursor encodeCursor wrote; InvalidCursor for anything else. */
export function decodeCursor(cursor: string): CursorKey {
  if (!CURSOR_TEXT.test(cursor)) throw new InvalidCursor();
  const bytes = Buffer.from(cursor, 'base64url');
  // Buffer skips characters it cannot place; re-encoding tells a canonical cursor from one with stray bits.
  if (bytes.toString('base64url') !== cursor) throw new InvalidCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new InvalidCursor();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidCursor();
  const { d, n, ...rest } = parsed as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || typeof d !== 'string' || typeof n !== 'string') throw new InvalidCursor();
  if (!CURSOR_DATE.test(d) || !CURSOR_NUMBER.test(n)) throw new InvalidCursor();
  // A calendar date: Date rolls 2026-02-31 over into March, so it must come back as written.
  const day = new Date(`${d}T00:00:00Z`);
  if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== d) throw new InvalidCursor();
  return { d, n };
}

/** updated_at is stored as `toISOString()` (UTC, ms); a bound with another offset is normalised to compare as text. */
export function toUtcIso(timestamp: string): string {
  const ms = Date.parse(timestamp);
  if (Number.isNaN(ms)) throw new RangeError(`not an ISO timestamp: ${timestamp}`);
  return new Date(ms).toISOString();
}
