// The JSON of an invoice as the API answers it (and stores it for idempotent replay): `JSON.stringify` of the Invoice,
// whose last key is `ledger`. The ledger index is known only inside the issuing transaction, under the global ledger
// lock; the rest of the invoice is rendered before it, once, outside any lock, and the index is put in afterwards by
// string concatenation, giving exactly the bytes `JSON.stringify` of the whole invoice gives.
import type { Invoice } from '../../../shared/invoice.ts';

/** The JSON of everything but the ledger index: `{…}` of the invoice without `ledger`. */
export function invoiceJsonWithoutLedger(invoice: Omit<Invoice, 'ledger'>): string {
  const { ledger: _none, ...rest } = invoice as Invoice;
  return JSON.stringify(rest);
}

/** The whole invoice's JSON: `json` (from invoiceJsonWithoutLedger) with `"ledger":{"index":n}` as its last member. */
export function withLedgerIndex(json: string, index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`bad ledger index: ${index}`);
  if (!json.endsWith('}') || json === '{}') throw new RangeError('not the JSON of an invoice');
  return `${json.slice(0, -1)},"ledger":{"index":${index}}}`;
}
