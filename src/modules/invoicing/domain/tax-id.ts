// Tax IDs of invoice parties (docs/invoice-rules.md, "Parties"):
// - 统一社会信用代码 (unified social credit code, USCC), GB 32100-2015: 18 characters from a 31-character alphabet
//   (digits and capitals without I, O, S, V, Z); characters 3–8 are the GB/T 2260 region code (digits); character 18
//   is the check character (31 − Σ vᵢ·wᵢ mod 31) mod 31. Some early pilot-region codes are legal yet fail the
//   checksum, so a deployment lists them as exceptions (test/vectors/uscc.json, legalButFailsChecksum).
// - 居民身份证号码 (ID-card number), GB 11643-1999: 6-digit region, 8-digit birth date, 3-digit sequence, check
//   character by ISO 7064 MOD 11-2 (0–9 or X). Personal data: callers must mask it when shown (masking.ts).
import { AppError } from '../../../shared/errors.ts';

const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28] as const;
/** Shape only: alphabet everywhere, region code (characters 3–8) in digits. */
const USCC_SHAPE = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const ID_CHECK = '10X98765432';
const ID_SHAPE = /^[1-9]\d{16}[\dX]$/;

export type TaxIdKind = 'uscc' | 'id-card';

/** The USCC check character for the first 17 characters (GB 32100-2015 §4.3). */
export function usccCheckChar(first17: string): string {
  if (first17.length !== 17) throw new AppError('TAX_ID_INVALID', { detail: 'usccCheckChar needs 17 characters' });
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = USCC_ALPHABET.indexOf(first17[i] ?? '');
    if (v < 0) throw new AppError('TAX_ID_INVALID', { detail: `"${first17[i] ?? ''}" is not a USCC character` });
    sum += v * (USCC_WEIGHTS[i] ?? 0);
  }
  return USCC_ALPHABET[(31 - (sum % 31)) % 31] ?? '';
}

export function isUsccShaped(code: string): boolean {
  return USCC_SHAPE.test(code);
}

/** A well-formed USCC whose check character is right. Exceptions are not considered here. */
export function isValidUscc(code: string): boolean {
  return typeof code === 'string' && USCC_SHAPE.test(code) && usccCheckChar(code.slice(0, 17)) === code[17];
}

/** The GB 11643 check character for the first 17 digits. */
export function idCardCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * (ID_WEIGHTS[i] ?? 0);
  return ID_CHECK[sum % 11] ?? '';
}

/**
 * A plausible birth date: a real calendar day from 1900-01-01 to 2099-12-31. The upper bound is not "today" because
 * this module does not read the clock (domain code is pure); a future date is caught by nothing worse than a typo.
 */
function isPlausibleBirthDate(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (y < 1900 || y > 2099 || m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] ?? 0;
  return d <= days;
}

/** An 18-character ID-card number (upper-case X only) with a plausible birth date and a right check character. */
export function isValidIdCardNumber(id: string): boolean {
  return (
    typeof id === 'string' &&
    ID_SHAPE.test(id) &&
    isPlausibleBirthDate(id.slice(6, 14)) &&
    idCardCheckChar(id.slice(0, 17)) === id[17]
  );
}

export interface ValidateTaxIdOptions {
  /** Legal USCCs that fail the checksum (early pilot regions), accepted as written. */
  exceptions?: readonly string[];
  /** Kinds accepted; default both. A special invoice's buyer must have a USCC. */
  kinds?: readonly TaxIdKind[];
  /** JSON Pointer for the error; default `/buyer/taxId`. */
  field?: string;
}

/**
 * Classifies a tax ID or throws. A string valid as both (an all-digit USCC can pass the ID-card check) counts as a
 * USCC, the normal case for a tax ID. Errors: TAX_ID_CHECKSUM for a well-formed USCC with a wrong check character,
 * TAX_ID_INVALID for anything else (including an ID-card number where only a USCC is accepted).
 */
export function validateTaxId(id: string, opts: ValidateTaxIdOptions = {}): TaxIdKind {
  const field = opts.field ?? '/buyer/taxId';
  const kinds = opts.kinds ?? ['uscc', 'id-card'];
  const wantUscc = kinds.includes('uscc');
  const wantId = kinds.includes('id-card');
  if (typeof id !== 'string') throw new AppError('TAX_ID_INVALID', { field, detail: 'The tax ID must be a string' });
  if (wantUscc && (isValidUscc(id) || (opts.exceptions ?? []).includes(id))) return 'uscc';
  if (isValidIdCardNumber(id)) {
    if (wantId) return 'id-card';
    throw new AppError('TAX_ID_INVALID', { field, detail: 'An ID-card number is not accepted here: a unified social credit code is required' });
  }
  // Blame the checksum only when the string cannot be read as a mistyped ID-card number. The value itself is never
  // echoed: it may be personal data.
  const couldBeIdCard = ID_SHAPE.test(id) && isPlausibleBirthDate(id.slice(6, 14));
  if (wantUscc && USCC_SHAPE.test(id) && !couldBeIdCard) {
    throw new AppError('TAX_ID_CHECKSUM', { field, detail: 'The check character of the unified social credit code is wrong' });
  }
  const expected = wantUscc && wantId ? 'a unified social credit code or ID-card number' : wantUscc ? 'a unified social credit code' : 'an ID-card number';
  throw new AppError('TAX_ID_INVALID', { field, detail: `The tax ID is not ${expected}` });
}
