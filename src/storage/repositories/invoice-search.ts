// Invoice search with keyset pagination. Order: newest issue date first, then number descending; the cursor is the
// (issue_date, number) of the last row of the page, base64url JSON. Keyset paging never repeats or skips a row that
// existed when paging started, whatever is inserted meanwhile (an OFFSET would shift); rows inserted later appear only
// if they sort after the cursor. Index: invoices_issue_date_ix (tenant_id, issue_date, number).
import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import { InvalidCursor, type InvoicePage, type InvoiceQuery } from '../storage.ts';
import { toCents } from './decimal-cents.ts';
import { DOCUMENT_COLUMNS, fromDocumentRow } from './invoice-rows.ts';

interface CursorKey {
  d: string;
  n: string;
}

export async function searchInvoices(db: Kysely<Database>, tenantId: string, query: InvoiceQuery): Promise<InvoicePage> {
  if (!Number.isSafeInteger(query.limit) || query.limit < 1) throw new RangeError(`bad limit: ${query.limit}`);
  let q = db
    .selectFrom('invoices')
    .select([...DOCUMENT_COLUMNS, 'issue_date', 'number'])
    .where('tenant_id', '=', tenantId);
  if (query.issuedFrom !== undefined) q = q.where('issue_date', '>=', query.issuedFrom);
  if (query.issuedTo !== undefined) q = q.where('issue_date', '<=', query.issuedTo);
  if (query.buyerTaxId !== undefined) q = q.where('buyer_tax_id', '=', query.buyerTaxId);
  if (query.status !== undefined) q = q.where('status', '=', query.status);
  if (query.minTotal !== undefined) q = q.where('total_cents', '>=', toCents(query.minTotal));
  if (query.maxTotal !== undefined) q = q.where('total_cents', '<=', toCents(query.maxTotal));
  if (query.updatedSince !== undefined) q = q.where('updated_at', '>=', toUtcIso(query.updatedSince));
  if (query.cursor !== undefined) {
    const { d, n } = decodeCursor(query.cursor);
    q = q.where((eb) => eb.or([eb('issue_date', '<', d), eb.and([eb('issue_date', '=', d), eb('number', '<', n)])]));
  }
  const rows = await q
    .orderBy('issue_date', 'desc')
    .orderBy('number', 'desc')
    .limit(query.limit + 1)
    .execute();
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  const result: InvoicePage = { items: page.map(fromDocumentRow) };
  if (rows.length > query.limit && last) result.nextCursor = encodeCursor({ d: last.issue_date, n: last.number });
  return result;
}

function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): CursorKey {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const { d, n } = parsed as Record<string, unknown>;
      if (typeof d === 'string' && typeof n === 'string') return { d, n };
    }
  } catch {
    // fall through
  }
  throw new InvalidCursor();
}

/** updated_at is stored as `toISOString()` (UTC, ms); a bound with another offset is normalised to compare as text. */
function toUtcIso(timestamp: string): string {
  const ms = Date.parse(timestamp);
  if (Number.isNaN(ms)) throw new RangeError(`not an ISO timestamp: ${timestamp}`);
  return new Date(ms).toISOString();
}
