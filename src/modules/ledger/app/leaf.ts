// The leaf an issued invoice adds to the ledger: its encoded entry (stored with the leaf, published in entry bundles)
// and the RFC 9162 leaf hash of it.
import { encodeLeafEntry, leafEntryForInvoice, type LedgerInvoiceFields } from '../domain/leaf-entry.ts';
import { hashLeaf } from '../domain/merkle.ts';

export interface LedgerLeaf {
  /** The encoded entry, base64. */
  entry: string;
  /** Lower-case hex SHA-256(0x00 ‖ entry). */
  leafHash: string;
}

export function ledgerLeafOf(invoice: LedgerInvoiceFields): LedgerLeaf {
  const entry = encodeLeafEntry(leafEntryForInvoice(invoice));
  return { entry: Buffer.from(entry).toString('base64'), leafHash: Buffer.from(hashLeaf(entry)).toString('hex') };
}
