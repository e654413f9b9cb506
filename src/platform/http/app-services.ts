import type { InvoiceService } from '../../modules/invoicing/app/invoice-service.ts';
import type { KeyService } from '../../modules/keys/app/key-service.ts';
import type { TenantService } from '../../modules/tenants/app/tenant-service.ts';
import type { VerifyService } from '../../modules/verification/app/verify-service.ts';
import type { EventStreamService } from '../../modules/events/app/event-stream.ts';
import type { Metrics } from './metrics.ts';
import type { AuditService } from '../../modules/audit/app/audit-service.ts';
import type { AuthFailureAudit } from '../../modules/audit/app/auth-failure-audit.ts';
import type { BanService } from '../../modules/abuse/app/ban-service.ts';
import type { RateLimiter } from '../../modules/abuse/app/rate-limiter.ts';
import type { ClientIpResolver } from '../../modules/abuse/http/client-ip.ts';
import type { AbusePolicy } from '../../modules/abuse/http/abuse-control.ts';
import type { DataKeyService } from '../../modules/keys/app/data-key-service.ts';

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
