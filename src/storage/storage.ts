// The storage contract the services use. Two engines implement it with the same role files (sqlite/, postgres/) and
// one contract test suite (test/storage/) runs against both. Every tenant-owned query is scoped by tenant.
import type { Invoice, InvoiceStatus } from '../domain/invoice.ts';

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
  createdAt: string;
}

export type NewTenant = Omit<Tenant, 'createdAt'>;

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

export type CommitIssueResult =
  | { ok: true; invoices: Invoice[] }
  /** The series moved on under us (another writer took numbers): nothing was written; renumber and re-sign. */
  | { ok: false; reason: 'series-moved'; nextSeq: number };

export interface InvoiceQuery {
  /** Inclusive issue-date range, `YYYY-MM-DD`. */
  issuedFrom?: string;
  issuedTo?: string;
  buyerTaxId?: string;
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
  create(tenant: NewTenant): Promise<Tenant>;
  get(id: string): Promise<Tenant | undefined>;
  list(): Promise<Tenant[]>;
}

export interface ApiKeyRepository {
  create(key: NewApiKey): Promise<ApiKeyRecord>;
  /** Looks a key up by the hash of its secret; revoked and expired keys are returned too (the caller decides). */
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  list(tenantId: string): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; false when the tenant has no such key. */
  revoke(tenantId: string, id: string, at: string): Promise<boolean>;
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
   * In one transaction: move the series from `firstSeq` to `firstSeq + items.length` (compare-and-set), append the
   * ledger leaves (assigning consecutive indices), insert invoices with their lines, idempotency records, one
   * outbox event `invoice.issued` and one audit entry per invoice; then commit durably.
   */
  commitIssueBatch(batch: IssueBatch): Promise<CommitIssueResult>;
  get(tenantId: string, number: string): Promise<Invoice | undefined>;
  findByExternalId(tenantId: string, externalId: string): Promise<Invoice | undefined>;
  /** Unscoped lookup for public verification (查验): the number is globally unique. */
  findForVerification(number: string): Promise<Invoice | undefined>;
  search(tenantId: string, query: InvoiceQuery): Promise<InvoicePage>;
}

export interface IdempotencyRepository {
  get(tenantId: string, key: string): Promise<IdempotencyRecord | undefined>;
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
