// The red-letter use cases: filing a confirmation form, confirming, rejecting and revoking it, the 72-hour expiry,
// and reading forms with their history. Each change is one unit of work: the form's rows, one audit entry and one
// outbox event per move (docs/architecture.md, "Red letter").
//
// Lock order (docs/architecture.md, "Lock order"): a filing takes the blue invoice's lock row (red_letter_blues)
// first, then reads every form of that invoice and locks the buyer tenant's status row (received_invoices), so two filings against one invoice are serialised and the second
// counts the first's claims; a move takes the form's row; the audit chain's head is last in every one. The expiry
// job takes only the forms it expires (FOR UPDATE SKIP LOCKED on PostgreSQL).
//
// The counterparty: the buyer of the blue invoice is a party on this server when a tenant (other than the seller)
// has the buyer's tax ID; the earliest created such tenant is it (modules/tenants/domain/buyer-tenant.ts). A form
// filed by the seller awaits that tenant's confirmation (02) only when it has booked the invoice or selected it for
// deduction (modules/received/, read under the status row's lock in the filing transaction); otherwise it needs no
// confirmation (01) and the red invoice is issued at once, as the platform does for an invoice the buyer has not
// used. Either way the buyer tenant is a party: it sees the form and its events. For a buyer that is not a tenant of
// this server the setting redLetter.nonTenantBuyerConfirms decides (default: no confirmation, 01). A buyer tenant may
// file against an invoice addressed to it (03; the seller confirms).
import { randomBytes } from 'node:crypto';
import { AppError } from '../../../shared/errors.ts';
import type { Invoice } from '../../../shared/invoice.ts';
import { UniqueViolation } from '../../../platform/storage/storage-errors.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Clock } from '../../../shared/clock.ts';
import { stampEntry, type AuditRepository, type AuditStamp } from '../../audit/index.ts';
import { EVENT_TYPES, outboxEvent, type OutboxRepository } from '../../events/index.ts';
import { computeTotals, isInvoiceNumber, type InvoiceRepository, type IssueTx, type IssueWriter } from '../../invoicing/index.ts';
import { buyerHasUsed, RECEIVED_EVENTS, type ReceivedRepository } from '../../received/index.ts';
import type { Tenant, TenantRepository } from '../../tenants/index.ts';
import {
  expiryOf, holdsAmounts, initialState, isExpired, nextState,
  type FormAction, type FormState, type Party,
} from '../domain/form-states.ts';
import { DEFAULT_REASONS, blueStatus, claimTotals, normaliseRequestLines, planReversal, reasonIsValid, redLines, type ReversalLineInput } from '../domain/reversal.ts';
import type { FormQuery, FormTransition, RedLetterForm, RedLetterRepository } from '../storage/red-letter-repository.ts';

/** What the red-letter use cases need of a unit of work. */
export interface RedLetterTx {
  redLetter: RedLetterRepository;
  invoices: InvoiceRepository;
  tenants: TenantRepository;
  outbox: OutboxRepository;
  audit: AuditRepository;
  received: ReceivedRepository;
}

export interface FileFormInput {
  invoiceNumber: string;
  reason: string;
  lines?: ReversalLineInput[];
}

export interface RedLetterServiceDeps {
  uow: UnitOfWork<RedLetterTx>;
  clock: Clock;
  /** Reason code → label (config redLetter.reasons); default DEFAULT_REASONS. */
  reasons?: Readonly<Record<string, string>>;
  /** Whether a buyer that is not a tenant of this server must confirm a seller's form (config; default false). */
  nonTenantBuyerConfirms?: boolean;
  maxPageSize: number;
}

/** The outbox event of each move; the payload names the blue invoice, so the seller's live stream shows it. */
export const RED_LETTER_EVENTS = {
  file: 'red-letter.filed',
  confirm: 'red-letter.confirmed',
  reject: 'red-letter.rejected',
  revoke: 'red-letter.revoked',
  expire: 'red-letter.expired',
} as const satisfies Record<FormAction, string>;
/** The audit action of each move. */
export const RED_LETTER_AUDIT: Record<FormAction, string> = {
  file: 'red-letter.file',
  confirm: 'red-letter.confirm',
  reject: 'red-letter.reject',
  revoke: 'red-letter.revoke',
  expire: 'red-letter.expire',
};

