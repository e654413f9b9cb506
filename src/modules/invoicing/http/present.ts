// The one presenter of invoices at the HTTP edge: which key sees the buyer's personal data (masking by the `pii:read`
// scope, modules/invoicing/domain/masking.ts), and which status answers which issue outcome. A stored invoice is read
// already in the form its caller sees (InvoiceService.get or getMasked): a masked one comes from the masked form
// stored beside the buyer's envelope, so answering it decrypts nothing.
import type { Invoice } from '../../../shared/invoice.ts';
import { maskInvoice, type MaskedInvoice } from '../domain/masking.ts';
import type { IssueResult } from '../app/invoice-service.ts';

/** Who sees the buyer's personal data: only API keys with the `pii:read` scope get full values. */
export interface PresentOptions {
  fullPii: boolean;
}

/** An invoice as it is answered: as issued to a key with `pii:read`, masked to every other. */
export type ShownInvoice = { fullPii: true; invoice: Invoice } | { fullPii: false; invoice: MaskedInvoice };

/** The status of a freshly issued invoice, stored with its idempotency record as what a replay answers. */
export const ISSUED_STATUS = 201;

/** The JSON the API answers for an invoice. */
export function presentInvoice(shown: ShownInvoice): string {
  return JSON.stringify(shown.invoice);
}

/**
 * An issue answer as shown to this caller. The full JSON is what was stored (encrypted at rest) and what a replay
 * answers: a replay by the same kind of key is byte for byte the first answer, and a key without `pii:read` gets the
 * same JSON masked, never what a key with it was answered.
 */
export function presentIssue(result: IssueResult, opts: PresentOptions): { status: number; body: string; replayed: boolean } {
  const status = result.outcome === 'created' ? ISSUED_STATUS
    : result.outcome === 'existing' ? 200
    : result.replayStatus === 200 ? 200 : ISSUED_STATUS;
  const body = opts.fullPii ? result.json : JSON.stringify(maskInvoice(JSON.parse(result.json) as Invoice));
  return { status, body, replayed: result.outcome !== 'created' };
}
