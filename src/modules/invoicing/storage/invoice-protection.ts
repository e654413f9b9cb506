// Personal data at rest (docs/design.md §4 invariant 8) of the invoicing tables, the same on every engine. The buyer's phone,
// e-mail, address, bank account and — when it is personal — tax ID are sealed in one envelope per invoice
// (platform/crypto/field-cipher.ts) under the tenant's data key: the plaintext is the whole buyer object as issued
// (its keys in their order). The stored document carries, in place of the buyer, the buyer as a key without
// `pii:read` sees it (maskParty, modules/invoicing/domain/masking.ts), and the envelope under the key `buyerSealed`,
// last. The AAD binds tenant, table `invoices`, the label `buyer`, the row (the invoice number) and the JSON of that
// masked buyer, so an envelope moved to another row or tenant, relabelled, or left beside an edited masked buyer does
// not open (and 查验, which opens it to check the signature, answers `tampered`). A masked answer is the stored
// document itself: nothing is decrypted for it, and a database reader sees no more than such a key does. One AES-GCM
// (or SM4-GCM) operation opens every personal field of an invoice.
//
// Stored layouts (column invoices.pii_layout, migration 0020): 1 = this one; NULL = written before 0020, with one
// envelope per field in place (AAD column `buyer.<field>`), or in plaintext before field protection (0003). Readers
// open all of them; the re-encryption job (reencrypt-repository.ts) rewrites the older ones into layout 1, and layout 1
// again under a new data key. The idempotency record's response body is encrypted whole (table `idempotency_keys`,
// column `body`, row = the key). Readers of the plaintext (use cases, the signature check) get Invoice objects exactly
// as issued; masked readers get MaskedInvoice objects.
//
// A tax ID is personal unless it is a valid USCC that is not also a valid ID-card number (isPersonalTaxId, the rule
// masking.ts masks by): company codes stay in plaintext (document and the buyer_tax_id column), everything else is
// sealed, masked in the document and never written to buyer_tax_id.
//
// The stored masks are what maskParty made when the row was written: a change of the masking rules needs a new layout
// number, so that the job rewrites the rows in the old one.
//
// The keys — per-tenant data keys with their cache and reload, the blind-index keys and the envelope operations — are
// in platform/storage/field-keys.ts; this file says which fields of which row they protect.
import type { Kysely } from 'kysely';
import type { Database } from '../../../platform/storage/database.ts';
import type { Invoice, Party } from '../../../shared/invoice.ts';
import { isPersonalTaxId, maskInvoice, maskParty, type MaskedInvoice } from '../domain/masking.ts';
import {
  encryptField, fieldEnvelopeInfo, FieldCipherError, isEncryptedField, type DataKey, type FieldContext,
} from '../../../platform/crypto/field-cipher.ts';
import type { BlindIndexField } from '../../../platform/crypto/blind-index.ts';
import type { FieldKeys } from '../../../platform/storage/field-keys.ts';

export { isPersonalTaxId } from '../domain/masking.ts';

/** Buyer fields that are personal data; `taxId` only when it is personal (isPersonalTaxId). */
const PII_FIELDS = ['address', 'phone', 'bankAccount', 'email', 'taxId'] as const satisfies readonly (keyof Party)[];
type PiiField = (typeof PII_FIELDS)[number];

/** The layout rows are written in now (invoices.pii_layout): one envelope per invoice beside the masked buyer. */
export const PII_LAYOUT = 1;

/** A stored document: an Invoice, in layout 1 with the masked buyer and the envelope of the buyer as issued. */
type StoredDocument = Invoice & { buyerSealed?: unknown };

export interface BuyerIndexes {
  buyer_phone_bidx: string | null;
  buyer_email_bidx: string | null;
  buyer_tax_id_bidx: string | null;
}

/** What the re-encryption job writes back for one invoice row. */
export interface ReprotectedInvoice {
  document: string;
  /** The data-key version the document's envelope is now under. */
  version: number;
  /** The layout the document is now in (PII_LAYOUT). */
  layout: number;
  indexes: BuyerIndexes;
  /** The plaintext buyer_tax_id column: a company code, or null when there is none or it is personal. */
  buyerTaxId: string | null;
}

/** True when the buyer has a field that is sealed at rest. */
function hasPersonalData(buyer: Party): boolean {
  for (const f of PII_FIELDS) {
    const v = buyer[f];
    if (v !== undefined && (f !== 'taxId' || isPersonalTaxId(v))) return true;
  }
  return false;
}

