// The invoices table and its lines: the rows of issued invoices (built per item, so one that cannot be built fails
// alone), point lookups and search. Written only inside a unit of work (platform/storage/unit-of-work.ts); the stored
// document has the buyer's personal fields encrypted when field keys are configured (invoice-protection.ts).
import { createHash } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { InvoiceLinesTable, InvoicesTable } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { DataKey } from '../../../platform/crypto/field-cipher.ts';
import type { Invoice, InvoiceStatus } from '../../../shared/invoice.ts';
import type { InvoicePage, InvoiceQuery, StoredInvoiceRef } from './invoice-contract.ts';
import { InvoiceProtection } from './invoice-protection.ts';
import { DOCUMENT_COLUMNS, readDocumentRow, readMaskedRow, toInvoiceRow, toLineRows } from './invoice-rows.ts';
import type { MaskedInvoice } from '../domain/masking.ts';
import { searchInvoices, SearchStatements } from './invoice-search.ts';
import { precompile, type Precompiled } from '../../../platform/storage/precompiled.ts';

/** Rows per multi-row INSERT: 500 × ≤22 columns stays well under SQLite's 32,766 and PG's 65,535 parameters. */
const ROWS_PER_INSERT = 500;

/** The rows of one issued invoice, built before anything is inserted. */
export interface InvoiceRows {
  invoice: Invoice;
  invoiceRow: Insertable<InvoicesTable>;
  lineRows: Insertable<InvoiceLinesTable>[];
}

type DocumentRow = { document: string; status: string; ledger_index: number | string };
type VerificationRow = DocumentRow & { tenant_id: string; issue_date: string; total: string };

export class InvoiceRepository {
  readonly protection: InvoiceProtection | undefined;
  /** GET /v1/invoices/{number}, 查验 and issuing's externalId check are the hottest reads: compiled once (platform/storage/precompiled.ts). */
  private byNumber: Precompiled<'tenantId' | 'number', DocumentRow> | undefined;
  private forVerification: Precompiled<'number', VerificationRow> | undefined;
  /** Every issue request with an externalId looks it up first. */
  private byExternalId: Precompiled<'tenantId' | 'externalId', DocumentRow> | undefined;
  private searches: SearchStatements | undefined;

  constructor(private readonly scope: Scope) {
    this.protection = scope.fields ? new InvoiceProtection(scope.fields) : undefined;
  }

  /**
   * The rows of an invoice as stored, stamped with the unit of work's time; throws when they cannot be built (e.g. its
   * encryption fails), before anything is written. `dataKey` is the tenant's current key when field keys are set.
   */
  rowsFor(tenantId: string, invoice: Invoice, dataKey: DataKey | undefined): InvoiceRows {
    const protection = this.protection && dataKey ? { protection: this.protection, dataKey } : undefined;
    return {
      invoice,
      invoiceRow: toInvoiceRow(tenantId, invoice, stampOf(this.scope), protection),
      lineRows: toLineRows(tenantId, invoice),
    };
  }

  /**
   * The tenant's current data key (made on the tenant's first write, in its own committed statement: never call it
   * inside the issuing transaction); undefined without field keys.
   */
  async dataKeyFor(tenantId: string): Promise<DataKey | undefined> {
    return this.scope.fields?.dataKeyFor(this.scope.db, tenantId);
  }

