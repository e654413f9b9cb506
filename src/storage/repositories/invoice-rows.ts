// Invoice ↔ rows. The `document` column holds the JSON of the whole Invoice as issued (key order preserved, so a
// re-rendered response is stable); the `status` and `ledger_index` columns are authoritative and override their copies
// in the document on read. Every other column is a projection of the document for queries, never read back.
import type { Insertable } from 'kysely';
import type { InvoiceLinesTable, InvoicesTable } from '../database.ts';
import { toSafeInteger } from '../database.ts';
import type { Invoice, InvoiceStatus } from '../../domain/invoice.ts';
import { toCents } from './decimal-cents.ts';

export function toInvoiceRow(tenantId: string, invoice: Invoice, now: string): Insertable<InvoicesTable> {
  return {
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

export function fromDocumentRow(row: InvoiceDocumentRow): Invoice {
  const invoice = JSON.parse(row.document) as Invoice;
  // Assigning existing keys keeps their position in the object, so the JSON shape is unchanged.
  invoice.status = row.status as InvoiceStatus;
  invoice.ledger = { index: toSafeInteger(row.ledger_index) };
  return invoice;
}