function hasFieldEnvelopes(buyer: Party | undefined): boolean {
  return buyer !== undefined && PII_FIELDS.some((f) => isEncryptedField(buyer[f]));
}

export class InvoiceProtection {
  constructor(readonly keys: FieldKeys) {}

  /**
   * The JSON document to store: the invoice with the masked buyer in place of the buyer and the buyer as issued sealed
   * in `buyerSealed`; a buyer without personal data is stored as it is.
   */
  protect(dataKey: DataKey, tenantId: string, invoice: Invoice): string {
    const { buyer } = invoice;
    if (!hasPersonalData(buyer)) return JSON.stringify(invoice);
    const masked = maskParty(buyer);
    const buyerSealed = this.keys.encrypt(dataKey, JSON.stringify(buyer), buyerContext(tenantId, invoice.number, masked));
    // Spreading keeps every key in place; the envelope comes last.
    return JSON.stringify({ ...invoice, buyer: masked, buyerSealed });
  }

  /**
   * The stored document as an Invoice with the buyer as issued, in any layout: one envelope opened (layout 1), one
   * per field (before 0020), or none (plaintext). Throws FieldCipherError when an envelope does not open.
   */
  async reveal(db: Kysely<Database>, tenantId: string, document: string): Promise<Invoice> {
    const invoice = JSON.parse(document) as StoredDocument;
    const sealed = invoice.buyerSealed;
    if (sealed !== undefined) {
      // The last key: deleting it leaves the object's shape as if it had never been there.
      delete invoice.buyerSealed;
      const envelope = envelopeOf(sealed);
      return this.keys.withKeys(db, tenantId, () => {
        invoice.buyer = parseBuyer(this.keys.openEnvelope(tenantId, envelope, buyerContext(tenantId, invoice.number, invoice.buyer)));
        return invoice;
      });
    }
    if (!hasFieldEnvelopes(invoice.buyer)) return invoice;
    return this.keys.withKeys(db, tenantId, () => {
      invoice.buyer = this.openFields(tenantId, invoice.number, invoice.buyer, true);
      return invoice;
    });
  }

  /**
   * The stored document as a key without `pii:read` sees it. Layout 1 and plaintext documents decrypt nothing (the
   * first carries its masks); a document with one envelope per field (before 0020, until the job has rewritten it)
   * is opened and masked.
   */
  async revealMasked(db: Kysely<Database>, tenantId: string, document: string): Promise<MaskedInvoice> {
    const invoice = JSON.parse(document) as StoredDocument;
    if (invoice.buyerSealed !== undefined) {
      delete invoice.buyerSealed;
      return invoice as MaskedInvoice;
    }
    if (!hasFieldEnvelopes(invoice.buyer)) return maskInvoice(invoice);
    return maskInvoice(await this.reveal(db, tenantId, document));
  }

  /**
   * Re-encryption (modules/keys/app/reencrypt-job.ts): the stored document in layout 1 under the tenant's current data
   * key — an envelope under an older version sealed again, per-field envelopes and plaintext from before field
   * protection opened and sealed in one — and its indexes recomputed from the plaintext. A document already in layout
   * 1 under the current key, or without personal data, is kept byte for byte (so an unchanged document compares
   * equal). Throws FieldCipherError when an envelope does not open.
   */
  async reprotect(db: Kysely<Database>, tenantId: string, document: string, minVersion = 0): Promise<ReprotectedInvoice> {
    const key = await this.keys.dataKeyFor(db, tenantId, minVersion);
    return this.keys.withKeys(db, tenantId, () => {
      const invoice = JSON.parse(document) as StoredDocument;
      const sealed = invoice.buyerSealed;
      let buyer: Party;
      let keep: boolean;
      if (sealed !== undefined) {
        const envelope = envelopeOf(sealed);
        buyer = parseBuyer(this.keys.decryptLoaded(tenantId, envelope, buyerContext(tenantId, invoice.number, invoice.buyer)));
        const info = fieldEnvelopeInfo(envelope);
        keep = info.version === key.version && info.alg === key.alg;
        delete invoice.buyerSealed;
      } else {
        buyer = invoice.buyer ?? { name: '' };
        keep = !hasFieldEnvelopes(buyer) && !hasPersonalData(buyer);
        if (!keep) buyer = this.openFields(tenantId, invoice.number, buyer, false);
      }
      invoice.buyer = buyer;
      const taxId = buyer.taxId;
      return {
        document: keep ? document : this.protect(key, tenantId, invoice),
        version: key.version,
        layout: PII_LAYOUT,
        indexes: this.indexes(tenantId, buyer),
        buyerTaxId: taxId === undefined || isPersonalTaxId(taxId) ? null : taxId,
      };
    });
  }

