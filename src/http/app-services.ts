import type { InvoiceService } from '../services/invoice-service.ts';
import type { KeyService } from '../services/key-service.ts';
import type { TenantService } from '../services/tenant-service.ts';
import type { VerifyService } from '../services/verify-service.ts';
import type { Metrics } from './metrics.ts';
import type { AuditService } from '../services/audit-service.ts';
import type { BanService } from '../services/ban-service.ts';
import type { RateLimiter } from '../services/rate-limiter.ts';
import type { ClientIpResolver } from './plugins/client-ip.ts';
import type { AbusePolicy } from './plugins/abuse-control.ts';

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
  bans: BanService;
  /** Shared by every listener so a ban or budget is one, whichever port is hit. */
  abuse: { limiter: RateLimiter; clientIp: ClientIpResolver; policy: AbusePolicy };
}
