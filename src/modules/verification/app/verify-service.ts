// 发票查验: anyone holding an invoice checks it by number + issue date + total with tax. The answer never says
// which input was wrong (docs/invoice-rules.md, "Verification"): a wrong date or total looks exactly like a missing number.
// Checks are limited per client address and per invoice number and day, so guessing is slow either way.
import type { Invoice, InvoiceStatus, InvoiceTotals, InvoiceType, InvoiceKind, Party } from '../../../shared/invoice.ts';
import { isInvoiceNumber } from '../../invoicing/index.ts';
import { toCents } from '../../../shared/money.ts';
import { maskParty } from '../../invoicing/index.ts';
import { AppError } from '../../../shared/errors.ts';
import { FieldCipherError } from '../../../platform/crypto/field-cipher.ts';
import type { InvoiceRepository } from '../../invoicing/index.ts';
import type { StoredInvoiceRef } from '../../invoicing/index.ts';
import { checkInvoice, type InvoiceCheck } from '../../invoicing/index.ts';
import type { KeyService } from '../../keys/index.ts';
import type { Clock } from '../../../shared/clock.ts';
import { clientSubject, parseIp } from '../../../shared/cidr.ts';
import type { RateLimiter } from '../../abuse/index.ts';
import type { Membership } from '../../ledger/index.ts';

export interface VerifyInput {
  number: string;
  issueDate: string;
  total: string;
}

export interface VerifiedInvoice {
  number: string;
  type: InvoiceType;
  kind: InvoiceKind;
  issueDate: string;
  status: InvoiceStatus;
  seller: Party;
  buyer: Party;
  totals: InvoiceTotals;
  originalNumber?: string;
}

export type VerifyResult =
  | {
    result: 'authentic'; invoice: VerifiedInvoice; signature: { alg: string; keyId: string; valid: true };
    /** Where the invoice is in the public ledger: its leaf index and the newest checkpoint it is under. */
    ledger?: Membership & { checkpointUrl: '/checkpoint' };
  }
  | { result: 'not-found' }
  /** Found and matching, but the stored data fails its own signature: tampering. */
  | { result: 'tampered'; number: string };

export interface VerifyLimits {
  /** Checks naming one invoice number per day (UTC+8), matched or not. */
  perInvoicePerDay: number;
  /** Requests per client address per minute, page and API together. */
  perIpPerMinute: number;
}

export interface VerifyServiceOptions {
  /** The abuse-control counters: in-process, or shared by every node through Redis (docs/design.md §9). */
  limiter: RateLimiter;
  limits: VerifyLimits;
  clock: Clock;
  /** The ledger's read side (modules/ledger LedgerService), for the invoice's place in the public log. */
  ledger?: { membership(number: string): Promise<Membership | undefined> };
}

/**
 * Answers by the digest of the stored row (StoredInvoiceRef.digest): an invoice never changes, so each stored state
 * is decrypted and verified once per process, and any edit in the database changes the digest and is checked anew.
 * The cached answers hold masked parties only.
 */
const CHECK_CACHE_MAX = 50_000;
const DAY_MS = 86_400_000;
/** The tax day is the calendar day in Asia/Shanghai, which has had no daylight saving since 1991. */
const UTC8_MS = 8 * 3_600_000;

export class VerifyService {
  private readonly checked = new Map<string, VerifyResult>();

  constructor(
    private readonly invoices: InvoiceRepository,
    private readonly keys: KeyService,
    private readonly opts: VerifyServiceOptions,
  ) {}

  /** Counts one request from a client address (the page or the API); throws RATE_LIMITED past the limit. */
  async admitClient(ip: string): Promise<void> {
    const addr = parseIp(ip);
    const d = await this.opts.limiter.hit(`verify:ip:${addr ? clientSubject(addr) : ip}`, this.opts.limits.perIpPerMinute, 60_000);
    if (!d.allowed) throw rateLimited(d.resetSec);
  }

