// The storage contract the services use. Two engines implement it with the same role files (sqlite/, postgres/) and
// one contract test suite (test/storage/) runs against both. Every tenant-owned query is scoped by tenant.
import type { Invoice, InvoiceKind, InvoiceStatus, InvoiceType } from '../domain/invoice.ts';
import type { DataKeyRepository } from './data-keys.ts';

export type Engine = 'sqlite' | 'postgres';

export interface Tenant {
  id: string;
  name: string;
  /** The seller's unified social credit code. */
  taxId: string;
  address?: string;
  phone?: string;
  bankName?: string;
  bankAccount?: string;
  /** Two-digit provincial region code, positions 3–4 of the invoice number. */
  regionCode: string;
  /** One-digit issuing channel, position 5 of the invoice number. */
  channel: string;
  /** Rates this tenant may use; undefined = every rate in use. */
  allowedRates?: string[];
  /** Monthly issuing quota (授信额度) on the total amount excluding VAT, a decimal string; undefined = unlimited. */
  monthlyQuota?: string;
  createdAt: string;
}

export type NewTenant = Omit<Tenant, 'createdAt'>;

/** The fields an update may change; `null` clears an optional field (`monthlyQuota: null` = unlimited). */
export interface TenantPatch {
  name?: string;
  regionCode?: string;
  address?: string | null;
  phone?: string | null;
  bankName?: string | null;
  bankAccount?: string | null;
  monthlyQuota?: string | null;
}

/** A tenant's quota and what it used in one period, in integer cents. */
export interface TenantQuotaUsage {
  /** null = unlimited. */
  quotaCents: bigint | null;
  usedCents: bigint;
}

export interface ApiKeyRecord {
  tenantId: string;
  id: string;
  /** The non-secret prefix shown in listings, e.g. `fp_live_AbC1`. */
  prefix: string;
  scopes: string[];
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
}

export interface NewApiKey {
  tenantId: string;
  id: string;
  prefix: string;
  /** Hex SHA-256 of the whole secret; the secret itself is never stored. */
  hash: string;
  scopes: string[];
  expiresAt?: string;
}

export interface SigningKeyRecord {
  id: string;
  alg: 'SM2';
  /** Uncompressed public key, hex (04‖x‖y). */
  publicKey: string;
  createdAt: string;
  status: 'active' | 'retired';
}

export interface SigningKeyWithSecret extends SigningKeyRecord {
  /** The private key sealed under the master key (crypto/key-store.ts envelope). */
  privateKeySealed: string;
}

/** One invoice of an issuance batch, numbered and signed, waiting for its ledger index. */
export interface PendingIssue {
  tenantId: string;
  invoice: Omit<Invoice, 'ledger'>;
  /** Hex SM3 leaf hash committed to the ledger for this invoice. */
  leafHash: string;
  idempotency?: { key: string; requestHash: string };
  /**
   * Renders the exact response body once the ledger index is known; stored with the idempotency record so that a
   * replay answers byte for byte.
   */
  renderResponse: (invoice: Invoice) => string;
  /** Who issued it, for the audit entry (`action: 'invoice.issue'`); actor defaults to `system`. */
  audit?: { actor: string; ip?: string };
}

export interface IssueBatch {
  /** Series key `YYRRC` (year, region, channel). */
  series: string;
  /** The sequence the first item was numbered with; items are numbered consecutively from it. */
  firstSeq: number;
  items: PendingIssue[];
}

/** A tenant's usage of its quota in a period after an issuing commit, in cents (every node's invoices included). */
export interface QuotaUsed {
  tenantId: string;
  /** `YYYY-MM` (UTC+8), from the invoices' issue date. */
  period: string;
  usedCents: bigint;
}

export type CommitIssueResult =
  | { ok: true; invoices: Invoice[]; usage: QuotaUsed[] }
  /** The series moved on under us (another writer took numbers): nothing was written; renumber and re-sign. */
  | { ok: false; reason: 'series-moved'; nextSeq: number }
  /**
   * The tenant's quota guard failed (its quota was lowered, or another node used it meanwhile): nothing was written;
   * reload the tenant's quota and usage, drop what no longer fits and renumber.
   */
  | { ok: false; reason: 'quota-exceeded'; tenantId: string; period: string };

