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
// Data keys: one per tenant and version in tenant_data_keys, wrapped under the master key (current version from config;
// earlier versions stay configured while their wrapped keys are re-wrapped). The first write of a tenant inserts
// version 1 if absent — in its own auto-committed statement before the issuing transaction, so a rolled-back batch
// never leaves a cached key that is not stored, and two nodes racing both end up with the row that won. Unwrapped keys
// are cached in memory; the current one is re-read after `currentKeyTtlMs`, so a rotation made on another node is
// picked up within that time (jobs/reencrypt-job.ts moves what was written meanwhile). A version this node has not
// seen (an envelope written by a node that rotated) makes the reader reload at once.
//
// Blind indexes: the index key is per tenant and stored wrapped in tenant_index_keys (not derived from the master key
// on every use, as before 0005): a master-key rotation re-wraps it, so the indexes already in invoices stay valid and
// search by phone, e-mail or tax ID keeps working without recomputing anything; a data-key rotation does not touch it
// either. The stored key is HKDF(master key that wrapped the tenant's first data key, tenant) — exactly the key the
// indexes written before 0005 were made with — and is stored on the tenant's first write after 0005.
import type { Kysely } from 'kysely';
import type { Database } from './database.ts';
import type { Invoice, Party } from '../domain/invoice.ts';
import { isValidIdCardNumber, isValidUscc } from '../domain/tax-id.ts';
import {
  createDataKey, dataKeyResolver, decryptField, encryptField, FieldCipherError, fieldEnvelopeInfo, inspectWrappedDataKey,
  isEncryptedField, reencryptField, unwrapDataKey, unwrapIndexKey, wrapDataKey, wrapIndexKey,
  type DataKey, type DataKeyResolver, type FieldAlg, type FieldContext,
} from '../crypto/field-cipher.ts';
import { blindIndex, blindIndexKey, normaliseIndexValue, type BlindIndexField } from '../crypto/blind-index.ts';
import { resealSecret } from '../crypto/key-store.ts';

const NO_KEYS: DataKeyResolver = () => undefined;

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
  /** Algorithm of newly created data keys (default AES-256-GCM); existing keys keep theirs. */
  alg?: FieldAlg;
  /** The current master key's version (default 1): new data keys are wrapped under it. */
  masterVersion?: number;
  /** Earlier master keys by version, to open keys not yet re-wrapped (master-key rotation). */
  previousMasterKeys?: ReadonlyMap<number, Uint8Array>;
  /** How long a cached current data key is trusted before it is read again (default 30 s). */
  currentKeyTtlMs?: number;
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

interface TenantKeys {
  byVersion: Map<number, DataKey>;
  /** A resolver over byVersion, built when the keys are loaded, not on every read. */
  resolver: DataKeyResolver;
  /** The key new writes use: the active one. */
  current: DataKey | undefined;
  indexKey: Uint8Array;
  /** false: indexKey is derived, not yet stored in tenant_index_keys (so it is not trusted beyond this load). */
  indexKeyStored: boolean;
  loadedAt: number;
}

export class FieldProtector {
  readonly alg: FieldAlg;
  readonly masterVersion: number;
  /** Every configured master key by version, the current one included. */
  readonly masterKeys: ReadonlyMap<number, Uint8Array>;
  private readonly ttlMs: number;
  private readonly tenants = new Map<string, TenantKeys>();

  constructor(
    private readonly masterKey: Uint8Array,
    opts: FieldProtectorOptions = {},
  ) {
    this.alg = opts.alg ?? 'aes-256-gcm';
    this.masterVersion = opts.masterVersion ?? 1;
    this.ttlMs = opts.currentKeyTtlMs ?? 30_000;
    const ring = new Map(opts.previousMasterKeys ?? []);
    ring.set(this.masterVersion, masterKey);
    this.masterKeys = ring;
  }

