// This process's view of each tenant's issuing quota (授信额度) and its usage in the current month, so that the issue
// writer can drop a request that would exceed the quota *before* numbers are given out, without a database round trip
// per request. The view is only a prediction: the exact check is the guarded usage upsert in the issuing transaction
// (modules/invoicing/storage/quota-usage.ts), shared by every node. When that guard fails the writer forgets the tenant,
// and the next admission reloads it.
//
// Staleness either way is handled: a view that allows too much is caught by the guard; a view that allows too little
// (the quota was raised by another node or the CLI) is reloaded before any request is refused, so a refusal is always
// decided on what the database holds. Changes through this process's admin API forget the tenant at once.
import { AppError } from '../../../shared/errors.ts';
import { centsToMoney, fitsQuota, quotaCharge, remainingCents, type QuotaState } from '../domain/issuing-quota.ts';
import type { QuotaUsed, TenantQuotaUsage } from '../storage/invoice-contract.ts';

export interface QuotaSource {
  quotaUsage(tenantId: string, period: string): Promise<TenantQuotaUsage | undefined>;
}

interface View {
  period: string;
  state: QuotaState;
}

/** Enough for every tenant of a large deployment; beyond it the views are dropped and reloaded on use. */
const MAX_VIEWS = 100_000;

export interface QuotaClaim {
  tenantId: string;
  /** The invoice's total amount excluding VAT (`totals.amount`), a decimal string. */
  amount: string;
}

export class QuotaView {
  private readonly views = new Map<string, View>();

  constructor(private readonly source: QuotaSource) {}

  /** Drops what this process believes about the tenant; the next admission reads the database. */
  forget(tenantId: string): void {
    this.views.delete(tenantId);
  }

  /**
   * Decides each claim in order against the quota of `period`, counting the claims admitted before it: undefined =
   * admitted, else the QUOTA_EXCEEDED error to answer. A claim is refused only after a fresh read of the tenant.
   */
  async admit(claims: readonly QuotaClaim[], period: string): Promise<(AppError | undefined)[]> {
    const pending = new Map<string, bigint>();
    const fresh = new Set<string>();
    const out: (AppError | undefined)[] = [];
    for (const claim of claims) {
      const charge = quotaCharge(claim.amount);
      const before = pending.get(claim.tenantId) ?? 0n;
      let view = this.views.get(claim.tenantId);
      if (view === undefined || view.period !== period) {
        view = await this.load(claim.tenantId, period);
        fresh.add(claim.tenantId);
      }
      if (!fitsQuota(view.state, before, charge) && !fresh.has(claim.tenantId)) {
        view = await this.load(claim.tenantId, period);
        fresh.add(claim.tenantId);
      }
      if (fitsQuota(view.state, before, charge)) {
        pending.set(claim.tenantId, before + charge);
        out.push(undefined);
      } else {
        out.push(quotaExceeded(period, view.state, before, charge));
      }
    }
    return out;
  }

  /** After a commit: the usage the database answered (every node's invoices included) replaces the prediction. */
  committed(usage: readonly QuotaUsed[]): void {
    for (const u of usage) {
      const view = this.views.get(u.tenantId);
      if (view !== undefined && view.period === u.period) view.state = { ...view.state, usedCents: u.usedCents };
    }
  }

  private async load(tenantId: string, period: string): Promise<View> {
    // A tenant that is gone has no quota to enforce here; issuing for it fails elsewhere.
    const state = (await this.source.quotaUsage(tenantId, period)) ?? { quotaCents: null, usedCents: 0n };
    const view = { period, state };
    if (this.views.size >= MAX_VIEWS) this.views.clear();
    this.views.set(tenantId, view);
    return view;
  }
}

function quotaExceeded(period: string, state: QuotaState, pendingCents: bigint, chargeCents: bigint): AppError {
  const left = remainingCents({ quotaCents: state.quotaCents, usedCents: state.usedCents + pendingCents }) ?? 0n;
  const quota = centsToMoney(state.quotaCents ?? 0n);
  const remaining = centsToMoney(left);
  return new AppError('QUOTA_EXCEEDED', {
    detail: `the amount excluding VAT ${centsToMoney(chargeCents)} exceeds what is left of the ${period} quota: ${remaining} of ${quota}`,
    field: '/lines',
    extensions: { period, quota, remaining },
  });
}
