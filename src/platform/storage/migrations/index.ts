// The ordered list of migrations. Append only: names sort in the order they run.
import type { Migration } from 'kysely';
import type { Engine } from '../storage-engine.ts';
import { createCoreTables } from './0001-create-core-tables.ts';
import { chainAuditEvents } from './0002-chain-audit-events.ts';
import { tenantDataKeys } from './0003-tenant-data-keys.ts';
import { tenantQuota } from './0004-tenant-quota.ts';
import { dataKeyVersions } from './0005-data-key-versions.ts';
import { outboxTenantIndex } from './0006-outbox-tenant-index.ts';
import { storageProbe } from './0007-storage-probe.ts';
import { ledgerTree } from './0009-ledger-tree.ts';
import { redLetterForms } from './0010-red-letter-forms.ts';
import { webhookDelivery } from './0011-webhook-delivery.ts';
import { receivedInvoices } from './0012-received-invoices.ts';
import { invoiceBatches } from './0013-invoice-batches.ts';
import { ledgerWitnessedCheckpoints } from './0014-ledger-witnessed-checkpoints.ts';
import { emailDelivery } from './0015-email-delivery.ts';
import { reconciliations } from './0016-reconciliations.ts';
import { documentSettings } from './0017-document-settings.ts';
import { auditRequestId } from './0018-audit-request-id.ts';
import { buyerSearchIndexes } from './0019-buyer-search-indexes.ts';
import { buyerEnvelopeLayout } from './0020-buyer-envelope-layout.ts';
import { tenantSigningAlgorithm } from './0021-tenant-signing-algorithm.ts';

export function migrationsFor(engine: Engine): Record<string, Migration> {
  return {
    '0001-create-core-tables': createCoreTables(engine),
    '0002-chain-audit-events': chainAuditEvents(engine),
    '0003-tenant-data-keys': tenantDataKeys(),
    '0004-tenant-quota': tenantQuota(),
    '0005-data-key-versions': dataKeyVersions(),
    '0006-outbox-tenant-index': outboxTenantIndex(),
    '0007-storage-probe': storageProbe(engine),
    '0009-ledger-tree': ledgerTree(engine),
    '0010-red-letter-forms': redLetterForms(engine),
    '0011-webhook-delivery': webhookDelivery(),
    '0012-received-invoices': receivedInvoices(),
    '0013-invoice-batches': invoiceBatches(),
    '0014-ledger-witnessed-checkpoints': ledgerWitnessedCheckpoints(),
    '0015-email-delivery': emailDelivery(),
    '0016-reconciliations': reconciliations(),
    '0017-document-settings': documentSettings(),
    '0018-audit-request-id': auditRequestId(),
    '0019-buyer-search-indexes': buyerSearchIndexes(),
    '0020-buyer-envelope-layout': buyerEnvelopeLayout(),
    '0021-tenant-signing-algorithm': tenantSigningAlgorithm(),
  };
}