  /** A data key wrapped under the current master key. */
  wrap(tenantId: string, key: Uint8Array, alg: FieldAlg, version: number): string {
    return wrapDataKey(this.masterKey, this.masterVersion, tenantId, key, alg, version);
  }

  /** Master-key rotation of a secret sealed by key-store.ts (e.g. a signing key): opened with any configured version. */
  reseal(sealed: string, label: string): string {
    return resealSecret(this.masterKeys, sealed, label, this.masterKey, this.masterVersion);
  }

  /** A blind-index key wrapped under the current master key. */
  wrapIndex(tenantId: string, key: Uint8Array): string {
    return wrapIndexKey(this.masterKey, this.masterVersion, tenantId, key);
  }

  /**
   * The index key a tenant's existing indexes were made with when none is stored: HKDF of the master key that wrapped
   * its first data key (the only master key there was before 0005), or of the current one for a tenant without keys.
   */
  deriveIndexKey(tenantId: string, firstWrappedDataKey: string | undefined): Uint8Array {
    const version = firstWrappedDataKey === undefined ? this.masterVersion : inspectWrappedDataKey(firstWrappedDataKey).masterVersion;
    const master = this.masterKeys.get(version);
    if (!master) throw new FieldCipherError('unknown_key_version', `master key version ${version} is not available`);
    return blindIndexKey(master, tenantId);
  }

  /**
   * After a rotation made here: the next dataKeyFor reads the keys again. The cached keys stay usable meanwhile (a batch
   * between dataKeyFor and its insert still needs the index key).
   */
  forget(tenantId: string): void {
    const entry = this.tenants.get(tenantId);
    if (entry) entry.loadedAt = -Infinity;
  }

  /**
   * The tenant's current data key, created (version 1) if the tenant has none; read again when the cache is older than
   * the TTL or older than `minVersion`. Also stores the tenant's index key if it is not stored yet. Call outside a
   * transaction.
   */
  async dataKeyFor(db: Kysely<Database>, tenantId: string, minVersion = 0): Promise<DataKey> {
    const cached = this.tenants.get(tenantId);
    if (cached?.current && cached.indexKeyStored && cached.current.version >= minVersion && Date.now() - cached.loadedAt < this.ttlMs) {
      return cached.current;
    }
    let entry = await this.load(db, tenantId);
    if (!entry.current) {
      const key = createDataKey(this.alg);
      await db
        .insertInto('tenant_data_keys')
        .values({ tenant_id: tenantId, version: 1, alg: this.alg, wrapped_key: this.wrap(tenantId, key, this.alg, 1), created_at: new Date().toISOString(), status: 'active' })
        .onConflict((oc) => oc.columns(['tenant_id', 'version']).doNothing())
        .execute();
      entry = await this.load(db, tenantId);
      if (!entry.current) throw new Error('field protector: the tenant data key was not stored');
    }
    if (!entry.indexKeyStored) {
      // Deterministic, so two nodes racing store the same key; whichever row won is the one read back.
      await db
        .insertInto('tenant_index_keys')
        .values({ tenant_id: tenantId, wrapped_key: this.wrapIndex(tenantId, entry.indexKey), created_at: new Date().toISOString() })
        .onConflict((oc) => oc.column('tenant_id').doNothing())
        .execute();
      entry = await this.load(db, tenantId);
    }
    return entry.current!;
  }

