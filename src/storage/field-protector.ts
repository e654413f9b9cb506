// Personal data at rest (DESIGN.md §4 invariant 8), inside storage and the same on every engine. The buyer's phone,
// e-mail, address, bank account and — when it is personal — tax ID are replaced in the stored invoice document by
// field envelopes (crypto/field-cipher.ts) under the tenant's data key; the AAD binds tenant, table `invoices`, column
// (`buyer.phone`, …) and row (the invoice number), so an envelope moved to another row, field or tenant does not open.
// The idempotency record's response body is encrypted whole (table `idempotency_keys`, column `body`, row = the key).
// Readers always get plaintext Invoice objects: signature checks need the body exactly as signed.
//
// A tax ID is personal unless it is a valid USCC that is not also a valid ID-card number (the same fail-safe rule as
// domain/masking.ts): company codes stay in plaintext (document and the buyer_tax_id column), everything else is
// encrypted and never written to buyer_tax_id.
//
// Data keys: one per tenant and version in tenant_data_keys, wrapped under the master key (version 1 here: the key
// store has one master key). The first write of a tenant inserts version 1 if absent — in its own auto-committed
// statement before the issuing transaction, so a rolled-back batch never leaves a cached key that is not stored, and two
// nodes racing both end up with the row that won. Unwrapped keys are cached in memory for the life of the process.
//
// Blind indexes: the index key is blindIndexKey(master key, tenant id) — derived from the master key rather than the
// data key, so a search needs no data-key lookup and data-key rotation does not have to recompute indexes (master-key
// rotation does). Per tenant by construction: the same phone under two tenants has unrelated indexes.
import type { Kysely } from 'kysely';
import type { Database } from './database.ts';
import type { Invoice, Party } from '../domain/invoice.ts';
import { isValidIdCardNumber, isValidUscc } from '../domain/tax-id.ts';
import {
  createDataKey, dataKeyResolver, decryptField, encryptField, FieldCipherError, isEncryptedField, unwrapDataKey, wrapDataKey,
  type DataKey, type FieldAlg, type FieldContext,
} from '../crypto/field-cipher.ts';
import { blindIndex, blindIndexKey, normaliseIndexValue, type BlindIndexField } from '../crypto/blind-index.ts';

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

export interface FieldProtectorOptions {
  /** Algorithm of newly created data keys (default AES-256-GCM). */
  alg?: FieldAlg;
  /** The master key's version (default 1). */
  masterVersion?: number;
}

export class FieldProtector {
  private readonly alg: FieldAlg;
  private readonly masterVersion: number;
  private readonly masterKeys: ReadonlyMap<number, Uint8Array>;
  /** Unwrapped data keys by tenant, by version. */
  private readonly keys = new Map<string, Map<number, DataKey>>();
  /** The data key new writes use, by tenant. */
  private readonly current = new Map<string, DataKey>();
  private readonly indexKeys = new Map<string, Uint8Array>();

  constructor(
    private readonly masterKey: Uint8Array,
    opts: FieldProtectorOptions = {},
  ) {
    this.alg = opts.alg ?? 'aes-256-gcm';
    this.masterVersion = opts.masterVersion ?? 1;
    this.masterKeys = new Map([[this.masterVersion, masterKey]]);
  }