  async verify(input: VerifyInput): Promise<VerifyResult> {
    if (!isInvoiceNumber(input.number)) return { result: 'not-found' };
    // Counted before the lookup and whatever the outcome: a known number with guessed dates and totals is limited
    // like a guessed number, and the refusal does not depend on whether the invoice exists.
    await this.countInvoiceCheck(input.number);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(input.issueDate)) return { result: 'not-found' };
    let cents: bigint;
    try {
      cents = toCents(input.total, '/total');
    } catch {
      return { result: 'not-found' };
    }
    const ref = await this.invoices.findStoredForVerification(input.number);
    // The query columns first: a wrong date or total is `not-found` before anything is decrypted or checked, so the
    // answer for a tampered row does not confirm that a number exists to someone who does not know its date and total.
    if (!ref || ref.issueDate !== input.issueDate || !sameCents(ref.total, cents)) return { result: 'not-found' };
    let result = this.checked.get(ref.digest);
    if (!result) {
      result = await this.checkStored(ref, input.issueDate, cents);
      if (this.checked.size >= CHECK_CACHE_MAX) this.checked.clear();
      this.checked.set(ref.digest, result);
    }
    return this.withLedger(result);
  }

  /**
   * The log membership changes with each checkpoint: asked per answer (LedgerService keeps it per served
   * checkpoint), not cached with the check.
   */
  private async withLedger(result: VerifyResult): Promise<VerifyResult> {
    if (result.result !== 'authentic' || !this.opts.ledger) return result;
    const m = await this.opts.ledger.membership(result.invoice.number);
    return m ? { ...result, ledger: { ...m, checkpointUrl: '/checkpoint' } } : result;
  }

  /**
   * The full check of a stored row: decrypt, compare the document with the columns that matched, recompute the hash
   * and verify the signature. Its answer depends only on the stored bytes (the digest) and the key, so it is cached.
   */
  private async checkStored(ref: StoredInvoiceRef, issueDate: string, cents: bigint): Promise<VerifyResult> {
    let inv: Invoice;
    try {
      inv = await ref.open();
    } catch (e) {
      // An encrypted buyer field that does not open under its row's context: moved or changed in the database.
      if (e instanceof FieldCipherError && e.reason === 'authentication_failed') return { result: 'tampered', number: ref.number };
      throw e;
    }
    // Columns and document disagree: the row was edited outside the server.
    if (inv.number !== ref.number || inv.issueDate !== issueDate || !sameCents(inv.totals.total, cents)) {
      return { result: 'tampered', number: ref.number };
    }
    const key = await this.keys.verifyingKey(inv.signature.keyId);
    const check: InvoiceCheck = key ? checkInvoice(inv, key) : { hashValid: false, signatureValid: false, qrValid: false };
    if (!check.hashValid || !check.signatureValid) return { result: 'tampered', number: inv.number };
    return {
      result: 'authentic',
      invoice: {
        number: inv.number,
        type: inv.type,
        kind: inv.kind,
        issueDate: inv.issueDate,
        status: inv.status,
        seller: { name: inv.seller.name, ...(inv.seller.taxId ? { taxId: inv.seller.taxId } : {}) },
        buyer: maskParty({ name: inv.buyer.name, ...(inv.buyer.taxId ? { taxId: inv.buyer.taxId } : {}) }),
        totals: inv.totals,
        ...(inv.originalNumber ? { originalNumber: inv.originalNumber } : {}),
      },
      signature: { alg: inv.signature.alg, keyId: inv.signature.keyId, valid: true },
    };
  }

  private async countInvoiceCheck(number: string): Promise<void> {
    const now = this.opts.clock.now().getTime();
    const day = Math.floor((now + UTC8_MS) / DAY_MS);
    const endOfDay = (day + 1) * DAY_MS - UTC8_MS;
    const d = await this.opts.limiter.hit(`verify:number:${number}:${day}`, this.opts.limits.perInvoicePerDay, endOfDay - now);
    if (!d.allowed) throw rateLimited(d.resetSec);
  }
}

function sameCents(total: string, cents: bigint): boolean {
  try {
    return toCents(total, '/total') === cents;
  } catch {
    return false;
  }
}

function rateLimited(retryAfterSec: number): AppError {
  return new AppError('RATE_LIMITED', { detail: 'too many verification attempts; try again later', headers: { 'retry-after': String(retryAfterSec) } });
}