/** A form number: the filing time in milliseconds (13 digits, so numbers sort by filing) and 12 random hex digits. */
export const FORM_ID = /^[0-9]{13}[0-9a-f]{12}$/;

export function newFormId(at: Date): string {
  return `${String(at.getTime()).padStart(13, '0')}${randomBytes(6).toString('hex')}`;
}

export interface FileResult {
  outcome: 'created' | 'existing';
  form: RedLetterForm;
}

export interface FormPage {
  items: RedLetterForm[];
  /** The cursor of the next page, absent on the last. */
  next?: string;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The event of a blue invoice reversed in part or in full by a red invoice. */
export const INVOICE_RED_FLUSHED = 'invoice.red-flushed' as const;

/** The remark of a red invoice (docs/invoice-rules.md, "Red-letter invoices"). */
export function redRemark(blueNumber: string, formId: string): string {
  return `被红冲蓝字数电票号码：${blueNumber} 红字发票信息确认单编号：${formId}`;
}

export class RedLetterService {
  private readonly reasons: Readonly<Record<string, string>>;
  /** The issue writer (server role): with it, a form reaching 01 or 04 gets its red invoice at once. */
  private writer: IssueWriter | undefined;

  /** Hands the service the server's issue writer (src/server-services.ts). */
  useWriter(writer: IssueWriter): void {
    this.writer = writer;
  }

  constructor(private readonly deps: RedLetterServiceDeps) {
    this.reasons = deps.reasons ?? DEFAULT_REASONS;
  }

  /** The label of a reason code (the configured list; a code no longer listed is shown as is). */
  reasonLabel(code: string): string {
    return (Object.hasOwn(this.reasons, code) ? this.reasons[code] : undefined) ?? DEFAULT_REASONS[code] ?? code;
  }

  /** The configured reasons, code → label. */
  reasonList(): Readonly<Record<string, string>> {
    return this.reasons;
  }

  /**
   * Files a form (see the top of this file for who the parties are). A form needing no confirmation (01) gets its red
   * invoice at once, in a second unit of work (the issuing transaction); should that fail, filing the same form again
   * issues it.
   */
  async file(tenant: Tenant, input: FileFormInput, opts: { idempotencyKey?: string; by: AuditStamp }): Promise<FileResult> {
    const result = await this.fileForm(tenant, input, opts);
    if (this.writer && result.form.state === '01' && result.form.redNumber === undefined) {
      try {
        return { outcome: result.outcome, form: await this.issueRed(result.form, opts.by, undefined, tenant.id) };
      } catch (error) {
        // A concurrent request for the same form (the same Idempotency-Key or the same filing, on any node) issued its
        // red invoice first, whether this request created the form or found it: answer the form as it is now.
        if (!(error instanceof AppError) || error.code !== 'RED_LETTER_TRANSITION_REFUSED') throw error;
        const now = await this.deps.uow.read.redLetter.getFor(tenant.id, result.form.id);
        if (now?.redNumber === undefined) throw error;
        return { outcome: result.outcome, form: now };
      }
    }
    return result;
  }