  /** The tenant's current data key, created (version 1) if the tenant has none. Call outside a transaction. */
  async dataKeyFor(db: Kysely<Database>, tenantId: string): Promise<DataKey> {
    const cached = this.current.get(tenantId);
    if (cached) return cached;
    let found = await this.load(db, tenantId);
    if (!found) {
      const key = createDataKey(this.alg);
      await db
        .insertInto('tenant_data_keys')
        .values({
          tenant_id: tenantId,
          version: 1,
          alg: this.alg,
          wrapped_key: wrapDataKey(this.masterKey, this.masterVersion, tenantId, key, this.alg, 1),
          created_at: new Date().toISOString(),
          status: 'active',
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'version']).doNothing())
        .execute();
      found = await this.load(db, tenantId);
      if (!found) throw new Error('field protector: the tenant data key was not stored');
    }
    return found;
  }

  /** Reads and unwraps every data key of the tenant into the cache; returns the current one (undefined: none). */
  private async load(db: Kysely<Database>, tenantId: string): Promise<DataKey | undefined> {
    const rows = await db
      .selectFrom('tenant_data_keys')
      .select(['version', 'wrapped_key', 'status'])
      .where('tenant_id', '=', tenantId)
      .orderBy('version', 'asc')
      .execute();
    const byVersion = new Map<number, DataKey>();
    let current: DataKey | undefined;
    for (const r of rows) {
      const dk = unwrapDataKey(this.masterKeys, r.wrapped_key, tenantId);
      if (dk.version !== Number(r.version)) throw new FieldCipherError('key_mismatch', 'data key row and wrapped key disagree on the version');
      byVersion.set(dk.version, dk);
      if (r.status === 'active') current = dk;
    }
    if (rows.length > 0) this.keys.set(tenantId, byVersion);
    if (current) this.current.set(tenantId, current);
    return current;
  }

  private resolve(tenantId: string) {
    return dataKeyResolver(this.keys.get(tenantId)?.values() ?? []);
  }

  /** Runs `fn` with the cached keys; if it needs a version not cached (made by another node), reloads once. */
  private async withKeys<T>(db: Kysely<Database>, tenantId: string, fn: () => T): Promise<T> {
    if (!this.keys.has(tenantId)) await this.load(db, tenantId);
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof FieldCipherError) || e.reason !== 'unknown_key_version') throw e;
      await this.load(db, tenantId);
      return fn();
    }
  }

  /** The JSON document to store: the invoice with the buyer's personal fields replaced by envelopes. */
  protect(dataKey: DataKey, tenantId: string, invoice: Invoice): string {
    const buyer: Party = { ...invoice.buyer };
    for (const f of PII_FIELDS) {
      const v = buyer[f];
      if (v === undefined || (f === 'taxId' && !isPersonalTaxId(v))) continue;
      buyer[f] = encryptField(dataKey, v, invoiceContext(tenantId, invoice.number, f));
    }
    // Spreading keeps every key in place, so the revealed document has the issued key order.
    return JSON.stringify({ ...invoice, buyer });
  }

  /** The stored document as an Invoice with the buyer's fields decrypted. Throws FieldCipherError when one does not open. */
  async reveal(db: Kysely<Database>, tenantId: string, document: string): Promise<Invoice> {
    const invoice = JSON.parse(document) as Invoice;
    const buyer = invoice.buyer as Party | undefined;
    if (!buyer || !PII_FIELDS.some((f) => isEncryptedField(buyer[f]))) return invoice;
    return this.withKeys(db, tenantId, () => {
      const resolve = this.resolve(tenantId);
      const out: Party = { ...buyer };
      for (const f of PII_FIELDS) {
        const v = buyer[f];
        if (isEncryptedField(v)) out[f] = decryptField(resolve, v, invoiceContext(tenantId, invoice.number, f));
      }
      invoice.buyer = out;
      return invoice;
    });
  }

  /** The blind index of one search value; undefined when nothing is left after normalisation (matches nothing). */
  index(tenantId: string, field: BlindIndexField, value: string): string | undefined {
    if (normaliseIndexValue(field, value) === '') return undefined;
    return blindIndex(this.indexKey(tenantId), field, value);
  }

  /** The three blind-index columns of a buyer (NULL for an absent or empty field). */
  indexes(tenantId: string, buyer: Party): BuyerIndexes {
    const idx = (field: BlindIndexField, v: string | undefined) => (v === undefined ? null : this.index(tenantId, field, v) ?? null);
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
    return this.withKeys(db, tenantId, () => decryptField(this.resolve(tenantId), body, bodyContext(tenantId, key)));
  }

  private indexKey(tenantId: string): Uint8Array {
    let k = this.indexKeys.get(tenantId);
    if (!k) {
      k = blindIndexKey(this.masterKey, tenantId);
      this.indexKeys.set(tenantId, k);
    }
    return k;
  }
}

function invoiceContext(tenantId: string, number: string, field: PiiField): FieldContext {
  return { tenantId, table: 'invoices', column: `buyer.${field}`, rowId: number };
}

function bodyContext(tenantId: string, key: string): FieldContext {
  return { tenantId, table: 'idempotency_keys', column: 'body', rowId: key };
}