  async insert(rows: readonly InvoiceRows[]): Promise<void> {
    const { db } = this.scope;
    stampOf(this.scope);
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
      const part = rows.slice(i, i + ROWS_PER_INSERT);
      await db.insertInto('invoices').values(part.map((r) => r.invoiceRow)).execute();
      const lines = part.flatMap((r) => r.lineRows);
      for (let j = 0; j < lines.length; j += ROWS_PER_INSERT) {
        await db.insertInto('invoice_lines').values(lines.slice(j, j + ROWS_PER_INSERT)).execute();
      }
    }
  }

  /** Sets the status of one invoice (outside the signature): red-flushed in part or in full. */
  async setStatus(tenantId: string, number: string, status: InvoiceStatus): Promise<void> {
    const at = stampOf(this.scope);
    await this.scope.db.updateTable('invoices').set({ status, updated_at: at }).where('tenant_id', '=', tenantId).where('number', '=', number).execute();
  }

  async get(tenantId: string, number: string): Promise<Invoice | undefined> {
    const [row] = await this.lookups().byNumber.run({ tenantId, number });
    return row && readDocumentRow(this.scope.db, this.protection, tenantId, row);
  }

  /** The invoice as a key without `pii:read` sees it; decrypts nothing for a row in the current layout. */
  async getMasked(tenantId: string, number: string): Promise<MaskedInvoice | undefined> {
    const [row] = await this.lookups().byNumber.run({ tenantId, number });
    return row && readMaskedRow(this.scope.db, this.protection, tenantId, row);
  }

  async findByExternalId(tenantId: string, externalId: string): Promise<Invoice | undefined> {
    const [row] = await this.lookups().byExternalId.run({ tenantId, externalId });
    return row && readDocumentRow(this.scope.db, this.protection, tenantId, row);
  }

  /** Unscoped lookup for public verification (查验) and the operator: the number is globally unique. */
  async findForVerification(number: string): Promise<Invoice | undefined> {
    const [row] = await this.lookups().forVerification.run({ number });
    return row && readDocumentRow(this.scope.db, this.protection, row.tenant_id, row);
  }

  /**
   * The stored row behind 查验, without decrypting anything: its query columns, a digest of every stored byte that
   * makes up the invoice, and `open()` for the invoice itself. Lets a verifier answer a row it checked before (same
   * digest) without decrypting the buyer's personal data again.
   */
  async findStoredForVerification(number: string): Promise<StoredInvoiceRef | undefined> {
    const [row] = await this.lookups().forVerification.run({ number });
    if (!row) return undefined;
    const digest = createHash('sha256')
      .update(row.document)
      .update(`\u0000${row.status}\u0000${String(row.ledger_index)}`)
      .digest('base64');
    return {
      number,
      tenantId: row.tenant_id,
      issueDate: row.issue_date,
      total: row.total,
      digest,
      open: () => readDocumentRow(this.scope.db, this.protection, row.tenant_id, row),
      openMasked: () => readMaskedRow(this.scope.db, this.protection, row.tenant_id, row),
    };
  }

  /**
   * The invoice of a row of `tenantId` (the seller) read by another module's query (modules/received/): the columns
   * DOCUMENT_COLUMNS, personal fields decrypted under the seller's keys.
   */
  openRow(tenantId: string, row: DocumentRow): Promise<Invoice> {
    return readDocumentRow(this.scope.db, this.protection, tenantId, row);
  }

  /** openRow as a key without `pii:read` sees it: the stored masked buyer, nothing decrypted in the current layout. */
  openMaskedRow(tenantId: string, row: DocumentRow): Promise<MaskedInvoice> {
    return readMaskedRow(this.scope.db, this.protection, tenantId, row);
  }

  search(tenantId: string, query: InvoiceQuery): Promise<InvoicePage> {
    return searchInvoices(this.scope.db, tenantId, query, this.protection, readDocumentRow, this.statements());
  }

  /** search as a key without `pii:read` sees it: every item masked, nothing decrypted for rows in the current layout. */
  searchMasked(tenantId: string, query: InvoiceQuery): Promise<InvoicePage<MaskedInvoice>> {
    return searchInvoices(this.scope.db, tenantId, query, this.protection, readMaskedRow, this.statements());
  }

  /** The search's statements, compiled per shape (invoice-search.ts). */
  private statements(): SearchStatements {
    return (this.searches ??= new SearchStatements(this.scope.db));
  }

  private lookups() {
    const { db } = this.scope;
    this.byNumber ??= precompile(db, ['tenantId', 'number'], (p) =>
      db.selectFrom('invoices').select(DOCUMENT_COLUMNS).where('tenant_id', '=', p.tenantId).where('number', '=', p.number));
    this.forVerification ??= precompile(db, ['number'], (p) =>
      db.selectFrom('invoices').select([...DOCUMENT_COLUMNS, 'tenant_id', 'issue_date', 'total']).where('number', '=', p.number));
    this.byExternalId ??= precompile(db, ['tenantId', 'externalId'], (p) =>
      db.selectFrom('invoices').select(DOCUMENT_COLUMNS).where('tenant_id', '=', p.tenantId).where('external_id', '=', p.externalId));
    return { byNumber: this.byNumber, forVerification: this.forVerification, byExternalId: this.byExternalId };
  }
}
