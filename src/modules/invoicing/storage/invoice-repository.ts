import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../../platform/storage/database.ts';
import { toSafeInteger } from '../../../platform/storage/database.ts';
import type { Invoice } from '../domain/invoice.ts';
import type { CommitIssueResult, InvoicePage, InvoiceQuery, InvoiceRepository, IssueBatch, StoredInvoiceRef } from '../../../platform/storage/storage.ts';
import type { EngineTraits } from '../../../platform/storage/engine-traits.ts';
import type { FieldProtector } from '../../../platform/storage/field-protector.ts';
import { DOCUMENT_COLUMNS, readDocumentRow } from './invoice-rows.ts';
import { commitIssueBatch } from './issue-batch.ts';
import { searchInvoices } from './invoice-search.ts';
import { precompile } from './precompiled.ts';

export class KyselyInvoiceRepository implements InvoiceRepository {
  /** GET /v1/invoices/{number} and 查验 are the hottest reads: their lookups are compiled once (precompiled.ts). */
  private readonly byNumber;
  private readonly forVerification;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly traits: EngineTraits,
    private readonly protector?: FieldProtector,
  ) {
    this.byNumber = precompile(db, ['tenantId', 'number'], (p) =>
      db.selectFrom('invoices').select(DOCUMENT_COLUMNS).where('tenant_id', '=', p.tenantId).where('number', '=', p.number));
    this.forVerification = precompile(db, ['number'], (p) =>
      db.selectFrom('invoices').select([...DOCUMENT_COLUMNS, 'tenant_id', 'issue_date', 'total']).where('number', '=', p.number));
  }

  async nextSeq(series: string): Promise<number> {
    const row = await this.db.selectFrom('number_series').select('next_seq').where('series', '=', series).executeTakeFirst();
    return row ? toSafeInteger(row.next_seq) : 1;
  }

  commitIssueBatch(batch: IssueBatch): Promise<CommitIssueResult> {
    return commitIssueBatch(this.db, this.traits, batch, this.protector);
  }

  async get(tenantId: string, number: string): Promise<Invoice | undefined> {
    const [row] = await this.byNumber.run({ tenantId, number });
    return row && readDocumentRow(this.db, this.protector, tenantId, row);
  }

  async findByExternalId(tenantId: string, externalId: string): Promise<Invoice | undefined> {
    const row = await this.db
      .selectFrom('invoices')
      .select(DOCUMENT_COLUMNS)
      .where('tenant_id', '=', tenantId)
      .where('external_id', '=', externalId)
      .executeTakeFirst();
    return row && readDocumentRow(this.db, this.protector, tenantId, row);
  }

  async findForVerification(number: string): Promise<Invoice | undefined> {
    const [row] = await this.forVerification.run({ number });
    return row && readDocumentRow(this.db, this.protector, row.tenant_id, row);
  }

  async findStoredForVerification(number: string): Promise<StoredInvoiceRef | undefined> {
    const [row] = await this.forVerification.run({ number });
    if (!row) return undefined;
    const digest = createHash('sha256')
      .update(row.document)
      .update(`\u0000${row.status}\u0000${String(row.ledger_index)}`)
      .digest('base64');
    return {
      number,
      tenantId: row.tenant_id,
      issueDate: row.issue_date,
      total: row.total,
      digest,
      open: () => readDocumentRow(this.db, this.protector, row.tenant_id, row),
    };
  }

  search(tenantId: string, query: InvoiceQuery): Promise<InvoicePage> {
    return searchInvoices(this.db, tenantId, query, this.protector);
  }
}