export interface InvoiceQuery {
  /** Inclusive issue-date range, `YYYY-MM-DD`. */
  issuedFrom?: string;
  issuedTo?: string;
  buyerTaxId?: string;
  /** Any common spelling ('+86 139-1234-5678'): matched through the blind index (needs a master key). */
  buyerPhone?: string;
  /** Case-insensitive, through the blind index (needs a master key). */
  buyerEmail?: string;
  status?: InvoiceStatus;
  /** Inclusive range of the total with tax, decimal strings. */
  minTotal?: string;
  maxTotal?: string;
  /** ISO timestamp: invoices changed at or after it. */
  updatedSince?: string;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface InvoicePage {
  items: Invoice[];
  nextCursor?: string;
}

export interface IdempotencyRecord {
  requestHash: string;
  statusCode: number;
  body: string;
}

export interface TenantRepository {
  /** With `audit`, a `tenant.create` entry is chained in the same transaction. */
  create(tenant: NewTenant, audit?: AuditStamp): Promise<Tenant>;
  get(id: string): Promise<Tenant | undefined>;
  list(): Promise<Tenant[]>;
  /**
   * Applies the patch and, with `audit`, chains one `tenant.update` entry naming the changed fields (never their
   * values) in the same transaction. Fields equal to the stored value are not changes; nothing changed = nothing
   * written. undefined when there is no such tenant.
   */
  update(id: string, patch: TenantPatch, audit?: AuditStamp): Promise<{ tenant: Tenant; changed: string[] } | undefined>;
  /** The tenant's quota and its usage in `period` (`YYYY-MM`); undefined when there is no such tenant. */
  quotaUsage(id: string, period: string): Promise<TenantQuotaUsage | undefined>;
  /** Every tenant's usage in `period`, in cents; tenants without usage are absent. */
  usageInPeriod(period: string): Promise<Map<string, bigint>>;
}

export interface ApiKeyRepository {
  /** With `audit`, an `apikey.create` entry is chained in the same transaction. */
  create(key: NewApiKey, audit?: AuditStamp): Promise<ApiKeyRecord>;
  /** Looks a key up by the hash of its secret; revoked and expired keys are returned too (the caller decides). */
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  list(tenantId: string): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; false when the tenant has no such key. */
  revoke(tenantId: string, id: string, at: string, audit?: AuditStamp): Promise<boolean>;
}

export interface SigningKeyRepository {
  insert(key: SigningKeyWithSecret): Promise<void>;
  /** All keys, public parts only, oldest first. */
  list(): Promise<SigningKeyRecord[]>;
  /** The newest active key with its sealed secret. */
  getActive(): Promise<SigningKeyWithSecret | undefined>;
}

export interface InvoiceRepository {
  /** The next sequence number of a series (1 for a new series). */
  nextSeq(series: string): Promise<number>;
  /**
   * In one transaction: move the series from `firstSeq` to `firstSeq + items.length` (compare-and-set), add each
   * tenant's charges to its quota usage of the invoices' period (guarded: `used + charge <= quota`), append the
   * ledger leaves (assigning consecutive indices), insert invoices with their lines, idempotency records, one
   * outbox event `invoice.issued` and one audit entry per invoice; then commit durably.
   */
  commitIssueBatch(batch: IssueBatch): Promise<CommitIssueResult>;
  get(tenantId: string, number: string): Promise<Invoice | undefined>;
  findByExternalId(tenantId: string, externalId: string): Promise<Invoice | undefined>;
  /** Unscoped lookup for public verification (查验): the number is globally unique. */
  findForVerification(number: string): Promise<Invoice | undefined>;
  /**
   * The stored row behind 查验, without decrypting anything: its query columns, a digest of every stored byte that
   * makes up the invoice, and `open()` for the invoice itself. Lets a verifier answer a row it checked before
   * (same digest) without decrypting the buyer's personal data again.
   */
  findStoredForVerification(number: string): Promise<StoredInvoiceRef | undefined>;
  search(tenantId: string, query: InvoiceQuery): Promise<InvoicePage>;
}

export interface StoredInvoiceRef {
  number: string;
  tenantId: string;
  /** The issue_date and total columns (projections of the document, checked against it when opened). */
  issueDate: string;
  total: string;
  /** Base64 SHA-256 over the stored document, status and ledger index: any change to the row changes it. */
  digest: string;
  /** The invoice with personal fields decrypted; throws FieldCipherError when one does not open. */
  open(): Promise<Invoice>;
}

/** What the live event stream may show of an invoice: no buyer data at all (invariant 8). */
export interface InvoiceEventSummary {
  number: string;
  type: InvoiceType;
  kind: InvoiceKind;
  issuedAt: string;
  /** The status when the event is read (a later red letter may have flushed the invoice). */
  status: InvoiceStatus;
  /** Decimal strings, as issued. */
  totals: { amount: string; tax: string; total: string };
}

/** One row of the transactional outbox (written in the issuing transaction) as the live event stream reads it. */
export interface OutboxEvent {
  /** BIGSERIAL / AUTOINCREMENT: grows with every event of every tenant; the SSE `id`. */
  id: number;
  tenantId: string;
  /** e.g. `invoice.issued`. */
  type: string;
  createdAt: string;
  /** The invoice the event names; absent when the event names none (or it is gone). */
  invoice?: InvoiceEventSummary;
}

export interface OutboxRepository {
  /** The highest event id, 0 when there is none. */
  lastId(): Promise<number>;
  /** Events of every tenant with id > afterId, oldest first, at most `limit` (a range scan of the primary key). */
  listAfter(afterId: number, limit: number): Promise<OutboxEvent[]>;
  /** One tenant's events with afterId < id ≤ throughId, oldest first, at most `limit`. */
  listForTenant(tenantId: string, afterId: number, throughId: number, limit: number): Promise<OutboxEvent[]>;
}

export interface IdempotencyRepository {
  get(tenantId: string, key: string): Promise<IdempotencyRecord | undefined>;
}

/** Who did an audited change and from where; the storage writes the audit entry in the change's transaction. */
export interface AuditStamp {
  actor: string;
  ip?: string;
}

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface NewAuditEntry {
  /** The tenant concerned; undefined for actions outside any tenant (bans, failed authentications, exports). */
  tenantId?: string;
  /** Who: `apikey:<id>`, `admin`, `cli`, `system`, `anonymous`. */
  actor: string;
  /** What: `invoice.issue`, `tenant.create`, `apikey.revoke`, `auth.fail`, `ban.add`, `audit.export`, … */
  action: string;
  /** What it acted on (an invoice number, tenant id, key id, CIDR, file); `-` when nothing. */
  target: string;
  outcome: AuditOutcome;
  /** Where from: the client address. */
  ip?: string;
  /** Extra facts, stored as JSON text. Never secrets or buyer personal data. */
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  /** Position in the chain: 1, 2, 3, … without gaps (a purge removes a prefix). */
  seq: number;
  /** When, ISO 8601 UTC. */
  at: string;
  tenantId?: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  ip?: string;
  /** The stored JSON text of the details, verbatim (it is what the hash covers). */
  details?: string;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  /** Inclusive lower bound on `at` (ISO 8601 UTC, or a `YYYY-MM-DD` UTC day). */
  from?: string;
  /** Exclusive upper bound on `at`. */
  to?: string;
  tenantId?: string;
  action?: string;
  /** Only entries with seq > afterSeq (paging in ascending order). */
  afterSeq?: number;
  /** Only entries with seq < beforeSeq (paging in descending order). */
  beforeSeq?: number;
  /** Default `asc` (oldest first). */
  order?: 'asc' | 'desc';
  limit: number;
}

/** The chain's head: the last entry's seq and hash (seq 0 and the genesis hash when empty). */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** A purge's record: entries up to and including `seq` were deleted; `hash` is entry `seq`'s hash. */
export interface AuditCheckpoint {
  seq: number;
  hash: string;
  /** The cutoff asked for: entries before it were eligible. */
  cutoff: string;
  purgedAt: string;
  /** Entries deleted by this purge. */
  count: number;
}

export interface AuditPurgeResult {
  purged: number;
  /** The newest checkpoint (this purge's, or the previous one when nothing was old enough). */
  checkpoint?: AuditCheckpoint;
  /** The `audit.purge` entry recording this purge. */
  entry: AuditEntry;
}

/** The minimum age of audit entries a purge may delete (DESIGN: retention never below 180 days). */
export const AUDIT_MIN_RETENTION_DAYS = 180;

export interface AuditRepository {
  /** Appends entries to the chain in their own transaction; returns them with seq, at and hashes. */
  append(entries: NewAuditEntry[]): Promise<AuditEntry[]>;
  list(query: AuditQuery): Promise<AuditEntry[]>;
  /** Every entry with seq ≥ fromSeq in ascending seq order, read `batch` rows at a time. */
  scan(fromSeq: number, batch?: number): AsyncIterable<AuditEntry>;
  head(): Promise<AuditHead>;
  /** The newest purge checkpoint: verification starts after it. */
  checkpoint(): Promise<AuditCheckpoint | undefined>;
  /**
   * Deletes the longest prefix of the chain whose entries are all older than `cutoff` and records a checkpoint, plus
   * an `audit.purge` entry, in one transaction. Throws AuditRetentionViolation when `cutoff` is newer than
   * AUDIT_MIN_RETENTION_DAYS before `now`. Nothing else ever deletes audit entries.
   */
  purgeBefore(cutoff: string, by?: AuditStamp, now?: Date): Promise<AuditPurgeResult>;
}

export interface MigrationOutcome {
  name: string;
  status: 'applied' | 'already-applied';
}

export interface Storage {
  readonly engine: Engine;
  readonly tenants: TenantRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly signingKeys: SigningKeyRepository;
  readonly invoices: InvoiceRepository;
  readonly idempotency: IdempotencyRepository;
  readonly audit: AuditRepository;
  readonly outbox: OutboxRepository;
  /** Data keys, master-key rotation and re-encryption (data-keys.ts); present when a master key is configured. */
  readonly dataKeys?: DataKeyRepository;
  migrate(): Promise<MigrationOutcome[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The names UniqueViolation.constraint carries, identical on every engine. */
export const UniqueConstraint = {
  tenantId: 'tenants_pkey',
  apiKeyId: 'api_keys_pkey',
  apiKeyHash: 'api_keys_key_hash_uq',
  signingKeyId: 'signing_keys_pkey',
  invoiceNumber: 'invoices_number_uq',
  invoiceExternalId: 'invoices_external_id_uq',
  idempotencyKey: 'idempotency_keys_pkey',
} as const;

/** Thrown by search for a cursor this storage did not issue (map to 400). */
export class InvalidCursor extends Error {
  constructor() {
    super('invalid cursor');
    this.name = 'InvalidCursor';
  }
}

/** Thrown by AuditRepository.purgeBefore for a cutoff inside the minimum retention period (map to 400/422). */
export class AuditRetentionViolation extends Error {
  constructor(
    readonly cutoff: string,
    readonly earliestAllowed: string,
  ) {
    super(`audit entries are kept at least ${AUDIT_MIN_RETENTION_DAYS} days: cutoff ${cutoff} is after ${earliestAllowed}`);
    this.name = 'AuditRetentionViolation';
  }
}

/** Thrown by storage for a unique-constraint violation, so services can map it without knowing the engine. */
export class UniqueViolation extends Error {
  constructor(
    readonly constraint: string,
    options?: { cause?: unknown },
  ) {
    super(`unique constraint violated: ${constraint}`, options);
    this.name = 'UniqueViolation';
  }
}
