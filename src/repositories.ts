// Every table-level repository of every module, made for one scope (a unit of work's transaction, or the pool for
// reads): the composition of the storage each module owns. Use cases declare the part they need (e.g. IssueTx in
// modules/invoicing/app/commit-issue-batch.ts); a UnitOfWork over this bundle satisfies all of them.
import type { StorageEngine } from './platform/storage/storage-engine.ts';
import { UnitOfWork, type Scope } from './platform/storage/unit-of-work.ts';
import { AuditRepository } from './modules/audit/storage/audit-repository.ts';
import { OutboxRepository } from './modules/events/storage/outbox-repository.ts';
import { IdempotencyRepository } from './modules/invoicing/storage/idempotency-repository.ts';
import { InvoiceRepository } from './modules/invoicing/storage/invoice-repository.ts';
import { QuotaUsageRepository } from './modules/invoicing/storage/quota-usage-repository.ts';
import { ReencryptRepository } from './modules/invoicing/storage/reencrypt-repository.ts';
import { SeriesRepository } from './modules/invoicing/storage/series-repository.ts';
import { DataKeyRepository } from './modules/keys/storage/data-key-repository.ts';
import { SigningKeyRepository } from './modules/keys/storage/signing-key-repository.ts';
import { LedgerRepository } from './modules/ledger/storage/ledger-repository.ts';
import { ApiKeyRepository } from './modules/tenants/storage/api-key-repository.ts';
import { TenantRepository } from './modules/tenants/storage/tenant-repository.ts';
import { RedLetterRepository } from './modules/red-letter/storage/red-letter-repository.ts';
import { WebhookDeliveryRepository } from './modules/delivery/storage/webhook-delivery-repository.ts';
import { WebhookEndpointRepository } from './modules/delivery/storage/webhook-endpoint-repository.ts';
import { ReconciliationRepository } from './modules/reconciliation/storage/reconciliation-repository.ts';
import { StatementRepository } from './modules/reconciliation/storage/statement-repository.ts';
import { ReceivedRepository } from './modules/received/storage/received-repository.ts';
import { BatchRepository } from './modules/batches/storage/batch-repository.ts';
import { EmailDeliveryRepository } from './modules/delivery/storage/email-delivery-repository.ts';
import { EmailSettingsRepository } from './modules/delivery/storage/email-settings-repository.ts';
import { DocumentSettingsRepository } from './modules/documents/storage/document-settings-repository.ts';

export function repositories(scope: Scope) {
  return {
    series: new SeriesRepository(scope),
    quotaUsage: new QuotaUsageRepository(scope),
    invoices: new InvoiceRepository(scope),
    idempotency: new IdempotencyRepository(scope),
    reencrypt: new ReencryptRepository(scope),
    ledger: new LedgerRepository(scope),
    outbox: new OutboxRepository(scope),
    audit: new AuditRepository(scope),
    tenants: new TenantRepository(scope),
    apiKeys: new ApiKeyRepository(scope),
    signingKeys: new SigningKeyRepository(scope),
    dataKeys: new DataKeyRepository(scope),
    redLetter: new RedLetterRepository(scope),
    webhookEndpoints: new WebhookEndpointRepository(scope),
    webhookDeliveries: new WebhookDeliveryRepository(scope),
    statements: new StatementRepository(scope),
    reconciliations: new ReconciliationRepository(scope),
    received: new ReceivedRepository(scope),
    invoiceBatches: new BatchRepository(scope),
    emailDeliveries: new EmailDeliveryRepository(scope),
    emailSettings: new EmailSettingsRepository(scope),
    documentSettings: new DocumentSettingsRepository(scope),
  };
}

export type Repositories = ReturnType<typeof repositories>;

export function unitOfWork(storage: StorageEngine): UnitOfWork<Repositories> {
  return new UnitOfWork(storage, repositories);
}
