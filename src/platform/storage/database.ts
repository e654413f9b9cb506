// Row types of the tables as Kysely sees them. Timestamps are ISO 8601 UTC strings (`toISOString()`) on both engines,
// so they sort as text and round-trip byte for byte. Amounts are decimal strings; `*_cents` columns hold the same
// value as an integer number of cents for range queries and sums.
//
// BIGINT columns: better-sqlite3 returns a JS number, pg returns int8 as a string (it may exceed 2^53). They are typed
// `number | string` on read and converted with toSafeInteger(), which refuses values beyond 2^53 rather than rounding.
import type { ColumnType, Generated } from 'kysely';

export type Int8 = ColumnType<number | string, number, number>;
export type NullableInt8 = ColumnType<number | string | null, number | null, number | null>;
type AutoId = ColumnType<number | string, never, never>;
/** Cents written as bigint (both drivers bind it exactly), read like any BIGINT. */
export type Cents = ColumnType<number | string, bigint, bigint>;

export interface TenantsTable {
  id: string;
  name: string;
  tax_id: string;
  address: string | null;
  phone: string | null;
  bank_name: string | null;
  bank_account: string | null;
  region_code: string;
  channel: string;
  /** JSON array of rate strings, NULL = every rate. */
  allowed_rates: string | null;
  created_at: string;
  /** Added by 0004: monthly issuing quota in cents, NULL = unlimited. */
  monthly_quota_cents?: ColumnType<number | string | null, bigint | null, bigint | null>;
  /** Added by 0021: `SM2`, `ECDSA-P256` or `Ed25519`; NULL = the server's (config `signing.algorithm`). */
  signing_algorithm?: string | null;
}

