// The audit entry an AuditStamp (who, from where, for which request) stands for. Apart from the repository so that
// code which only builds entries (a CLI command's module graph, a use case's) does not load the storage layer.
import type { AuditStamp, NewAuditEntry } from './audit-contract.ts';

/** The entry an AuditStamp stands for: an administrative change with its outcome (and the request it was made for). */
export function stampEntry(stamp: AuditStamp, action: string, target: string, tenantId?: string, outcome: NewAuditEntry['outcome'] = 'success'): NewAuditEntry {
  return { ...stampFields(stamp), action, target, outcome, ...(tenantId !== undefined ? { tenantId } : {}) };
}

/** Who, from where and for which request, as the members of an entry (absent ones left out). */
export function stampFields(stamp: AuditStamp): Pick<NewAuditEntry, 'actor' | 'ip' | 'requestId'> {
  return {
    actor: stamp.actor,
    ...(stamp.ip !== undefined ? { ip: stamp.ip } : {}),
    ...(stamp.requestId !== undefined ? { requestId: stamp.requestId } : {}),
  };
}