  /** Reads and unwraps every data key of the tenant and its index key into the cache. */
  private async load(db: Kysely<Database>, tenantId: string): Promise<TenantKeys> {
    const rows = await db
      .selectFrom('tenant_data_keys')
      .select(['version', 'wrapped_key', 'status'])
      .where('tenant_id', '=', tenantId)
      .orderBy('version', 'asc')
      .execute();
    const stored = await db.selectFrom('tenant_index_keys').select('wrapped_key').where('tenant_id', '=', tenantId).executeTakeFirst();
    const byVersion = new Map<number, DataKey>();
    let current: DataKey | undefined;
    for (const r of rows) {
      const dk = unwrapDataKey(this.masterKeys, r.wrapped_key, tenantId);
      if (dk.version !== Number(r.version)) throw new FieldCipherError('key_mismatch', 'data key row and wrapped key disagree on the version');
      byVersion.set(dk.version, dk);
      if (r.status === 'active') current = dk;
    }
    const entry: TenantKeys = {
      byVersion,
      resolver: rows.length > 0 ? dataKeyResolver(byVersion.values()) : NO_KEYS,
      current,
      indexKey: stored ? unwrapIndexKey(this.masterKeys, stored.wrapped_key, tenantId) : this.deriveIndexKey(tenantId, rows[0]?.wrapped_key),
      indexKeyStored: stored !== undefined,
      loadedAt: Date.now(),
    };
    this.tenants.set(tenantId, entry);
    return entry;
  }

  private resolve(tenantId: string): DataKeyResolver {
    return this.tenants.get(tenantId)?.resolver ?? NO_KEYS;
  }

  /** Runs `fn` with the cached keys; if it needs a version not cached (made by another node), reloads once. */
  private async withKeys<T>(db: Kysely<Database>, tenantId: string, fn: () => T): Promise<T> {
    if (!this.tenants.has(tenantId)) await this.load(db, tenantId);
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

  /**
   * Re-encryption (jobs/reencrypt-job.ts): the stored document with every personal field under the tenant's current data
   * key — envelopes under older versions re-encrypted, plaintext from before field protection encrypted — and its
   * indexes recomputed from the plaintext. Envelopes already under the current key are kept byte for byte (so an
   * unchanged document compares equal). Throws FieldCipherError when a field does not open.
   */
  async reprotect(db: Kysely<Database>, tenantId: string, document: string, minVersion = 0): Promise<ReprotectedInvoice> {
    const key = await this.dataKeyFor(db, tenantId, minVersion);
    return this.withKeys(db, tenantId, () => {
      const invoice = JSON.parse(document) as Invoice;
      const buyer: Party = invoice.buyer ?? { name: '' };
      const plain: Party = { ...buyer };
      const out: Party = { ...buyer };
      for (const f of PII_FIELDS) {
        const v = buyer[f];
        if (v === undefined) continue;
        const ctx = invoiceContext(tenantId, invoice.number, f);
        if (isEncryptedField(v)) {
          plain[f] = decryptField(this.resolve(tenantId), v, ctx);
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
    const dataKey = await this.dataKeyFor(db, tenantId, minVersion);
    return this.withKeys(db, tenantId, () => {
      const ctx = bodyContext(tenantId, key);
      const sealed = isEncryptedField(body) ? reencryptField(this.resolve(tenantId), dataKey, body, ctx) : encryptField(dataKey, body, ctx);
      return { body: sealed, version: dataKey.version };
    });
  }

  /** Loads the tenant's index key if it is not cached and stored (call before index() on a read path). */
  async prepareIndex(db: Kysely<Database>, tenantId: string): Promise<void> {
    if (!this.tenants.get(tenantId)?.indexKeyStored) await this.load(db, tenantId);
  }

  /** The blind index of one search value; undefined when nothing is left after normalisation (matches nothing). */
  index(tenantId: string, field: BlindIndexField, value: string): string | undefined {
    if (normaliseIndexValue(field, value) === '') return undefined;
    const entry = this.tenants.get(tenantId);
    if (!entry) throw new Error('field protector: the tenant index key is not loaded (dataKeyFor or prepareIndex first)');
    return blindIndex(entry.indexKey, field, value);
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
}

function invoiceContext(tenantId: string, number: string, field: PiiField): FieldContext {
  return { tenantId, table: 'invoices', column: `buyer.${field}`, rowId: number };
}

function bodyContext(tenantId: string, key: string): FieldContext {
  return { tenantId, table: 'idempotency_keys', column: 'body', rowId: key };
}