  private async fileForm(tenant: Tenant, input: FileFormInput, opts: { idempotencyKey?: string; by: AuditStamp }): Promise<FileResult> {
    const key = opts.idempotencyKey;
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
      throw new AppError('IDEMPOTENCY_KEY_INVALID', { detail: 'use 1 to 255 visible ASCII characters, e.g. a UUID' });
    }
    if (!reasonIsValid(input.reason, this.reasons)) {
      throw new AppError('RED_LETTER_REASON_INVALID', {
        field: '/reason',
        detail: `The reason must be one of ${Object.entries(this.reasons).map(([c, l]) => `${c} ${l}`).join(', ')}`,
      });
    }
    if (!isInvoiceNumber(input.invoiceNumber)) throw notFound();
    if (key !== undefined) {
      const seen = await this.deps.uow.read.redLetter.findByIdempotencyKey(tenant.id, key);
      if (seen) return { outcome: 'existing', form: seen };
    }
    const { invoice, sellerTenantId, filedBy } = await this.findBlue(tenant, input.invoiceNumber);
    if (invoice.kind === 'red') {
      throw new AppError('RED_LETTER_TARGET_RED', { field: '/invoiceNumber', detail: `${invoice.number} is a red invoice` });
    }
    const requestKey = `${input.reason}|${normaliseRequestLines(input.lines)}`;
    try {
      return await this.deps.uow.run(this.deps.clock.now(), async (tx): Promise<FileResult> => {
        const now = this.deps.clock.now();
        await tx.redLetter.lockBlue(invoice.number, sellerTenantId);
        const forms = await tx.redLetter.formsOfBlue(invoice.number);
        const same = forms.find((f) => f.filerTenantId === tenant.id && f.requestKey === requestKey && holdsAmounts(f.state) && !isExpired(f, now));
        if (same) return { outcome: 'existing', form: same };
        // Every form not void counts, its red invoice issued or not; one past its window is void already.
        const prior = forms.filter((f) => holdsAmounts(f.state) && !isExpired(f, now)).map((f) => f.claims);
        const claims = planReversal(invoice.lines, prior, input.lines);
        let buyerTenantId: string | undefined;
        if (filedBy === 'buyer') buyerTenantId = tenant.id;
        else if (invoice.buyer.taxId !== undefined) buyerTenantId = (await tx.tenants.findByTaxId(invoice.buyer.taxId, sellerTenantId))?.id;
        // The buyer confirms a seller's form if it has used the invoice (booked, or selected for deduction); a buyer
        // not on this server by the configured rule.
        const mustConfirm = filedBy === 'buyer' || (buyerTenantId === undefined
          ? this.deps.nonTenantBuyerConfirms === true
          : await buyerHasUsed(tx.received, buyerTenantId, invoice.number, sellerTenantId));
        const state = initialState(filedBy, mustConfirm);
        const totals = claimTotals(claims);
        const form = await tx.redLetter.insert({
          id: newFormId(now),
          sellerTenantId,
          ...(buyerTenantId === undefined ? {} : { buyerTenantId }),
          filerTenantId: tenant.id,
          filedBy,
          blueNumber: invoice.number,
          reason: input.reason,
          state,
          claims,
          ...totals,
          requestKey,
          ...(key === undefined ? {} : { idempotencyKey: key }),
          ...(state === '02' || state === '03' ? { expiresAt: expiryOf(now) } : {}),
        });
        await this.record(tx, form, { from: '10', to: state, action: 'file', actor: opts.by.actor, party: filedBy }, opts.by, tenant.id);
        return { outcome: 'created', form };
      });
    } catch (error) {
      // The same Idempotency-Key committed a moment earlier by a concurrent request: answer that form.
      if (error instanceof UniqueViolation && key !== undefined) {
        const seen = await this.deps.uow.read.redLetter.findByIdempotencyKey(tenant.id, key);
        if (seen) return { outcome: 'existing', form: seen };
      }
      throw error;
    }
  }

  confirm(tenant: Tenant, id: string, by: AuditStamp): Promise<RedLetterForm> {
    return this.move(tenant, id, 'confirm', by);
  }

  reject(tenant: Tenant, id: string, by: AuditStamp): Promise<RedLetterForm> {
    return this.move(tenant, id, 'reject', by);
  }

  revoke(tenant: Tenant, id: string, by: AuditStamp): Promise<RedLetterForm> {
    return this.move(tenant, id, 'revoke', by);
  }

