// The invoicing module's public surface: what other modules may use (src/modules/*/ import another module only through
// its index.ts; eslint.config.js enforces it). Composition (src/*.ts, src/cli, src/ops) wires the HTTP and CLI parts.
export { checkInvoice } from './app/seal.ts';
export type { CheckKey, InvoiceCheck } from './app/seal.ts';
export { isInvoiceNumber, isRegionCode } from './domain/invoice-number.ts';
export { centsToMoney, quotaPeriod, remainingCents } from './domain/issuing-quota.ts';
export { isPersonalTaxId, maskInvoice, maskParty, type MaskedInvoice } from './domain/masking.ts';
export { validateTaxId } from './domain/tax-id.ts';
export type { StoredInvoiceRef } from './storage/invoice-contract.ts';
export type { InvoiceRepository } from './storage/invoice-repository.ts';
export { readCents } from './storage/quota-usage-repository.ts';
export type { QuotaUsageRepository } from './storage/quota-usage-repository.ts';
export type { ReencryptBatch, ReencryptCursor, ReencryptFailure, ReencryptRepository, ReencryptScope } from './storage/reencrypt-repository.ts';
export type { IssueHook, IssueTx } from './app/commit-issue-batch.ts';
export type { InvoiceDraft, IssueWriter } from './app/issue-writer.ts';
export { computeTotals } from './domain/tax.ts';
export { DOCUMENT_COLUMNS } from './storage/invoice-rows.ts';
export { decodeCursor, encodeCursor, toUtcIso, type CursorKey } from './storage/invoice-search.ts';
export { INVOICE_RECEIVED } from './app/commit-issue-batch.ts';
export type { InvoiceService, IssueActor } from './app/invoice-service.ts';
export type { WriteRequest } from './app/issue-writer.ts';
export { isBatchWide } from './app/issue-writer.ts';
export { IssueInvoiceSchema } from './http/invoice-schemas.ts';
