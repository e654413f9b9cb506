// What the batch use cases need of a unit of work, and of the issuing transaction's (the hook that marks an item runs
// inside it: commit-issue-batch.ts, PendingIssue.within).
import type { AuditRepository } from '../../audit/index.ts';
import type { OutboxRepository } from '../../events/index.ts';
import type { InvoiceRepository, IssueTx } from '../../invoicing/index.ts';
import type { TenantRepository } from '../../tenants/index.ts';
import type { BatchRepository } from '../storage/batch-repository.ts';

export interface BatchTx {
  invoiceBatches: BatchRepository;
  invoices: InvoiceRepository;
  tenants: TenantRepository;
  outbox: OutboxRepository;
  audit: AuditRepository;
}

/** The issuing transaction's repositories are the whole bundle (src/repositories.ts), batches included. */
export function asBatchTx(tx: IssueTx): IssueTx & Pick<BatchTx, 'invoiceBatches'> {
  const withBatches = tx as IssueTx & Partial<Pick<BatchTx, 'invoiceBatches'>>;
  if (!withBatches.invoiceBatches) throw new Error('the issuing unit of work has no batch repository (src/repositories.ts)');
  return withBatches as IssueTx & Pick<BatchTx, 'invoiceBatches'>;
}