  /**
   * One move by one party. A move asked for after the 72 hours ended records the expiry (07) instead, in its own
   * committed unit of work, and is answered RED_LETTER_FORM_EXPIRED.
   */
  private async move(tenant: Tenant, id: string, action: 'confirm' | 'reject' | 'revoke', by: AuditStamp): Promise<RedLetterForm> {
    if (!FORM_ID.test(id)) throw formNotFound();
    const at = this.deps.clock.now();
    if (action === 'confirm' && this.writer) {
      // Confirmation issues the red invoice: the move to 04 commits in the issuing transaction (issueRed). Checked
      // here first so a refusal or an expiry is answered without taking a number; checked again under the lock.
      const form = await this.deps.uow.read.redLetter.getFor(tenant.id, id);
      if (!form) throw formNotFound();
      const party: Party = form.sellerTenantId === tenant.id ? 'seller' : 'buyer';
      const facts = { state: form.state, filedBy: form.filedBy, redIssued: form.redNumber !== undefined, ...(form.expiresAt ? { expiresAt: form.expiresAt } : {}) };
      if (!isExpired(facts, at)) {
        const to = nextState(facts, action, party, at);
        return this.issueRed(form, by, { from: form.state, to, action, actor: by.actor, party }, tenant.id);
      }
    }
    let expired: AppError | undefined;
    const form = await this.deps.uow.run(at, async (tx) => {
      const form = await tx.redLetter.getFor(tenant.id, id, { lock: true });
      if (!form) throw formNotFound();
      const party: Party = form.sellerTenantId === tenant.id ? 'seller' : 'buyer';
      let to: FormState;
      try {
        to = nextState({ state: form.state, filedBy: form.filedBy, redIssued: form.redNumber !== undefined, ...(form.expiresAt ? { expiresAt: form.expiresAt } : {}) }, action, party, at);
      } catch (e) {
        if (!(e instanceof AppError) || e.code !== 'RED_LETTER_FORM_EXPIRED') throw e;
        expired = e;
        return this.expireOne(tx, form, tenant.id);
      }
      if (!(await tx.redLetter.move(form.id, form.state, to, { clearExpiry: true }))) throw new Error(`form ${form.id} moved under its lock`);
      const moved = { ...form, state: to };
      delete moved.expiresAt;
      await this.record(tx, moved, { from: form.state, to, action, actor: by.actor, party }, by, tenant.id);
      return moved;
    });
    if (expired) throw expired;
    return form;
  }

  private async expireOne(tx: RedLetterTx, form: RedLetterForm, tenantId: string | undefined): Promise<RedLetterForm> {
    if (!(await tx.redLetter.move(form.id, form.state, '07'))) return form;
    const moved: RedLetterForm = { ...form, state: '07' };
    await this.record(tx, moved, { from: form.state, to: '07', action: 'expire', actor: 'system', party: 'system' }, { actor: 'system' }, tenantId);
    return moved;
  }

  /**
   * Voids (07) every form whose 72 hours ended at the clock's now, up to `limit`, in one unit of work; answers how many.
   * Deadlines are stored, so a restart loses none: the first run after it expires whatever fell due meanwhile.
   */
  async expireDue(limit = 100): Promise<number> {
    const at = this.deps.clock.now();
    return this.deps.uow.run(at, async (tx) => {
      const due = await tx.redLetter.dueForExpiry(at, limit);
      let n = 0;
      for (const form of due) {
        if (!isExpired(form, at)) continue;
        const moved = await this.expireOne(tx, form, undefined);
        if (moved.state === '07') n++;
      }
      return n;
    });
  }

  /** One form of the tenant (filed by it or for it) and its history of moves. */
  async get(tenant: Tenant, id: string): Promise<{ form: RedLetterForm; history: FormTransition[] }> {
    if (!FORM_ID.test(id)) throw formNotFound();
    const form = await this.deps.uow.read.redLetter.getFor(tenant.id, id);
    if (!form) throw formNotFound();
    return { form, history: await this.deps.uow.read.redLetter.history(form.id) };
  }

