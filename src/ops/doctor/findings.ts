// The shape every doctor check returns: a finding with a stable id, a severity and a message, plus the thresholds the
// checks share (certificate expiry window, HSTS max-age) and the ordering the command prints them in (highest first).
export type Severity = 'high' | 'medium' | 'low' | 'info';
export const SEVERITIES: readonly Severity[] = ['high', 'medium', 'low', 'info'];

export interface Finding {
  /** Stable name of the check, e.g. `admin-exposed`, `key-permissions`, `live-hsts`. */
  id: string;
  severity: Severity;
  /** The listener (or listeners, comma-separated) the finding is about. */
  listener?: string;
  message: string;
}

export interface DoctorOptions {
  /** The clock (tests). */
  now?: Date;
  /** Certificates expiring within this many days are a high finding (default 30). */
  expiryDays?: number;
}

export const DAY = 86_400_000;
export const EXPIRY_DAYS = 30;
/** One year: the least HSTS max-age accepted (HSTS preload lists ask for it). */
export const HSTS_MIN_MAX_AGE = 31_536_000;

export function sortFindings(findings: Finding[]): Finding[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => SEVERITIES.indexOf(a.f.severity) - SEVERITIES.indexOf(b.f.severity) || a.i - b.i)
    .map((x) => x.f);
}

export function hasHigh(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'high');
}

