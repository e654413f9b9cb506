// Storage contract: invoices — the issuing batch and its commit, queries and pages, the stored row behind 查验, and
// the idempotency records written with them.
import type { Invoice, InvoiceStatus } from '../domain/invoice.ts';

/** One invoice of an issuance batch, numbered and signed, waiting for its ledger index. */
export interface PendingIssue {
  tenantId: string;
  invoice: Omit<Invoice, 'ledger'>;
  /** Hex SM3 leaf hash committed to the ledger for this invoice. */
  leafHash: string;
  idempotency?: { key: string; requestHash: string };
  /**
   * Renders the exact response body once the ledger index is known; stored with the idempotency record so that a
   * replay answers byte for byte.
   */
  renderResponse: (invoice: Invoice) => string;
  /** Who issued it, for the audit entry (`action: 'invoice.issue'`); actor defaults to `system`. */
  audit?: { actor: string; ip?: string };
}

export interface IssueBatch {
  /** Series key `YYRRC` (year, region, channel). */
  series: string;
  /** The sequence the first item was numbered with; items are numbered consecutively from it. */
  firstSeq: number;
  items: PendingIssue[];
}

/** A tenant's usage of its quota in a period after an issuing commit, in cents (every node's invoices included). */
export interface QuotaUsed {
  tenantId: string;
  /** `YYYY-MM` (UTC+8), from the invoices' issue date. */
  period: string;
  usedCents: bigint;
}

export type CommitIssueResult =
  | { ok: true; invoices: Invoice[]; usage: QuotaUsed[] }
  /** The series moved on under us (another writer took numbers): nothing was written; renumber and re-sign. */
  | { ok: false; reason: 'series-moved'; nextSeq: number }
  /**
   * The tenant's quota guard failed (its quota was lowered, or another node used it meanwhile): nothing was written;
   * reload the tenant's quota and usage, drop what no longer fits and renumber.
   */
  | { ok: false; reason: 'quota-exceeded'; tenantId: string; period: string }
  /**
   * Preparing these items' rows failed (their data key, their encryption, their stored response): nothing was written,
   * no number consumed. Answer each with its error, drop them and renumber the rest.
   */
  | { ok: false; reason: 'items-failed'; failures: ItemFailure[] };

/** Why one item of an issuing batch could not be written; `index` is its position in `IssueBatch.items`. */
export interface ItemFailure {
  index: number;
  error: unknown;
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

export interface InvoicePage {
  items: Invoice[];
  nextCursor?: string;
}

export interface IdempotencyRecord {
  requestHash: string;
  statusCode: number;
  body: string;
}

export interface InvoiceRepository {
  /** The next sequence number of a series (1 for a new series). */
  nextSeq(series: string): Promise<number>;
  /**
   * In one transaction: move the series from `firstSeq` to `firstSeq + items.length` (compare-and-set), add each
   * tenant's charges to its quota usage of the invoices' period (guarded: `used + charge <= quota`), append the
   * ledger leaves (assigning consecutive indices), insert invoices with their lines, idempotency records, one
   * outbox event `invoice.issued` and one audit entry per invoice; then commit durably.
   */
  commitIssueBatch(batch: IssueBatch): Promise<CommitIssueResult>;
  get(tenantId: string, number: string): Promise<Invoice | undefined>;
  findByExternalId(tenantId: string, externalId: string): Promise<Invoice | undefined>;
  /** Unscoped lookup for public verification (查验): the number is globally unique. */
  findForVerification(number: string): Promise<Invoice | undefined>;
  /**
   * The stored row behind 查验, without decrypting anything: its query columns, a digest of every stored byte that
   * makes up the invoice, and `open()` for the invoice itself. Lets a verifier answer a row it checked before
   * (same digest) without decrypting the buyer's personal data again.
   */
  findStoredForVerification(number: string): Promise<StoredInvoiceRef | undefined>;
  search(tenantId: string, query: InvoiceQuery): Promise<InvoicePage>;
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
}

export interface IdempotencyRepository {
  get(tenantId: string, key: string): Promise<IdempotencyRecord | undefined>;
}
