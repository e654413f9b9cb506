// Each tenant's data keys and blind-index key, created, stored wrapped under the master key
// (platform/crypto/data-key-wrap.ts) and cached unwrapped, and the envelope operations under them: the one object
// every repository that protects personal data is handed (`Scope.fields`). Which fields of which row are protected is
// the repositories' (e.g. modules/invoicing/storage/invoice-protection.ts).
//
// Data keys: one per tenant and version in tenant_data_keys, wrapped under the master key (current version from config;
// earlier versions stay configured while their wrapped keys are re-wrapped). The first write of a tenant inserts
// version 1 if absent — in its own auto-committed statement before the issuing transaction, so a rolled-back batch
// never leaves a cached key that is not stored, and two nodes racing both end up with the row that won. Unwrapped keys
// are cached in memory; the current one is re-read after `currentKeyTtlMs`, so a rotation made on another node is
// picked up within that time (modules/keys/app/reencrypt-job.ts moves what was written meanwhile). A version this node has not
// seen (an envelope written by a node that rotated) makes the reader reload at once.
//
// Blind indexes: the index key is per tenant and stored wrapped in tenant_index_keys (not derived from the master key
// on every use, as before 0005): a master-key rotation re-wraps it, so the indexes already in invoices stay valid and
// search by phone, e-mail or tax ID keeps working without recomputing anything; a data-key rotation does not touch it
// either. The stored key is HKDF(master key that wrapped the tenant's first data key, tenant) — exactly the key the
// indexes written before 0005 were made with — and is stored on the tenant's first write after 0005.
import type { Kysely } from 'kysely';
import type { Database } from './database.ts';
import {
  createDataKey, dataKeyResolver, decryptField, encryptField, FieldCipherError, inspectWrappedDataKey, reencryptField, unwrapDataKey,
  unwrapIndexKey, wrapDataKey, wrapIndexKey, type DataKey, type DataKeyResolver, type FieldAlg, type FieldContext,
} from '../crypto/field-cipher.ts';
import { systemClock, type Clock } from '../../shared/clock.ts';
import { blindIndex, blindIndexKey, normaliseIndexValue, type BlindIndexField } from '../crypto/blind-index.ts';
import { isMasterKeyCipher, resealSecret, type MasterKey } from '../crypto/key-store.ts';
import { randomBytes } from 'node:crypto';

const NO_KEYS: DataKeyResolver = () => undefined;

export interface FieldKeysOptions {
  /** Algorithm of newly created data keys (default AES-256-GCM); existing keys keep theirs. */
  alg?: FieldAlg;
  /** The current master key's version (default 1): new data keys are wrapped under it. */
  masterVersion?: number;
  /** Earlier master keys by version, to open keys not yet re-wrapped (master-key rotation). */
  previousMasterKeys?: ReadonlyMap<number, MasterKey>;
  /** How long a cached current data key is trusted before it is read again (default 30 s). */
  currentKeyTtlMs?: number;
  /** Stamps the key rows this class creates (the composition root's clock). */
  clock?: Clock;
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

/** Plaintexts openEnvelope keeps (a few MB: a buyer is short). */
const OPENED_MAX = 20_000;

/**
 * What a process has opened since it started: envelopes asked for (openEnvelope, decrypt, decryptLoaded, reencrypt),
 * and of those the ones that ran the AEAD decryption (the rest answered from the memo of opened envelopes). Counted
 * where the decryption happens, so a test or a benchmark can tell how many decryptions an answer cost.
 */
export interface EnvelopeCounts {
  opened: number;
  decrypted: number;
}

/** Per-tenant data keys and blind-index keys with their cache, and the envelope operations under them. */

export class FieldKeys {
  readonly alg: FieldAlg;
  readonly masterVersion: number;
  /** Every configured master key by version, the current one included. */
  readonly masterKeys: ReadonlyMap<number, MasterKey>;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly tenants = new Map<string, TenantKeys>();
  /** Envelopes opened recently, by AAD context and envelope (openEnvelope); oldest out first. */
  private readonly memo = new Map<string, string>();
  private readonly counts: EnvelopeCounts = { opened: 0, decrypted: 0 };

