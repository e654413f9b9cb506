// Unit-of-work fixtures for the storage suites that go through use cases (audit chain, outbox, key rotation, field
// protection): a settable clock, one "node" (a StorageEngine with its UnitOfWork), tenant rows inserted as fixtures,
// and the key and audit use cases wired the way the composition root wires them (src/container.ts).
import type { StorageEngine } from '../../src/platform/storage/storage-engine.ts';
import type { UnitOfWork } from '../../src/platform/storage/unit-of-work.ts';
import { unitOfWork, type Repositories } from '../../src/repositories.ts';
import type { Clock } from '../../src/shared/clock.ts';
import { AuditService } from '../../src/modules/audit/app/audit-service.ts';
import { DataKeyService } from '../../src/modules/keys/app/data-key-service.ts';
import type { DataKeyAlgorithm } from '../../src/modules/keys/storage/data-keys.ts';
import type { Tenant } from '../../src/modules/tenants/storage/tenant-contract.ts';
import type { PendingIssue } from '../../src/modules/invoicing/app/commit-issue-batch.ts';
import type { Party } from '../../src/shared/invoice.ts';
import { invoiceJsonWithoutLedger } from '../../src/modules/invoicing/domain/invoice-json.ts';

/** A clock that stands still until told otherwise: every unit of work of a test is stamped with a known time. */
export class TestClock implements Clock {
  private t: number;

  constructor(start: Date | string) {
    this.t = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  set(at: Date | string): void {
    this.t = new Date(at).getTime();
  }

  advance(ms: number): Date {
    this.t += ms;
    return this.now();
  }
}

/**
 * Adds fields to an item's buyer and renders its JSON again: makePending renders `json` (the answer, stored as the
 * idempotent response) when the item is made, so an invoice changed afterwards would be stored with a stale answer.
 */
export function setBuyer(item: PendingIssue, fields: Partial<Party>): PendingIssue {
  Object.assign(item.invoice.buyer, fields);
  item.json = invoiceJsonWithoutLedger(item.invoice);
  return item;
}

/** One process's view of the database: the engine and the unit of work over it. */
export interface UowNode {
  storage: StorageEngine;
  uow: UnitOfWork<Repositories>;
}

export function uowNode(storage: StorageEngine): UowNode {
  return { storage, uow: unitOfWork(storage) };
}

/** A tenant row as a fixture (no audit entry: that is TenantService's, tested through it), at time `at`. */
export function insertTenant(
  uow: UnitOfWork<Repositories>,
  at: Date,
  tenant: { id: string; name?: string; taxId: string; regionCode: string; channel?: string },
): Promise<Tenant> {
  return uow.run(at, (tx) => tx.tenants.insert({ name: tenant.id, channel: '0', ...tenant }));
}

/** The key-rotation use cases of one node, as buildContainer makes them (a rotation here refreshes its field keys). */
export function dataKeyService(node: UowNode, clock: Clock, defaultAlgorithm: DataKeyAlgorithm = node.storage.fields?.alg ?? 'aes-256-gcm'): DataKeyService {
  const { storage, uow } = node;
  return new DataKeyService({
    uow, clock, protection: storage.fields !== undefined, defaultAlgorithm,
    onTenantKeysChanged: (tenantId) => storage.fields?.forget(tenantId),
  });
}

/** The audit use cases of one node, as buildContainer makes them. */
export function auditService(node: UowNode, clock: Clock, retentionDays?: number): AuditService {
  return new AuditService({ uow: node.uow, clock, ...(retentionDays !== undefined ? { retentionDays } : {}) });
}
