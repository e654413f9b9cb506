// The invoicing tables' value types: queries and pages, the stored row behind 查验, idempotency records and the
// issuing quota's usage.
import type { Invoice, InvoiceStatus } from '../../../shared/invoice.ts';
import type { MaskedInvoice } from '../domain/masking.ts';

/** A tenant's usage of its quota in a period after an issuing commit, in cents (every node's invoices included). */
export interface QuotaUsed {
  tenantId: string;
  /** `YYYY-MM` (UTC+8), from the invoices' issue date. */
  period: string;
  usedCents: bigint;
}

/** A tenant's quota and what it used in one period, in integer cents. */
export interface TenantQuotaUsage {
  /** null = unlimited. */
  quotaCents: bigint | null;
  usedCents: bigint;
}

export interface InvoiceQuery {
  /** Inclusive issue-date range, `YYYY-MM-DD`. */
  issuedFrom?: string;
  issuedTo?: string;
  buyerTaxId?: string;
  /** Any common spelling ('+86 139-1234-5678'): matched through the blind index (needs a master key). */
  buyerPhone?: string;
  /** Case-insensitive, through the blind index (needs a master key). */
  buyerEmail?: string;
  status?: InvoiceStatus;
  /** Inclusive range of the total with tax, decimal strings. */
  minTotal?: string;
  maxTotal?: string;
  /** ISO timestamp: invoices changed at or after it. */
  updatedSince?: string;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface InvoicePage<T extends Invoice = Invoice> {
  items: T[];
  nextCursor?: string;
}

export interface IdempotencyRecord {
  requestHash: string;
  statusCode: number;
  body: string;
}

export interface StoredInvoiceRef {
  number: string;
  tenantId: string;
  /** The issue_date and total columns (projections of the document, checked against it when opened). */
  issueDate: string;
  total: string;
  /** Base64 SHA-256 over the stored document, status and ledger index: any change to the row changes it. */
  digest: string;
  /** The invoice with personal fields decrypted; throws FieldCipherError when one does not open. */
  open(): Promise<Invoice>;
  /**
   * The invoice as a key without `pii:read` sees it: the stored masked buyer, nothing decrypted for a row in the
   * current layout (a row from before migration 0020 is opened and masked).
   */
  openMasked(): Promise<MaskedInvoice>;
}

