import type { InvoiceService } from '../services/invoice-service.ts';
import type { KeyService } from '../services/key-service.ts';
import type { TenantService } from '../services/tenant-service.ts';
import type { VerifyService } from '../services/verify-service.ts';
import type { Metrics } from './metrics.ts';

/** The services the HTTP adapters call; built once by app.ts. */
export interface AppServices {
  tenants: TenantService;
  invoices: InvoiceService;
  verify: VerifyService;
  keys: KeyService;
  /** Readiness: resolves when the database answers. */
  ready: () => Promise<void>;
  metrics: Metrics;
}
