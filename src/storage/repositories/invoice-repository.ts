import type { Kysely } from 'kysely';
import type { Database } from '../database.ts';
import { toSafeInteger } from '../database.ts';
import type { Invoice } from '../../domain/invoice.ts';
import type { CommitIssueResult, InvoicePage, InvoiceQuery, InvoiceRepository, IssueBatch } from '../storage.ts';
import type { EngineTraits } from './engine-traits.ts';
import type { FieldProtector } from '../field-protector.ts';
import { DOCUMENT_COLUMNS, readDocumentRow } from './invoice-rows.ts';
import { commitIssueBatch } from './issue-batch.ts';
import { searchInvoices } from './invoice-search.ts';

export class KyselyInvoiceRepository implements InvoiceRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly traits: EngineTraits,
    private readonly protector?: FieldProtector,
  ) {}

  async nextSeq(series: string): Promise<number> {
    const row = await this.db.selectFrom('number_series').select('next_seq').where('series', '=', series).executeTakeFirst();
    return row ? toSafeInteger(row.next_seq) : 1;
  }

  commitIssueBatch(batch: IssueBatch): Promise<CommitIssueResult> {
    return commitIssueBatch(this.db, this.traits, batch, this.protector);
  }

  async get(tenantId: string, number: string): Promise<Invoice | undefined> {
    const row = await this.db
      .selectFrom('invoices')
      .select(DOCUMENT_COLUMNS)
      .where('tenant_id', '=', tenantId)
      .where('number', '=', number)
      .executeTakeFirst();
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
    const row = await this.db
      .selectFrom('invoices')
      .select([...DOCUMENT_COLUMNS, 'tenant_id'])
      .where('number', '=', number)
      .executeTakeFirst();
    return row && readDocumentRow(this.db, this.protector, row.tenant_id, row);
  }

  search(tenantId: string, query: InvoiceQuery): Promise<InvoicePage> {
    return searchInvoices(this.db, tenantId, query, this.protector);
  }
}
