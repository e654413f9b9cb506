// Invoice ↔ rows. The `document` column holds the JSON of the whole Invoice as issued (key order preserved, so a
// re-rendered response is stable); the `status` and `ledger_index` columns are authoritative and override their copies
// in the document on read. Every other column is a projection of the document for queries, never read back.
import type { Insertable } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, InvoiceLinesTable, InvoicesTable } from '../../../platform/storage/database.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import type { Invoice, InvoiceStatus } from '../../../shared/invoice.ts';
import { toCents } from '../../../shared/decimal-cents.ts';
import type { DataKey } from '../../../platform/crypto/field-cipher.ts';
import { maskInvoice, type MaskedInvoice } from '../domain/masking.ts';
import { isPersonalTaxId, PII_LAYOUT, type InvoiceProtection } from './invoice-protection.ts';

/** With `protection`, the buyer's personal fields are encrypted in the document and indexed (invoice-protection.ts). */
export function toInvoiceRow(
  tenantId: string,
  invoice: Invoice,
  now: string,
  protection?: { protection: InvoiceProtection; dataKey: DataKey },
): Insertable<InvoicesTable> {
  const row: Insertable<InvoicesTable> = {
    tenant_id: tenantId,
    number: invoice.number,
    type: invoice.type,
    kind: invoice.kind,
    status: invoice.status,
    issue_date: invoice.issueDate,
    issued_at: invoice.issuedAt,
    buyer_name: invoice.buyer.name,
    buyer_tax_id: invoice.buyer.taxId ?? null,
    total: invoice.totals.total,
    total_cents: toCents(invoice.totals.total),
    external_id: invoice.externalId ?? null,
    original_number: invoice.originalNumber ?? null,
    hash: invoice.hash,
    key_id: invoice.signature.keyId,
    document: JSON.stringify(invoice),
    ledger_index: invoice.ledger.index,
    created_at: now,
    updated_at: now,
  };
  if (!protection) return row;
  const { protection: protector, dataKey } = protection;
  const taxId = invoice.buyer.taxId;
  return {
    ...row,
    // A personal tax ID (an ID-card number) lives only encrypted in the document and as a blind index.
    buyer_tax_id: taxId === undefined || isPersonalTaxId(taxId) ? null : taxId,
    document: protector.protect(dataKey, tenantId, invoice),
    ...protector.indexes(tenantId, invoice.buyer),
    // Rows under an older version, or in an older layout, are what the re-encryption job looks for (migrations 0005, 0020).
    data_key_version: dataKey.version,
    pii_layout: PII_LAYOUT,
  };
}

export function toLineRows(tenantId: string, invoice: Invoice): Insertable<InvoiceLinesTable>[] {
  return invoice.lines.map((line) => ({
    tenant_id: tenantId,
    number: invoice.number,
    line_no: line.lineNo,
    kind: line.kind,
    name: line.name,
    tax_code: line.taxCode,
    amount: line.amount,
    amount_cents: toCents(line.amount),
    tax_rate: line.taxRate,
    tax_exemption: line.taxExemption ?? null,
    tax: line.tax,
    tax_cents: toCents(line.tax),
  }));
}

export interface InvoiceDocumentRow {
  document: string;
  status: string;
  ledger_index: number | string;
}

export const DOCUMENT_COLUMNS = ['document', 'status', 'ledger_index'] as const;

export function fromDocumentRow<T extends Invoice = Invoice>(row: InvoiceDocumentRow, parsed?: T): T {
  const invoice = parsed ?? (JSON.parse(row.document) as T);
  // Assigning existing keys keeps their position in the object, so the JSON shape is unchanged.
  invoice.status = row.status as InvoiceStatus;
  invoice.ledger = { index: toSafeInteger(row.ledger_index) };
  return invoice;
}

/** fromDocumentRow with the buyer's personal fields decrypted when a protector is configured. */
export async function readDocumentRow(
  db: Kysely<Database>,
  protector: InvoiceProtection | undefined,
  tenantId: string,
  row: InvoiceDocumentRow,
): Promise<Invoice> {
  return fromDocumentRow(row, protector ? await protector.reveal(db, tenantId, row.document) : undefined);
}

/**
 * fromDocumentRow as a key without `pii:read` sees it: the buyer masked, decrypting nothing for a document in the
 * current layout (invoice-protection.ts).
 */
export async function readMaskedRow(
  db: Kysely<Database>,
  protector: InvoiceProtection | undefined,
  tenantId: string,
  row: InvoiceDocumentRow,
): Promise<MaskedInvoice> {
  return fromDocumentRow(row, protector ? await protector.revealMasked(db, tenantId, row.document) : maskInvoice(JSON.parse(row.document) as Invoice));
}