  /** Re-encryption of an idempotency body: sealed (again) under the tenant's current data key. */
  async reprotectBody(db: Kysely<Database>, tenantId: string, key: string, body: string, minVersion = 0): Promise<{ body: string; version: number }> {
    const dataKey = await this.keys.dataKeyFor(db, tenantId, minVersion);
    return this.keys.withKeys(db, tenantId, () => {
      const ctx = bodyContext(tenantId, key);
      const sealed = isEncryptedField(body) ? this.keys.reencrypt(tenantId, dataKey, body, ctx) : encryptField(dataKey, body, ctx);
      return { body: sealed, version: dataKey.version };
    });
  }

  /** The three blind-index columns of a buyer (NULL for an absent or empty field). */
  indexes(tenantId: string, buyer: Party): BuyerIndexes {
    const idx = (field: BlindIndexField, v: string | undefined) => (v === undefined ? null : this.keys.index(tenantId, field, v) ?? null);
    return {
      buyer_phone_bidx: idx('phone', buyer.phone),
      buyer_email_bidx: idx('email', buyer.email),
      buyer_tax_id_bidx: idx('taxId', buyer.taxId),
    };
  }

  /** Encrypts an idempotency record's response body as a whole. */
  sealBody(dataKey: DataKey, tenantId: string, key: string, body: string): string {
    return encryptField(dataKey, body, bodyContext(tenantId, key));
  }

  /** Decrypts a body sealed by sealBody; a body stored before protection (not an envelope) is returned as is. */
  async openBody(db: Kysely<Database>, tenantId: string, key: string, body: string): Promise<string> {
    if (!isEncryptedField(body)) return body;
    return this.keys.withKeys(db, tenantId, () => this.keys.decryptLoaded(tenantId, body, bodyContext(tenantId, key)));
  }

  /**
   * A buyer of the layout before 0020 with its per-field envelopes opened in place (every key where it was), inside
   * withKeys; `remember` keeps the plaintexts in the memo of opened envelopes (reads), the job does not.
   */
  private openFields(tenantId: string, number: string, buyer: Party, remember: boolean): Party {
    const out: Party = { ...buyer };
    for (const f of PII_FIELDS) {
      const v = buyer[f];
      if (!isEncryptedField(v)) continue;
      const ctx = fieldContext(tenantId, number, f);
      out[f] = remember ? this.keys.openEnvelope(tenantId, v, ctx) : this.keys.decryptLoaded(tenantId, v, ctx);
    }
    return out;
  }
}

function envelopeOf(sealed: unknown): string {
  if (!isEncryptedField(sealed)) throw new FieldCipherError('malformed', 'the buyer envelope is not an encrypted field');
  return sealed;
}

/** The plaintext of a buyer envelope: the buyer object as issued. */
function parseBuyer(plain: string): Party {
  let buyer: unknown;
  try {
    buyer = JSON.parse(plain);
  } catch {
    buyer = undefined;
  }
  if (typeof buyer !== 'object' || buyer === null || typeof (buyer as Party).name !== 'string') {
    throw new FieldCipherError('malformed', 'the buyer envelope does not hold a party');
  }
  return buyer as Party;
}

/** The AAD context of the buyer envelope of one invoice (layout 1), bound to the masked buyer stored beside it. */
function buyerContext(tenantId: string, number: string, masked: Party | undefined): FieldContext {
  return { tenantId, table: 'invoices', column: 'buyer', rowId: number, bound: JSON.stringify(masked ?? null) };
}

/** The AAD context of one per-field envelope (the layout before 0020). */
function fieldContext(tenantId: string, number: string, field: PiiField): FieldContext {
  return { tenantId, table: 'invoices', column: `buyer.${field}`, rowId: number };
}

function bodyContext(tenantId: string, key: string): FieldContext {
  return { tenantId, table: 'idempotency_keys', column: 'body', rowId: key };
}
