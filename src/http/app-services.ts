import type { InvoiceService } from '../services/invoice-service.ts';
import type { KeyService } from '../services/key-service.ts';
import type { TenantService } from '../services/tenant-service.ts';
import type { VerifyService } from '../services/verify-service.ts';
import type { EventStreamService } from '../services/event-stream.ts';
import type { Metrics } from './metrics.ts';
import type { AuditService } from '../services/audit-service.ts';
import type { AuthFailureAudit } from '../services/auth-failure-audit.ts';
import type { BanService } from '../services/ban-service.ts';
import type { RateLimiter } from '../services/rate-limiter.ts';
import type { ClientIpResolver } from './plugins/client-ip.ts';
import type { AbusePolicy } from './plugins/abuse-control.ts';
import type { DataKeyService } from '../services/data-key-service.ts';

/** The services the HTTP adapters call; built once by app.ts. */
export interface AppServices {
  tenants: TenantService;
  invoices: InvoiceService;
  verify: VerifyService;
  keys: KeyService;
  /** Readiness: resolves when the database answers. */
  ready: () => Promise<void>;
  metrics: Metrics;
  audit: AuditService;
  /** One batched audit entry per failed authentication, on every listener. */
  authFailures: AuthFailureAudit;
  bans: BanService;
  /** The live event stream's poller and subscribers (one per process, shared by every listener serving `push`). */
  events: EventStreamService;
  /** Shared by every listener so a ban or budget is one, whichever port is hit. */
  abuse: { limiter: RateLimiter; clientIp: ClientIpResolver; policy: AbusePolicy };
  /** Data-key and master-key rotation of personal data at rest (admin routes `…/data-keys`). */
  dataKeys?: DataKeyService;
}
