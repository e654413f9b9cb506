// SQLite names the columns of a violated unique constraint ("UNIQUE constraint failed: invoices.tenant_id,
// invoices.external_id"), not the constraint: map them to the names given in the migrations, as PostgreSQL reports.
import { UniqueViolation } from '../storage-errors.ts';

const CONSTRAINT_BY_COLUMNS: Record<string, string> = {
  'tenants.id': 'tenants_pkey',
  'api_keys.tenant_id, api_keys.id': 'api_keys_pkey',
  'api_keys.key_hash': 'api_keys_key_hash_uq',
  'signing_keys.id': 'signing_keys_pkey',
  'number_series.series': 'number_series_pkey',
  'invoices.tenant_id, invoices.number': 'invoices_pkey',
  'invoices.number': 'invoices_number_uq',
  'invoices.tenant_id, invoices.external_id': 'invoices_external_id_uq',
  'invoice_lines.tenant_id, invoice_lines.number, invoice_lines.line_no': 'invoice_lines_pkey',
  'idempotency_keys.tenant_id, idempotency_keys.key': 'idempotency_keys_pkey',
  'ledger_state.id': 'ledger_state_pkey',
  'ledger_leaves.idx': 'ledger_leaves_pkey',
  'ledger_leaves.number': 'ledger_leaves_number_uq',
};

export function sqliteUniqueViolation(error: unknown): UniqueViolation | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (code !== 'SQLITE_CONSTRAINT_UNIQUE' && code !== 'SQLITE_CONSTRAINT_PRIMARYKEY') return undefined;
  const columns = /constraint failed: (.+)$/.exec(error.message)?.[1] ?? 'unknown';
  return new UniqueViolation(CONSTRAINT_BY_COLUMNS[columns] ?? columns, { cause: error });
}

/**
 * Result codes (https://www.sqlite.org/rescode.html) that say the database cannot be written now rather than that the
 * statement is wrong: the disk is full (SQLITE_FULL, also what `max_page_count` gives), an I/O error (SQLITE_IOERR and
 * its extended codes: ENOSPC on some writes, EIO, a vanished file), the file or its directory became read-only
 * (SQLITE_READONLY*), cannot be opened (SQLITE_CANTOPEN*), or another process holds the write lock past busy_timeout
 * (SQLITE_BUSY*, the CLI beside the server for instance; isSqliteBusy tells those apart, as they say nothing about
 * the database). All of them end by themselves or by an operator's hand, so the request is answered 503 and retried,
 * never 500. SQLITE_CORRUPT is not among them: it needs a restore.
 */
const UNAVAILABLE = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY|NOLFS|PROTOCOL)(_|$)/;

function codeOf(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function isSqliteUnavailable(error: unknown): boolean {
  return UNAVAILABLE.test(codeOf(error) ?? '');
}

/** The write lock is another process's (SQLITE_BUSY*): the database itself is fine. */
export function isSqliteBusy(error: unknown): boolean {
  return /^SQLITE_BUSY(_|$)/.test(codeOf(error) ?? '');
}
