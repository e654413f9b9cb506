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

/** Every mismatch answers this one object (the HTTP layer serialises an answer object once, public-routes.ts). */
const NOT_FOUND: VerifyResult = Object.freeze({ result: 'not-found' });

/** A checked row's answer, and the last answer made of it with the ledger's membership (the same object while that is). */
interface Checked {
  result: VerifyResult;
  withLedger?: { membership: Membership; answer: VerifyResult };
}

export class VerifyService {
  private readonly checked = new Map<string, Checked>();
  /** The counter key of a client address (IPv6 by /64), by its text: parsed once per address, bounded. */
  private readonly ipKeys = new Map<string, string>();

  constructor(
    private readonly invoices: InvoiceRepository,
    private readonly keys: KeyService,
    private readonly opts: VerifyServiceOptions,
  ) {}

  /** Counts one request from a client address (the page or the API); throws RATE_LIMITED past the limit. */
  async admitClient(ip: string): Promise<void> {
    let key = this.ipKeys.get(ip);
    if (key === undefined) {
      const addr = parseIp(ip);
      key = `verify:ip:${addr ? clientSubject(addr) : ip}`;
      if (this.ipKeys.size >= 10_000) this.ipKeys.clear();
      this.ipKeys.set(ip, key);
    }
    const d = await this.opts.limiter.hit(key, this.opts.limits.perIpPerMinute, 60_000);
    if (!d.allowed) throw rateLimited(d.resetSec);
  }

  /** The answer; the same object for the same answer while the row and the ledger's membership stay as they are. */
  async verify(input: VerifyInput): Promise<VerifyResult> {
    if (!isInvoiceNumber(input.number)) return NOT_FOUND;
    // Counted before the lookup and whatever the outcome: a known number with guessed dates and totals is limited
    // like a guessed number, and the refusal does not depend on whether the invoice exists.
    await this.countInvoiceCheck(input.number);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(input.issueDate)) return NOT_FOUND;
    let cents: bigint;
    try {
      cents = toCents(input.total, '/total');
    } catch {
      return NOT_FOUND;
    }
    const ref = await this.invoices.findStoredForVerification(input.number);
    // The query columns first: a wrong date or total is `not-found` before anything is decrypted or checked, so the
    // answer for a tampered row does not confirm that a number exists to someone who does not know its date and total.
    if (!ref || ref.issueDate !== input.issueDate || !sameCents(ref.total, cents)) return NOT_FOUND;
    let entry = this.checked.get(ref.digest);
    if (!entry) {
      entry = { result: await this.checkStored(ref, input.issueDate, cents) };
      if (this.checked.size >= CHECK_CACHE_MAX) this.checked.clear();
      this.checked.set(ref.digest, entry);
    }
    return this.withLedger(entry);
  }

  /**
   * The log membership changes with each checkpoint: asked per answer (LedgerService keeps it per served
   * checkpoint), not cached with the check; the answer made with it is kept until it changes.
   */
  private async withLedger(entry: Checked): Promise<VerifyResult> {
    const { result } = entry;
    if (result.result !== 'authentic' || !this.opts.ledger) return result;
    const m = await this.opts.ledger.membership(result.invoice.number);
    if (!m) return result;
    const last = entry.withLedger;
    if (last && sameMembership(last.membership, m)) return last.answer;
    const answer: VerifyResult = { ...result, ledger: { ...m, checkpointUrl: '/checkpoint' } };
    entry.withLedger = { membership: m, answer };
    return answer;
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

function sameMembership(a: Membership, b: Membership): boolean {
  if (a === b) return true;
  if (a.status !== b.status || a.leafIndex !== b.leafIndex) return false;
  return a.status === 'pending' || (b.status === 'integrated' && a.treeSize === b.treeSize && a.rootHash === b.rootHash);
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
