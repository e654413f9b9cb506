// Who the buyer of an invoice is on this server: the tenant, other than the seller, whose tax ID is the invoice's
// buyer tax ID; the earliest created if several share it. The one rule behind received invoices
// (modules/received/), the counterparty of red-letter forms (modules/red-letter/) and the buyer's events of issuing
// (modules/invoicing/app/commit-issue-batch.ts).

/** A tenant as the rule sees it. */
export interface TaxIdHolder {
  id: string;
  taxId: string;
  createdAt: string;
}

/** Orders holders of one tax ID as the rule ranks them: earliest created first, then by id. */
export function byCreation(a: TaxIdHolder, b: TaxIdHolder): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The buyer tenant among the holders of the buyer's tax ID (any order) for an invoice of `sellerId`. */
export function buyerTenantAmong(holders: readonly TaxIdHolder[], sellerId: string): string | undefined {
  return [...holders].sort(byCreation).find((h) => h.id !== sellerId)?.id;
}

/**
 * Whose invoices `tenantId` receives, given every holder of its tax ID: of every seller but itself when it is the
 * earliest holder; of the earliest holder only when it is the second (that seller's buyer skips the seller itself);
 * of nobody otherwise.
 */
export function receivesFrom(holders: readonly TaxIdHolder[], tenantId: string): { allSellersExcept: string } | { onlySeller: string } | undefined {
  const sorted = [...holders].sort(byCreation);
  const i = sorted.findIndex((h) => h.id === tenantId);
  if (i === 0) return { allSellersExcept: tenantId };
  if (i === 1) return { onlySeller: sorted[0]!.id };
  return undefined;
}
