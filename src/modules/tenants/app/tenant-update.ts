// Validating a tenant update and showing a tenant with its issuing quota, for TenantService (admin API and CLI).
import { AppError } from '../../../shared/errors.ts';
import { isRegionCode } from '../../invoicing/index.ts';
import { checkText } from '../../../shared/text-rules.ts';
import { centsToMoney, remainingCents } from '../../invoicing/index.ts';
import { formatMoney, parseMoney, toCents } from '../../../shared/money.ts';
import type { Tenant, TenantPatch } from '../storage/tenant-contract.ts';
import { isSigningAlgorithm, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../../shared/signing.ts';

/**
 * What an update may change: the storage patch, validated here first (`null` clears; quota null = unlimited,
 * signing algorithm null = the server's).
 */
export type UpdateTenantInput = Omit<TenantPatch, 'signingAlgorithm'> & { signingAlgorithm?: string | null };

/** A tenant as the admin API and CLI show it: the quota spelled out, this month's usage, the signing algorithm. */
export interface TenantView extends Omit<Tenant, 'monthlyQuota' | 'signingAlgorithm'> {
  /** null = unlimited. */
  monthlyQuota: string | null;
  /** null = the server's (config `signing.algorithm`). */
  signingAlgorithm: SigningAlgorithm | null;
  quotaUsage: {
    /** `YYYY-MM`, the current natural month in UTC+8. */
    period: string;
    used: string;
    /** null = unlimited; never below "0.00" (a quota lowered below usage leaves nothing). */
    remaining: string | null;
  };
}

const TEXT_LIMITS = { address: 200, phone: 40, bankName: 100, bankAccount: 50 } as const;

/** Checks an update and normalises it (quota as "1000.00"); throws the first field at fault. Changes nothing. */
export function parseTenantUpdate(input: UpdateTenantInput): TenantPatch {
  const patch: TenantPatch = {};
  if (input.name !== undefined) {
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (!name || name.length > 100) throw new AppError('VALIDATION_FAILED', { field: '/name', detail: 'name is required (at most 100 characters)' });
    checkText(name, '/name');
    patch.name = name;
  }
  if (input.regionCode !== undefined) {
    if (!isRegionCode(input.regionCode)) throw new AppError('REGION_CODE_INVALID', { field: '/regionCode' });
    patch.regionCode = input.regionCode;
  }
  for (const field of Object.keys(TEXT_LIMITS) as (keyof typeof TEXT_LIMITS)[]) {
    const value = input[field];
    if (value === undefined) continue;
    if (value !== null && (typeof value !== 'string' || value.trim() === '' || value.length > TEXT_LIMITS[field])) {
      throw new AppError('VALIDATION_FAILED', { field: `/${field}`, detail: `${field} is 1 to ${TEXT_LIMITS[field]} characters, or null to clear it` });
    }
    if (value !== null) checkText(value, `/${field}`);
    patch[field] = value;
  }
  if (input.monthlyQuota !== undefined) {
    // Zero is a quota too: it stops issuing until raised.
    patch.monthlyQuota = input.monthlyQuota === null ? null : formatMoney(parseMoney(input.monthlyQuota, '/monthlyQuota'));
  }
  if (input.signingAlgorithm !== undefined) patch.signingAlgorithm = input.signingAlgorithm === null ? null : parseSigningAlgorithm(input.signingAlgorithm);
  if (Object.keys(patch).length === 0) {
    throw new AppError('VALIDATION_FAILED', { field: '/', detail: 'name at least one field to change' });
  }
  return patch;
}

/** The tenant with its quota and the usage of `period` (cents from storage, shown as decimal strings). */
export function toTenantView(tenant: Tenant, period: string, usedCents: bigint): TenantView {
  const { monthlyQuota, signingAlgorithm, ...rest } = tenant;
  const quotaCents = monthlyQuota === undefined ? null : toCents(monthlyQuota);
  const remaining = remainingCents({ quotaCents, usedCents });
  return {
    ...rest,
    monthlyQuota: monthlyQuota ?? null,
    signingAlgorithm: signingAlgorithm ?? null,
    quotaUsage: { period, used: centsToMoney(usedCents), remaining: remaining === null ? null : centsToMoney(remaining) },
  };
}

/**
 * The fields of `patch` that differ from `current`, in the order they are reported, and the patch of just those.
 * Amounts compare by value: "1000" is no change from a stored "1000.00".
 */
export function changedFields(current: Tenant, patch: TenantPatch): { changed: (keyof TenantPatch)[]; set: TenantPatch } {
  const changed: (keyof TenantPatch)[] = [];
  const set: TenantPatch = {};
  for (const field of PATCH_ORDER) {
    const raw = patch[field];
    if (raw === undefined) continue;
    const value = field === 'monthlyQuota' && raw !== null ? centsToMoney(toCents(raw, '/monthlyQuota')) : raw;
    if ((value ?? undefined) === current[field]) continue;
    changed.push(field);
    (set as Record<string, string | null>)[field] = value;
  }
  return { changed, set };
}

/** The order changes are reported in. */
const PATCH_ORDER = ['name', 'regionCode', 'address', 'phone', 'bankName', 'bankAccount', 'monthlyQuota', 'signingAlgorithm'] as const satisfies readonly (keyof TenantPatch)[];

/** A tenant's signing algorithm, or VALIDATION_FAILED at `/signingAlgorithm` naming the ones there are. */
export function parseSigningAlgorithm(value: unknown): SigningAlgorithm {
  if (isSigningAlgorithm(value)) return value;
  throw new AppError('VALIDATION_FAILED', { field: '/signingAlgorithm', detail: `signingAlgorithm is one of ${SIGNING_ALGORITHMS.join(', ')}, or null for the server's` });
}
