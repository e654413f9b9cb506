// The 20-digit 数电票 number (docs/invoice-rules.md, "Invoice number"): positions 1–2 the last two digits of the year of
// issue, 3–4 the provincial tax-bureau region code, 5 the issuing channel, 6–20 a 15-digit sequence. A series is
// (year, region, channel); within it numbers are unique and consecutive (docs/design.md §4, invariant 2).
import { AppError } from '../../../shared/errors.ts';

export const MAX_SEQ = 999_999_999_999_999;
const NUMBER_PATTERN = /^\d{20}$/;

export interface InvoiceNumberParts {
  /** Full calendar year, 2000–2099. */
  year: number;
  /** Two-digit region code, e.g. "31" (Shanghai). */
  regionCode: string;
  /** Issuing channel, 0–9. */
  channel: number;
  /** 1 … MAX_SEQ. */
  seq: number;
}

function yy(year: number): string {
  if (!Number.isInteger(year) || year < 2000 || year > 2099) throw new RangeError(`year ${year} is outside 2000–2099`);
  return String(year - 2000).padStart(2, '0');
}

/** A region code the numbers accept: two digits (positions 3–4 of the number). */
export function isRegionCode(regionCode: unknown): regionCode is string {
  return typeof regionCode === 'string' && /^\d{2}$/.test(regionCode);
}

function checkRegion(regionCode: string): string {
  if (!isRegionCode(regionCode)) {
    throw new AppError('REGION_CODE_INVALID', { detail: `The region code must be two digits` });
  }
  return regionCode;
}

function checkChannel(channel: number): string {
  if (!Number.isInteger(channel) || channel < 0 || channel > 9) throw new RangeError(`channel ${channel} is not 0–9`);
  return String(channel);
}

/** The series key `YYRRC`: the first five digits every number of the series shares. */
export function seriesKey(year: number, regionCode: string, channel: number): string {
  return yy(year) + checkRegion(regionCode) + checkChannel(channel);
}

/**
 * Formats a number. A sequence beyond MAX_SEQ means the series is used up (NUMBER_SERIES_EXHAUSTED); a sequence
 * below 1 or not an integer is a programming error (RangeError).
 */
export function formatInvoiceNumber(parts: InvoiceNumberParts): string {
  const key = seriesKey(parts.year, parts.regionCode, parts.channel);
  if (!Number.isSafeInteger(parts.seq) || parts.seq < 1) throw new RangeError(`sequence ${parts.seq} is not a positive integer`);
  if (parts.seq > MAX_SEQ) {
    throw new AppError('NUMBER_SERIES_EXHAUSTED', { detail: `The series ${key} has no numbers left` });
  }
  return key + String(parts.seq).padStart(15, '0');
}

/** Exactly 20 digits with a non-zero sequence. */
export function isInvoiceNumber(s: unknown): s is string {
  return typeof s === 'string' && NUMBER_PATTERN.test(s) && !/^0+$/.test(s.slice(5));
}

/** Splits a number into its parts, or throws VALIDATION_FAILED (field `field`, default `/number`). */
export function parseInvoiceNumber(s: string, field = '/number'): InvoiceNumberParts {
  if (!isInvoiceNumber(s)) {
    throw new AppError('VALIDATION_FAILED', { field, detail: 'An invoice number is 20 digits' });
  }
  return {
    year: 2000 + Number(s.slice(0, 2)),
    regionCode: s.slice(2, 4),
    channel: Number(s.slice(4, 5)),
    seq: Number(s.slice(5)),
  };
}
