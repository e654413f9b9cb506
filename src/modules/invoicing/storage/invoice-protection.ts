// Personal data at rest (docs/design.md §4 invariant 8) of the invoicing tables, the same on every engine. The buyer's phone,
// e-mail, address, bank account and — when it is personal — tax ID are replaced in the stored invoice document by
// field envelopes (platform/crypto/field-cipher.ts) under the tenant's data key; the AAD binds tenant, table `invoices`, column
// (`buyer.phone`, …) and row (the invoice number), so an envelope moved to another row, field or tenant does not open.
// The idempotency record's response body is encrypted whole (table `idempotency_keys`, column `body`, row = the key).
// Readers always get plaintext Invoice objects: signature checks need the body exactly as signed.
//
// A tax ID is personal unless it is a valid USCC that is not also a valid ID-card number (the same fail-safe rule as
// modules/invoicing/domain/masking.ts): company codes stay in plaintext (document and the buyer_tax_id column), everything else is
// encrypted and never written to buyer_tax_id.
//
// The keys — per-tenant data keys with their cache and reload, the blind-index keys and the envelope operations — are
// in platform/storage/field-keys.ts; this file says which fields of which row they protect.
import type { Kysely } from 'kysely';
import type { Database } from '../../../platform/storage/database.ts';
import type { Invoice, Party } from '../../../shared/invoice.ts';
import { isValidIdCardNumber, isValidUscc } from '../domain/tax-id.ts';
import {
  decryptField, encryptField, fieldEnvelopeInfo, isEncryptedField, reencryptField, type DataKey, type FieldContext,
} from '../../../platform/crypto/field-cipher.ts';
import type { BlindIndexField } from '../../../platform/crypto/blind-index.ts';
import type { FieldKeys } from '../../../platform/storage/field-keys.ts';

/** Buyer fields encrypted at rest; `taxId` only when it is personal (isPersonalTaxId). */
const PII_FIELDS = ['address', 'phone', 'bankAccount', 'email', 'taxId'] as const satisfies readonly (keyof Party)[];
type PiiField = (typeof PII_FIELDS)[number];

/** True when a buyer tax ID is (or may be) a natural person's: anything but a valid USCC that is not an ID number. */
export function isPersonalTaxId(taxId: string): boolean {
  return isValidIdCardNumber(taxId) || !isValidUscc(taxId);
}

export interface BuyerIndexes {
  buyer_phone_bidx: string | null;
  buyer_email_bidx: string | null;
  buyer_tax_id_bidx: string | null;
}

/** What the re-encryption job writes back for one invoice row. */
export interface ReprotectedInvoice {
  document: string;
  /** The data-key version every envelope of `document` is now under. */
  version: number;
  indexes: BuyerIndexes;
  /** The plaintext buyer_tax_id column: a company code, or null when there is none or it is personal. */
  buyerTaxId: string | null;
}

export class InvoiceProtection {
  constructor(readonly keys: FieldKeys) {}

  /** The JSON document to store: the invoice with the buyer's personal fields replaced by envelopes. */
  protect(dataKey: DataKey, tenantId: string, invoice: Invoice): string {
    const buyer: Party = { ...invoice.buyer };
    for (const f of PII_FIELDS) {
      const v = buyer[f];
      if (v === undefined || (f === 'taxId' && !isPersonalTaxId(v))) continue;
      buyer[f] = this.keys.encrypt(dataKey, v, invoiceContext(tenantId, invoice.number, f));
    }
    // Spreading keeps every key in place, so the revealed document has the issued key order.
    return JSON.stringify({ ...invoice, buyer });
  }

  /** The stored document as an Invoice with the buyer's fields decrypted. Throws FieldCipherError when one does not open. */
  async reveal(db: Kysely<Database>, tenantId: string, document: string): Promise<Invoice> {
    const invoice = JSON.parse(document) as Invoice;
    const buyer = invoice.buyer as Party | undefined;
    if (!buyer || !PII_FIELDS.some((f) => isEncryptedField(buyer[f]))) return invoice;
    return this.keys.withKeys(db, tenantId, () => {
      const out: Party = { ...buyer };
      for (const f of PII_FIELDS) {
        const v = buyer[f];
        if (isEncryptedField(v)) out[f] = this.keys.openEnvelope(tenantId, v, invoiceContext(tenantId, invoice.number, f));
      }
      invoice.buyer = out;
      return invoice;
    });
  }

  /**
   * Re-encryption (modules/keys/app/reencrypt-job.ts): the stored document with every personal field under the tenant's current data
   * key — envelopes under older versions re-encrypted, plaintext from before field protection encrypted — and its
   * indexes recomputed from the plaintext. Envelopes already under the current key are kept byte for byte (so an
   * unchanged document compares equal). Throws FieldCipherError when a field does not open.
   */
  async reprotect(db: Kysely<Database>, tenantId: string, document: string, minVersion = 0): Promise<ReprotectedInvoice> {
    const key = await this.keys.dataKeyFor(db, tenantId, minVersion);
    return this.keys.withKeys(db, tenantId, () => {
      const invoice = JSON.parse(document) as Invoice;
      const buyer: Party = invoice.buyer ?? { name: '' };
      const plain: Party = { ...buyer };
      const out: Party = { ...buyer };
      for (const f of PII_FIELDS) {
        const v = buyer[f];
        if (v === undefined) continue;
        const ctx = invoiceContext(tenantId, invoice.number, f);
        if (isEncryptedField(v)) {
          plain[f] = decryptField(this.keys.resolve(tenantId), v, ctx);
          const info = fieldEnvelopeInfo(v);
          if (info.version !== key.version || info.alg !== key.alg) out[f] = encryptField(key, plain[f], ctx);
        } else if (f !== 'taxId' || isPersonalTaxId(v)) {
          out[f] = encryptField(key, v, ctx);
        }
      }
      const changed = PII_FIELDS.some((f) => out[f] !== buyer[f]);
      const taxId = plain.taxId;
      return {
        document: changed ? JSON.stringify({ ...invoice, buyer: out }) : document,
        version: key.version,
        indexes: this.indexes(tenantId, plain),
        buyerTaxId: taxId === undefined || isPersonalTaxId(taxId) ? null : taxId,
      };
    });
  }

  /** Re-encryption of an idempotency body: sealed (again) under the tenant's current data key. */
  async reprotectBody(db: Kysely<Database>, tenantId: string, key: string, body: string, minVersion = 0): Promise<{ body: string; version: number }> {
    const dataKey = await this.keys.dataKeyFor(db, tenantId, minVersion);
    return this.keys.withKeys(db, tenantId, () => {
      const ctx = bodyContext(tenantId, key);
      const sealed = isEncryptedField(body) ? reencryptField(this.keys.resolve(tenantId), dataKey, body, ctx) : encryptField(dataKey, body, ctx);
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
    return this.keys.withKeys(db, tenantId, () => decryptField(this.keys.resolve(tenantId), body, bodyContext(tenantId, key)));
  }
}

function invoiceContext(tenantId: string, number: string, field: PiiField): FieldContext {
  return { tenantId, table: 'invoices', column: `buyer.${field}`, rowId: number };
}

function bodyContext(tenantId: string, key: string): FieldContext {
  return { tenantId, table: 'idempotency_keys', column: 'body', rowId: key };
}