  constructor(
    private readonly masterKey: MasterKey,
    opts: FieldKeysOptions = {},
  ) {
    this.alg = opts.alg ?? 'aes-256-gcm';
    this.masterVersion = opts.masterVersion ?? 1;
    this.ttlMs = opts.currentKeyTtlMs ?? 30_000;
    this.clock = opts.clock ?? systemClock;
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
    // A key in an HSM cannot feed HKDF; no index was ever made from one (tenant_index_keys predates the HSM
    // provider), so a tenant whose keys start under it gets a random index key, stored on its first write.
    if (isMasterKeyCipher(master)) return new Uint8Array(randomBytes(32));
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
    if (cached?.current && cached.indexKeyStored && cached.current.version >= minVersion && performance.now() - cached.loadedAt < this.ttlMs) {
      return cached.current;
    }
    let entry = await this.load(db, tenantId);
    if (!entry.current) {
      const key = createDataKey(this.alg);
      await db
        .insertInto('tenant_data_keys')
        .values({ tenant_id: tenantId, version: 1, alg: this.alg, wrapped_key: this.wrap(tenantId, key, this.alg, 1), created_at: this.clock.now().toISOString(), status: 'active' })
        .onConflict((oc) => oc.columns(['tenant_id', 'version']).doNothing())
        .execute();
      entry = await this.load(db, tenantId);
      if (!entry.current) throw new Error('field protector: the tenant data key was not stored');
    }
    if (!entry.indexKeyStored) {
      // Deterministic under a file master key, so two nodes racing store the same key; whichever row won is the one
      // read back (under an HSM key the derived key is random, and the same read-back makes every node use the winner).
      await db
        .insertInto('tenant_index_keys')
        .values({ tenant_id: tenantId, wrapped_key: this.wrapIndex(tenantId, entry.indexKey), created_at: this.clock.now().toISOString() })
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
      // A monotonic timer: the cache's age, not a time of day.
      loadedAt: performance.now(),
    };
    this.tenants.set(tenantId, entry);
    return entry;
  }

  /** The tenant's keys as loaded (every version), for decryption. */
  resolve(tenantId: string): DataKeyResolver {
    return this.tenants.get(tenantId)?.resolver ?? NO_KEYS;
  }

  /** Runs `fn` with the cached keys; if it needs a version not cached (made by another node), reloads once. */
  async withKeys<T>(db: Kysely<Database>, tenantId: string, fn: () => T): Promise<T> {
    if (!this.tenants.has(tenantId)) await this.load(db, tenantId);
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof FieldCipherError) || e.reason !== 'unknown_key_version') throw e;
      await this.load(db, tenantId);
      return fn();
    }
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

  /** Encrypts one value under `dataKey` for `ctx` (AAD: tenant, table, column, row). */
  encrypt(dataKey: DataKey, value: string, ctx: FieldContext): string {
    return encryptField(dataKey, value, ctx);
  }

  /** Decrypts one envelope of the tenant, reloading the tenant's keys once for a version made by another node. */
  decrypt(db: Kysely<Database>, tenantId: string, envelope: string, ctx: FieldContext): Promise<string> {
    return this.withKeys(db, tenantId, () => this.decryptLoaded(tenantId, envelope, ctx));
  }

  /** Decrypts one envelope under the tenant's loaded keys (inside withKeys), without the memo. */
  decryptLoaded(tenantId: string, envelope: string, ctx: FieldContext): string {
    this.counts.opened++;
    this.counts.decrypted++;
    return decryptField(this.resolve(tenantId), envelope, ctx);
  }

  /**
   * Opens an envelope of the tenant's loaded keys (inside withKeys), remembering the plaintext of the last
   * OPENED_MAX envelopes: a read path answering the same invoices again (search pages, downloads, 查验) decrypts each
   * envelope once. The memo is keyed by the whole AAD context (what it is bound to included) and the envelope, so an
   * envelope moved to another row, field or tenant, or beside changed data, is opened (and refused) anew; it lives in memory only, like every plaintext the process handles.
   */
  openEnvelope(tenantId: string, envelope: string, ctx: FieldContext): string {
    // An envelope holds no NUL (base64url and dots), so what follows it is the bound data unambiguously.
    const k = `${ctx.tenantId}\u0000${ctx.table}\u0000${ctx.column}\u0000${ctx.rowId}\u0000${envelope}${ctx.bound === undefined ? '' : `\u0000${ctx.bound}`}`;
    const hit = this.memo.get(k);
    if (hit !== undefined) {
      this.counts.opened++;
      return hit;
    }
    const plain = this.decryptLoaded(tenantId, envelope, ctx);
    if (this.memo.size >= OPENED_MAX) this.memo.delete(this.memo.keys().next().value!);
    this.memo.set(k, plain);
    return plain;
  }

  /** An envelope re-encrypted under `dataKey` (or kept when already under it, after checking that it opens). */
  reencrypt(tenantId: string, dataKey: DataKey, envelope: string, ctx: FieldContext): string {
    this.counts.opened++;
    this.counts.decrypted++;
    return reencryptField(this.resolve(tenantId), dataKey, envelope, ctx);
  }

  /** The envelopes this process has opened and decrypted so far (a copy). */
  envelopeCounts(): EnvelopeCounts {
    return { ...this.counts };
  }
}
