// Who the audit log names for a change made from the command line: `cli:<os user>`.
import { userInfo } from 'node:os';
import type { AuditStamp } from '../modules/audit/storage/audit-contract.ts';

export function cliActor(): AuditStamp {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers)
  }
  return { actor: `cli:${user}` };
}
