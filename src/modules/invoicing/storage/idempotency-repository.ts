// Idempotency records (docs/design.md §4 invariant 3): the exact response of a request with an Idempotency-Key, written in
// the issuing transaction and answered byte for byte on replay. The response carries the buyer's personal data too,
// so it is encrypted whole when field keys are configured (invoice-protection.ts).
import type { Insertable } from 'kysely';
import type { IdempotencyKeysTable } from '../../../platform/storage/database.ts';
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { DataKey } from '../../../platform/crypto/field-cipher.ts';
import type { IdempotencyRecord } from './invoice-contract.ts';
import { InvoiceProtection } from './invoice-protection.ts';
import { precompile, type Precompiled } from '../../../platform/storage/precompiled.ts';

export interface NewIdempotencyRecord {
  tenantId: string;
  key: string;
  requestHash: string;
  /** What a replay answers: the status chosen by the caller's adapter and the exact body. */
  statusCode: number;
  body: string;
  invoiceNumber: string;
}

type RecordRow = { request_hash: string; status_code: number; body: string };

export class IdempotencyRepository {
  private readonly protection: InvoiceProtection | undefined;
  /** Every issue request with an Idempotency-Key looks its key up first: compiled once (platform/storage/precompiled.ts). */
  private byKey: Precompiled<'tenantId' | 'key', RecordRow> | undefined;

  constructor(private readonly scope: Scope) {
    this.protection = scope.fields ? new InvoiceProtection(scope.fields) : undefined;
  }

  async get(tenantId: string, key: string): Promise<IdempotencyRecord | undefined> {
    const { db } = this.scope;
    this.byKey ??= precompile(db, ['tenantId', 'key'], (p) => db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'status_code', 'body'])
      .where('tenant_id', '=', p.tenantId)
      .where('key', '=', p.key));
    const [row] = await this.byKey.run({ tenantId, key });
    if (!row) return undefined;
    const body = this.protection ? await this.protection.openBody(db, tenantId, key, row.body) : row.body;
    return { requestHash: row.request_hash, statusCode: row.status_code, body };
  }

  /** The row of a record, sealed under `dataKey` when field keys are set; throws before anything is written. */
  rowFor(record: NewIdempotencyRecord, dataKey: DataKey | undefined): Insertable<IdempotencyKeysTable> {
    const sealed = this.protection && dataKey ? this.protection.sealBody(dataKey, record.tenantId, record.key, record.body) : record.body;
    return {
      tenant_id: record.tenantId,
      key: record.key,
      request_hash: record.requestHash,
      status_code: record.statusCode,
      body: sealed,
      invoice_number: record.invoiceNumber,
      created_at: stampOf(this.scope),
      data_key_version: this.protection && dataKey ? dataKey.version : null,
    };
  }

  async insert(rows: readonly Insertable<IdempotencyKeysTable>[]): Promise<void> {
    stampOf(this.scope);
    for (let i = 0; i < rows.length; i += 500) {
      await this.scope.db.insertInto('idempotency_keys').values(rows.slice(i, i + 500)).execute();
    }
  }
}