export interface ApiKeysTable {
  tenant_id: string;
  id: string;
  prefix: string;
  key_hash: string;
  /** JSON array of scope strings. */
  scopes: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface SigningKeysTable {
  id: string;
  alg: string;
  public_key: string;
  private_key_sealed: string;
  created_at: string;
  status: string;
}

export interface NumberSeriesTable {
  series: string;
  next_seq: Int8;
}

export interface InvoicesTable {
  tenant_id: string;
  number: string;
  type: string;
  kind: string;
  /** Authoritative status; the copy inside `document` is overridden on read. */
  status: string;
  issue_date: string;
  issued_at: string;
  buyer_name: string;
  buyer_tax_id: string | null;
  total: string;
  total_cents: Int8;
  external_id: string | null;
  original_number: string | null;
  hash: string;
  key_id: string;
  /** JSON of the whole stored Invoice, key order as issued. */
  document: string;
  ledger_index: Int8;
  created_at: string;
  updated_at: string;
  /** Added by 0003: keyed blind indexes of the buyer's phone, e-mail and tax ID (NULL when absent or unprotected). */
  buyer_phone_bidx?: string | null;
  buyer_email_bidx?: string | null;
  buyer_tax_id_bidx?: string | null;
  /** Added by 0005: the data-key version of the document's envelopes; NULL = not yet protected or not yet known. */
  data_key_version?: number | null;
  /**
   * Added by 0020: the layout of the buyer's personal data in `document` (modules/invoicing/storage/invoice-protection.ts):
   * 1 = one envelope per invoice beside the masked buyer; NULL = an older layout (per-field envelopes, or plaintext).
   */
  pii_layout?: number | null;
}

export interface InvoiceLinesTable {
  tenant_id: string;
  number: string;
  line_no: number;
  kind: string;
  name: string;
  tax_code: string;
  amount: string;
  amount_cents: Int8;
  tax_rate: string;
  tax_exemption: string | null;
  tax: string;
  tax_cents: Int8;
}

export interface IdempotencyKeysTable {
  tenant_id: string;
  key: string;
  request_hash: string;
  status_code: number;
  body: string;
  invoice_number: string | null;
  created_at: string;
  /** Added by 0005: the data-key version the body is sealed under; NULL = not yet protected or not yet known. */
  data_key_version?: number | null;
}

export interface LedgerStateTable {
  id: number;
  size: Int8;
}

export interface LedgerLeavesTable {
  idx: Int8;
  tenant_id: string;
  number: string;
  leaf_hash: string;
  created_at: string;
  /** Added by 0009: the encoded leaf entry, base64; NULL for rows written before (rebuilt by the integrator). */
  entry?: string | null;
}

/** Added by 0009: C2SP tlog-tiles Merkle tiles, the widest version of each (base64 of width·32 bytes). */
export interface LedgerTilesTable {
  level: number;
  idx: Int8;
  width: number;
  data: string;
}

/** Added by 0009: entry bundles, the widest version of each (base64 of the bundle bytes). */
export interface LedgerBundlesTable {
  idx: Int8;
  width: number;
  data: string;
}

/** Added by 0009: every signed checkpoint; the newest is the integrated tree. */
export interface LedgerCheckpointsTable {
  id: AutoId;
  size: Int8;
  /** Lower-case hex root hash. */
  root_hash: string;
  /** The signed note as published. */
  note: string;
  created_at: string;
  /** 1: served; 0: integrated, waiting for the witnesses' cosignatures (migration 0014). */
  published: ColumnType<number, number | undefined, number>;
}

/** Added by 0009: the log's note keys, the secret sealed under the master key. */
export interface LedgerLogKeysTable {
  key_id: string;
  name: string;
  alg: string;
  verifier_key: string;
  private_key_sealed: string;
  created_at: string;
  status: string;
}

export interface OutboxEventsTable {
  id: AutoId;
  tenant_id: string;
  type: string;
  payload: string;
  created_at: string;
  dispatched_at: string | null;
  attempts: Generated<number>;
  /** Added by 0011: the stable event id (`evt_…`, the envelope's `id`); rows before it got `evt_<id>`. */
  event_id: string | null;
}

export interface AuditEventsTable {
  id: AutoId;
  tenant_id: string | null;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  ip: string | null;
  at: string;
  prev_hash: string | null;
  hash: string | null;
  /** Added by 0002: position in the hash chain (NOT NULL in practice; SQLite cannot declare it). */
  seq: Int8;
  /** Added by 0002: JSON text, hashed verbatim. */
  details: string | null;
  /** Added by 0018: the HTTP request's id, hashed when not null (modules/audit/domain/audit-chain.ts). */
  request_id: string | null;
}

/** One row (id 1): the audit chain's head. */
export interface AuditStateTable {
  id: number;
  head_seq: Int8;
  head_hash: string;
}

/** One row per purge: the last purged entry's seq and hash, from which verification continues. */
export interface AuditPurgesTable {
  seq: Int8;
  hash: string;
  cutoff: string;
  purged_at: string;
  count: Int8;
}

/** Added by 0003: per-tenant data keys, wrapped under the master key (platform/crypto/field-cipher.ts). */
export interface TenantDataKeysTable {
  tenant_id: string;
  version: number;
  alg: string;
  wrapped_key: string;
  created_at: string;
  /**
   * `active` (the current key: encrypts new writes), `retiring` (replaced; rows under it are being re-encrypted) or
   * `retired` (no row uses it any more; kept to open old backups, never used to encrypt).
   */
  status: string;
}

/** Added by 0005: per-tenant blind-index keys, wrapped under the master key (field-cipher.ts wrapIndexKey). */
export interface TenantIndexKeysTable {
  tenant_id: string;
  wrapped_key: string;
  created_at: string;
}

/** Added by 0004: quota used per tenant and period (`YYYY-MM`, UTC+8), in cents. */
export interface TenantQuotaUsageTable {
  tenant_id: string;
  period: string;
  used_cents: Cents;
  updated_at: string;
}

/** Added by 0007: the probe write of readiness after a write failure (storage-health.ts); empty between probes. */
export interface StorageProbeTable {
  id: AutoId;
  probed_at: string;
  payload: string;
}

/** Added by 0010: red-letter confirmation forms (modules/red-letter/storage/red-letter-repository.ts). */
export interface RedLetterFormsTable {
  id: string;
  seller_tenant_id: string;
  buyer_tenant_id: string | null;
  filer_tenant_id: string;
  filed_by: string;
  blue_number: string;
  reason: string;
  state: string;
  claims: string;
  amount: string;
  tax: string;
  total: string;
  request_key: string;
  idempotency_key: string | null;
  expires_at: string | null;
  red_number: string | null;
  created_at: string;
  updated_at: string;
}

/** Added by 0011: a tenant's webhook subscriptions (modules/delivery/). */
export interface WebhookEndpointsTable {
  tenant_id: string;
  id: string;
  url: string;
  /** JSON array of event types. */
  event_types: string;
  description: string;
  /** 1 or 0. */
  enabled: number;
  disabled_reason: string | null;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface RedLetterBluesTable {
  blue_number: string;
  seller_tenant_id: string;
  version: Int8;
  updated_at: string;
}

export interface RedLetterTransitionsTable {
  id: AutoId;
  form_id: string;
  from_state: string;
  to_state: string;
  action: string;
  actor: string;
  party: string;
  at: string;
}

/** Added by 0011: one delivery of one event to one endpoint, with its last attempt. */
export interface WebhookDeliveriesTable {
  tenant_id: string;
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  /** pending | delivered | dead */
  status: string;
  attempts: number;
  /** When the next attempt is due; while an attempt runs, the end of its lease. Null once delivered or dead. */
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  last_latency_ms: number | null;
  last_response: string | null;
  created_at: string;
  delivered_at: string | null;
}

/** Added by 0016: an upload of an ERP's invoice list and its matching (modules/reconciliation/). */
export interface ReconciliationsTable {
  id: string;
  tenant_id: string;
  status: string;
  format: string;
  period_from: string | null;
  period_to: string | null;
  rows_total: Int8;
  rows_malformed: Int8;
  progress_phase: string;
  progress_done: Int8;
  progress_total: Int8;
  /** JSON of the totals, once done. */
  totals: string | null;
  error: string | null;
  created_by: string;
  lease_until: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

/** Added by 0016: the uploaded rows as parsed; amounts in cents, or the error of a malformed line. */
export interface ReconciliationRowsTable {
  recon_id: string;
  line_no: Int8;
  external_id: string | null;
  number: string | null;
  issue_date: string | null;
  amount_cents: NullableInt8;
  tax_cents: NullableInt8;
  buyer_tax_id: string | null;
  error: string | null;
  error_field: string | null;
}

/** Added by 0016: one outcome per uploaded row and per invoice of ours missing from the upload. */
export interface ReconciliationResultsTable {
  recon_id: string;
  seq: Int8;
  line_no: NullableInt8;
  outcome: string;
  amount_differs: number;
  tax_differs: number;
  date_differs: number;
  buyer_differs: number;
  their_external_id: string | null;
  their_number: string | null;
  their_date: string | null;
  their_amount_cents: NullableInt8;
  their_tax_cents: NullableInt8;
  their_buyer_tax_id: string | null;
  our_number: string | null;
  our_external_id: string | null;
  our_date: string | null;
  our_amount_cents: NullableInt8;
  our_tax_cents: NullableInt8;
  error: string | null;
  error_field: string | null;
}

/** Added by 0012: a buyer tenant's accounting status of an invoice addressed to it (modules/received/). */
export interface ReceivedInvoicesTable {
  buyer_tenant_id: string;
  number: string;
  seller_tenant_id: string;
  /** 0 | 1: booked (入账). */
  booked: number;
  booked_at: string | null;
  /** 0 | 1: selected for deduction (用途勾选). */
  deduction_selected: number;
  deduction_selected_at: string | null;
  created_at: string;
  updated_at: string;
}

/** Added by 0013: batches of invoices to issue (modules/batches/). */
export interface InvoiceBatchesTable {
  tenant_id: string;
  id: string;
  /** accepted | completed */
  state: string;
  /** json | ndjson | csv */
  format: string;
  total: number;
  invalid: number;
  actor: string;
  ip: string | null;
  /** Added by 0018: the request that submitted the batch. */
  request_id: string | null;
  created_at: string;
  completed_at: string | null;
}

/** Added by 0013: one item of a batch. */
export interface InvoiceBatchItemsTable {
  batch_id: string;
  idx: number;
  tenant_id: string;
  line: number | null;
  external_id: string | null;
  /** pending | issued | failed | invalid */
  state: string;
  input: string | null;
  invoice_number: string | null;
  problem: string | null;
  attempts: number;
  lease_until: string | null;
  updated_at: string;
}

/** Added by 0015: one e-mail message of one invoice (modules/delivery/, docs/email.md). */
export interface EmailDeliveriesTable {
  tenant_id: string;
  id: string;
  invoice_number: string;
  /** The address given in the request, a field envelope (or plaintext without a master key); NULL: the invoice's buyer e-mail. */
  recipient_sealed: string | null;
  /** JSON array of `pdf` | `ofd` | `xml`. */
  formats: string;
  /** zh | en */
  lang: string;
  /** request | auto */
  source: string;
  /** The `invoice.email-queued` outbox event that announced the message. */
  event_id: string;
  /** For automatic sending: the `invoice.issued` event it was fanned out from (unique per tenant). */
  source_event_id: string | null;
  /** queued | failed (retried) | sent | dead */
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_reply_code: number | null;
  last_reply: string | null;
  message_id: string | null;
  created_at: string;
  sent_at: string | null;
}

/** Added by 0015: a tenant's e-mail delivery settings. */
export interface TenantEmailSettingsTable {
  tenant_id: string;
  auto_send: number;
  formats: string;
  lang: string;
  updated_at: string;
}

/** Added by 0017: a tenant's document settings (JSON text of modules/documents/domain/document-settings.ts). */
export interface TenantDocumentSettingsTable {
  tenant_id: string;
  settings: string;
  updated_at: string;
}

export interface Database {
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  signing_keys: SigningKeysTable;
  number_series: NumberSeriesTable;
  invoices: InvoicesTable;
  invoice_lines: InvoiceLinesTable;
  idempotency_keys: IdempotencyKeysTable;
  ledger_state: LedgerStateTable;
  ledger_leaves: LedgerLeavesTable;
  outbox_events: OutboxEventsTable;
  audit_events: AuditEventsTable;
  audit_state: AuditStateTable;
  audit_purges: AuditPurgesTable;
  tenant_data_keys: TenantDataKeysTable;
  tenant_index_keys: TenantIndexKeysTable;
  tenant_quota_usage: TenantQuotaUsageTable;
  storage_probe: StorageProbeTable;
  red_letter_forms: RedLetterFormsTable;
  red_letter_blues: RedLetterBluesTable;
  red_letter_transitions: RedLetterTransitionsTable;
  ledger_tiles: LedgerTilesTable;
  ledger_bundles: LedgerBundlesTable;
  ledger_checkpoints: LedgerCheckpointsTable;
  ledger_log_keys: LedgerLogKeysTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  received_invoices: ReceivedInvoicesTable;
  reconciliations: ReconciliationsTable;
  reconciliation_rows: ReconciliationRowsTable;
  reconciliation_results: ReconciliationResultsTable;
  invoice_batches: InvoiceBatchesTable;
  invoice_batch_items: InvoiceBatchItemsTable;
  email_deliveries: EmailDeliveriesTable;
  tenant_email_settings: TenantEmailSettingsTable;
  tenant_document_settings: TenantDocumentSettingsTable;
}

/** A BIGINT read from either engine as a JS number; throws instead of silently losing precision. */
export function toSafeInteger(value: number | string | bigint): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`integer out of the exact range: ${String(value)}`);
  return n;
}