  /** A page of the tenant's forms, newest first; `cursor` is the `next` of the previous page. */
  async list(tenant: Tenant, q: Omit<FormQuery, 'tenantId' | 'before' | 'limit'> & { cursor?: string; limit?: number }): Promise<FormPage> {
    const limit = Math.min(Math.max(1, q.limit ?? 50), this.deps.maxPageSize);
    if (q.cursor !== undefined && !FORM_ID.test(q.cursor)) throw new AppError('CURSOR_INVALID', { field: '/cursor' });
    const items = await this.deps.uow.read.redLetter.list({
      tenantId: tenant.id, limit: limit + 1,
      ...(q.state === undefined ? {} : { state: q.state }),
      ...(q.invoiceNumber === undefined ? {} : { invoiceNumber: q.invoiceNumber }),
      ...(q.direction === undefined ? {} : { direction: q.direction }),
      ...(q.cursor === undefined ? {} : { before: q.cursor }),
    });
    if (items.length <= limit) return { items };
    const page = items.slice(0, limit);
    return { items: page, next: page[page.length - 1]!.id };
  }

  /**
   * Issues the red invoice of `form` through the issue writer; in the issuing transaction, under the form's row lock,
   * re-checks the form (still in the state it was read in, no red invoice yet), makes `move` if given (to 04), records
   * the red number, and sets the blue invoice's status from every red invoice of its forms, announcing
   * `invoice.red-flushed`. The negative amount gives the issuing quota back (a charge below zero always passes).
   */
  private async issueRed(form: RedLetterForm, by: AuditStamp, move?: Omit<FormTransition, 'at'>, auditTenant?: string): Promise<RedLetterForm> {
    const writer = this.writer!;
    const seller = await this.deps.uow.read.tenants.get(form.sellerTenantId);
    const blue = await this.deps.uow.read.invoices.get(form.sellerTenantId, form.blueNumber);
    if (!seller || !blue) throw notFound();
    const lines = redLines(blue.lines, form.claims);
    await writer.write({
      tenantId: seller.id, regionCode: seller.regionCode, channel: seller.channel,
      draft: {
        type: blue.type, kind: 'red', seller: blue.seller, buyer: blue.buyer, lines, priceIncludesTax: blue.priceIncludesTax,
        totals: computeTotals(lines), remarks: redRemark(blue.number, form.id), issuer: blue.issuer,
        originalNumber: blue.number, redLetterFormId: form.id,
      },
      // The acting tenant's request id is on every audit entry, but only on that tenant's own events.
      audit: auditTenant === undefined || auditTenant === seller.id ? by : { ...by, foreignRequest: true },
      within: async (issueTx: IssueTx, red) => {
        const tx = asRedLetterTx(issueTx);
        const now = this.deps.clock.now();
        // The blue invoice's lock row before the form's, as filing takes them (a filing holding it may be checking its
        // unique key against this form's row).
        await tx.redLetter.lockBlue(blue.number, seller.id);
        const current = await tx.redLetter.getFor(form.sellerTenantId, form.id, { lock: true });
        if (!current || current.state !== form.state || current.redNumber !== undefined || (move && isExpired(current, now))) {
          throw new AppError('RED_LETTER_TRANSITION_REFUSED', {
            detail: `The form is in state ${current?.state ?? form.state}${current?.redNumber ? ` and has its red invoice ${current.redNumber}` : ''}`,
            extensions: { state: current?.state ?? form.state },
          });
        }
        if (move) {
          if (!(await tx.redLetter.move(form.id, move.from, move.to, { clearExpiry: true }))) throw new Error(`form ${form.id} moved under its lock`);
          await this.record(tx, { ...current, state: move.to }, move, by, auditTenant);
        }
        await tx.redLetter.setRedNumber(form.id, red.number);
        const issued = (await tx.redLetter.formsOfBlue(blue.number)).filter((f) => f.redNumber !== undefined || f.id === form.id).map((f) => f.claims);
        await tx.invoices.setStatus(seller.id, blue.number, blueStatus(blue.lines, issued));

        const status = blueStatus(blue.lines, issued);
        const at = this.deps.clock.now();
        await tx.outbox.append([
          outboxEvent(seller.id, INVOICE_RED_FLUSHED, EVENT_TYPES[INVOICE_RED_FLUSHED].version, at, { number: blue.number, tenantId: seller.id, formId: form.id, red: red.number }, originFor(seller.id, by, auditTenant)),
          // The buyer tenant's (modules/received/): its received invoice was reversed.
          ...(current.buyerTenantId === undefined ? [] : [outboxEvent(current.buyerTenantId, RECEIVED_EVENTS.redFlushed, EVENT_TYPES[RECEIVED_EVENTS.redFlushed].version, at, {
            number: blue.number, formId: form.id, red: red.number, status,
          }, originFor(current.buyerTenantId, by, auditTenant))]),
        ]);
      },
    });
    const after = await this.deps.uow.read.redLetter.getFor(form.sellerTenantId, form.id);
    return after ?? form;
  }

  /**
   * The blue invoice and the filer's side: the tenant's own invoice (the seller files), or one addressed to the
   * tenant's tax ID by another tenant (the buyer files). Anything else is not found, like another tenant's invoice.
   */
  private async findBlue(tenant: Tenant, number: string): Promise<{ invoice: Invoice; sellerTenantId: string; filedBy: Party }> {
    const own = await this.deps.uow.read.invoices.get(tenant.id, number);
    if (own) return { invoice: own, sellerTenantId: tenant.id, filedBy: 'seller' };
    const ref = await this.deps.uow.read.invoices.findStoredForVerification(number);
    if (ref && ref.tenantId !== tenant.id) {
      const invoice = await ref.open();
      if (invoice.buyer.taxId !== undefined && invoice.buyer.taxId === tenant.taxId) {
        // The buyer is this tenant only if it is the one the seller's forms would go to (the earliest of that tax ID).
        const counterparty = await this.deps.uow.read.tenants.findByTaxId(tenant.taxId, ref.tenantId);
        if (counterparty?.id === tenant.id) return { invoice, sellerTenantId: ref.tenantId, filedBy: 'buyer' };
      }
    }
    throw notFound();
  }

  /** The move's history row, its outbox event (to each party on this server) and its audit entry, in that order. */
  private async record(tx: RedLetterTx, form: RedLetterForm, t: Omit<FormTransition, 'at'>, by: AuditStamp, auditTenant: string | undefined): Promise<void> {
    await tx.redLetter.recordTransition(form.id, t);
    const parties = [form.sellerTenantId, ...(form.buyerTenantId === undefined ? [] : [form.buyerTenantId])];
    const type = RED_LETTER_EVENTS[t.action];
    const at = this.deps.clock.now();
    await tx.outbox.append(parties.map((tenantId) => outboxEvent(tenantId, type, EVENT_TYPES[type].version, at, {
      number: form.blueNumber, tenantId, formId: form.id, state: t.to,
    }, originFor(tenantId, by, auditTenant))));
    const entry = { ...stampEntry(by, RED_LETTER_AUDIT[t.action], form.id, auditTenant ?? form.sellerTenantId), details: { from: t.from, to: t.to, invoice: form.blueNumber } };
    await tx.audit.append([entry]);
  }
}

/** The request an event of `tenantId` names: the acting tenant's own request, never another party's. */
function originFor(tenantId: string, by: AuditStamp, actingTenant: string | undefined): AuditStamp | undefined {
  return actingTenant === tenantId ? by : undefined;
}

/** The issuing transaction's repositories are the whole bundle (src/repositories.ts), red-letter's included. */
function asRedLetterTx(tx: IssueTx): RedLetterTx {
  const full = tx as IssueTx & Partial<RedLetterTx>;
  if (!full.redLetter || !full.tenants) throw new Error('the issuing unit of work lacks the red-letter repositories');
  return full as RedLetterTx;
}

function notFound(): AppError {
  return new AppError('INVOICE_NOT_FOUND', { field: '/invoiceNumber' });
}

function formNotFound(): AppError {
  return new AppError('RED_LETTER_FORM_NOT_FOUND');
}
