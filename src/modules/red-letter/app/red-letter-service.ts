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
// confirmation (01) and the form is written in the issuing transaction of its red invoice, as the platform does for an invoice the buyer has not
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
import type { FormQuery, FormTransition, NewRedLetterForm, RedLetterForm, RedLetterRepository } from '../storage/red-letter-repository.ts';

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

/** A filing as asked, with the blue invoice and the filer's side found. */
interface Filing {
  tenant: Tenant;
  invoice: Invoice;
  sellerTenantId: string;
  filedBy: Party;
  reason: string;
  lines: ReversalLineInput[] | undefined;
  requestKey: string;
  idempotencyKey?: string;
}

/** What a filing comes to: the same form filed already, or a new one. */
type Decision = { kind: 'existing'; form: RedLetterForm } | { kind: 'new'; form: NewRedLetterForm };

/** The filing decided under the lock is not the one planned (and signed): nothing was written; plan again. */
class StalePlan extends Error {
  constructor() {
    super('the filing changed between its plan and its commit');
  }
}

/** Plans of one filing before it gives up (each lost only to another form of the same invoice committing). */
const MAX_PLANS = 8;

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
   * Files a form (see the top of this file for who the parties are). A form needing no confirmation (01) is written
   * inside the issuing transaction of its red invoice (the issue writer's `within` hook), so the form, its history,
   * audit entry and events, the red invoice and the blue invoice's status commit together or not at all.
   *
   * The red invoice's draft (its lines, its remark naming the form) must exist before the writer numbers and signs it,
   * so the filing is planned first from a plain read, then decided again under the blue invoice's lock in the
   * transaction that commits it; if the two differ (another form of that invoice committed in between, the buyer
   * booked it), nothing is written and the filing is planned again.
   */
  async file(tenant: Tenant, input: FileFormInput, opts: { idempotencyKey?: string; by: AuditStamp }): Promise<FileResult> {
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
      if (seen) return this.answerExisting(seen, opts.by, tenant.id);
    }
    const { invoice, sellerTenantId, filedBy } = await this.findBlue(tenant, input.invoiceNumber);
    if (invoice.kind === 'red') {
      throw new AppError('RED_LETTER_TARGET_RED', { field: '/invoiceNumber', detail: `${invoice.number} is a red invoice` });
    }
    const filing: Filing = {
      tenant, invoice, sellerTenantId, filedBy, reason: input.reason, lines: input.lines,
      requestKey: `${input.reason}|${normaliseRequestLines(input.lines)}`, ...(key === undefined ? {} : { idempotencyKey: key }),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fileOnce(filing, opts.by);
      } catch (error) {
        if (error instanceof StalePlan) {
          if (attempt < MAX_PLANS) continue;
          throw new AppError('SERVICE_UNAVAILABLE', {
            detail: `other forms of ${invoice.number} kept committing while this one was filed; retry shortly`, headers: { 'retry-after': '1' },
          });
        }
        // The same Idempotency-Key committed a moment earlier by a concurrent request: answer that form.
        if (error instanceof UniqueViolation && key !== undefined) {
          const seen = await this.deps.uow.read.redLetter.findByIdempotencyKey(tenant.id, key);
          if (seen) return this.answerExisting(seen, opts.by, tenant.id);
        }
        throw error;
      }
    }
  }

  /** One attempt: plan from a read, then commit what the lock confirms (StalePlan when it does not). */
  private async fileOnce(f: Filing, by: AuditStamp): Promise<FileResult> {
    const plan = await this.decide(this.deps.uow.read, f, this.deps.clock.now(), 'plan');
    if (plan.kind === 'existing') return this.answerExisting(plan.form, by, f.tenant.id);
    if (plan.form.state === '01' && this.writer) return this.fileAndIssue(f, plan.form, by);
    // A form awaiting confirmation (or no writer: a form in 01 then waits for a server to issue it, on filing again).
    return this.deps.uow.run(this.deps.clock.now(), async (tx): Promise<FileResult> => {
      const decided = await this.decide(tx, f, this.deps.clock.now(), 'lock');
      if (decided.kind === 'existing') return { outcome: 'existing', form: decided.form };
      if (this.writer && decided.form.state === '01') throw new StalePlan();
      const form = await tx.redLetter.insert(decided.form);
      await this.record(tx, form, { from: '10', to: form.state, action: 'file', actor: by.actor, party: f.filedBy }, by, f.tenant.id);
      return { outcome: 'created', form };
    });
  }

  /**
   * Files a form in 01 in the issuing transaction of its red invoice: under the blue invoice's lock the filing is
   * decided again and must come out as planned (a new form in 01 with the same claims), else StalePlan.
   */
  private async fileAndIssue(f: Filing, planned: NewRedLetterForm, by: AuditStamp): Promise<FileResult> {
    let created: RedLetterForm | undefined;
    let found: RedLetterForm | undefined;
    await this.issueRed(planned, by, f.tenant.id, async (tx, red) => {
      created = undefined;
      found = undefined;
      // issueRed took the blue invoice's lock row already.
      const decided = await this.decide(tx, f, this.deps.clock.now(), 'held');
      if (decided.kind === 'existing') {
        found = decided.form;
        throw new StalePlan();
      }
      if (decided.form.state !== '01' || JSON.stringify(decided.form.claims) !== JSON.stringify(planned.claims)) throw new StalePlan();
      const form = await tx.redLetter.insert({ ...decided.form, id: planned.id, redNumber: red.number });
      await this.record(tx, form, { from: '10', to: '01', action: 'file', actor: by.actor, party: f.filedBy }, by, f.tenant.id);
      created = form;
      return form;
    }).catch((error: unknown) => {
      // A concurrent filing of the same form committed first: answer it (the next plan would find it too).
      if (error instanceof StalePlan && found) return;
      throw error;
    });
    if (found) return this.answerExisting(found, by, f.tenant.id);
    const after = await this.deps.uow.read.redLetter.getFor(f.sellerTenantId, planned.id);
    return { outcome: 'created', form: after ?? created! };
  }

  /**
   * What filing `f` comes to at `now`: the same form already filed, or the new form. `plan`: a plain read. Otherwise in
   * the committing transaction, which takes the blue invoice's lock row first (`lock`; `held`: taken already) and
   * reads the buyer's use under its status row's lock.
   */
  private async decide(repos: Pick<RedLetterTx, 'redLetter' | 'tenants' | 'received'>, f: Filing, now: Date, mode: 'plan' | 'lock' | 'held'): Promise<Decision> {
    const { invoice, sellerTenantId, tenant } = f;
    const locked = mode !== 'plan';
    if (mode === 'lock') await repos.redLetter.lockBlue(invoice.number, sellerTenantId);
    const forms = await repos.redLetter.formsOfBlue(invoice.number);
    const same = forms.find((x) => x.filerTenantId === tenant.id && x.requestKey === f.requestKey && holdsAmounts(x.state) && !isExpired(x, now));
    if (same) return { kind: 'existing', form: same };
    // Every form not void counts, its red invoice issued or not; one past its window is void already.
    const prior = forms.filter((x) => holdsAmounts(x.state) && !isExpired(x, now)).map((x) => x.claims);
    const claims = planReversal(invoice.lines, prior, f.lines);
    let buyerTenantId: string | undefined;
    if (f.filedBy === 'buyer') buyerTenantId = tenant.id;
    else if (invoice.buyer.taxId !== undefined) buyerTenantId = (await repos.tenants.findByTaxId(invoice.buyer.taxId, sellerTenantId))?.id;
    // The buyer confirms a seller's form if it has used the invoice (booked, or selected for deduction); a buyer
    // not on this server by the configured rule.
    let mustConfirm: boolean;
    if (f.filedBy === 'buyer') mustConfirm = true;
    else if (buyerTenantId === undefined) mustConfirm = this.deps.nonTenantBuyerConfirms === true;
    else if (locked) mustConfirm = await buyerHasUsed(repos.received, buyerTenantId, invoice.number, sellerTenantId);
    else {
      const s = await repos.received.status(buyerTenantId, invoice.number);
      mustConfirm = s.booked || s.deductionSelected;
    }
    const state = initialState(f.filedBy, mustConfirm);
    return {
      kind: 'new',
      form: {
        id: newFormId(now),
        sellerTenantId,
        ...(buyerTenantId === undefined ? {} : { buyerTenantId }),
        filerTenantId: tenant.id,
        filedBy: f.filedBy,
        blueNumber: invoice.number,
        reason: f.reason,
        state,
        claims,
        ...claimTotals(claims),
        requestKey: f.requestKey,
        ...(f.idempotencyKey === undefined ? {} : { idempotencyKey: f.idempotencyKey }),
        ...(state === '02' || state === '03' ? { expiresAt: expiryOf(now) } : {}),
      },
    };
  }

  /**
   * An existing form answered again. One in 01 without its red invoice (filed where no issue writer ran, e.g. before
   * filing and issuing shared a transaction) gets it now.
   */
  private async answerExisting(form: RedLetterForm, by: AuditStamp, actingTenant: string): Promise<FileResult> {
    if (!this.writer || form.state !== '01' || form.redNumber !== undefined) return { outcome: 'existing', form };
    try {
      return { outcome: 'existing', form: await this.issueRedOf(form, by, undefined, actingTenant) };
    } catch (error) {
      // A concurrent request for the same form (on any node) issued its red invoice first: answer the form as it is now.
      if (!(error instanceof AppError) || error.code !== 'RED_LETTER_TRANSITION_REFUSED') throw error;
      const now = await this.deps.uow.read.redLetter.getFor(actingTenant, form.id);
      if (now?.redNumber === undefined) throw error;
      return { outcome: 'existing', form: now };
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
        return this.issueRedOf(form, by, { from: form.state, to, action, actor: by.actor, party }, tenant.id);
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
   * Issues the red invoice of an existing form (a confirmation, or a form in 01 left without one): in the issuing
   * transaction, under the form's row lock, re-checks the form (still in the state it was read in, no red invoice
   * yet), makes `move` if given (to 04) and records the red number.
   */
  private async issueRedOf(form: RedLetterForm, by: AuditStamp, move?: Omit<FormTransition, 'at'>, auditTenant?: string): Promise<RedLetterForm> {
    await this.issueRed(form, by, auditTenant, async (tx, red) => {
      const now = this.deps.clock.now();
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
      return current;
    });
    const after = await this.deps.uow.read.redLetter.getFor(form.sellerTenantId, form.id);
    return after ?? form;
  }

  /**
   * Issues the red invoice of `form` (its claims, its id in the remark) through the issue writer. In the issuing
   * transaction `settle` runs first, after the blue invoice's lock row (taken first, as filing takes it): it writes the
   * form's side (a new form, or the move of an existing one, and the red number) and answers the form as committed;
   * then the blue invoice's status is set from every red invoice of its forms and `invoice.red-flushed` announced.
   * Anything thrown rolls the whole transaction back. The negative amount gives the issuing quota back (a charge below
   * zero always passes).
   */
  private async issueRed(
    form: Pick<RedLetterForm, 'id' | 'sellerTenantId' | 'blueNumber' | 'claims'>, by: AuditStamp, auditTenant: string | undefined,
    settle: (tx: RedLetterTx, red: Invoice) => Promise<RedLetterForm>,
  ): Promise<void> {
    const writer = this.writer!;
    const seller = await this.deps.uow.read.tenants.get(form.sellerTenantId);
    const blue = await this.deps.uow.read.invoices.get(form.sellerTenantId, form.blueNumber);
    if (!seller || !blue) throw notFound();
    const lines = redLines(blue.lines, form.claims);
    await writer.write({
      tenantId: seller.id, regionCode: seller.regionCode, channel: seller.channel,
      ...(seller.signingAlgorithm ? { signingAlgorithm: seller.signingAlgorithm } : {}),
      draft: {
        type: blue.type, kind: 'red', seller: blue.seller, buyer: blue.buyer, lines, priceIncludesTax: blue.priceIncludesTax,
        totals: computeTotals(lines), remarks: redRemark(blue.number, form.id), issuer: blue.issuer,
        originalNumber: blue.number, redLetterFormId: form.id,
      },
      // The acting tenant's request id is on every audit entry, but only on that tenant's own events.
      audit: auditTenant === undefined || auditTenant === seller.id ? by : { ...by, foreignRequest: true },
      within: async (issueTx: IssueTx, red) => {
        const tx = asRedLetterTx(issueTx);
        // The blue invoice's lock row before the form's, as filing takes them (a filing holding it may be checking its
        // unique key against this form's row).
        await tx.redLetter.lockBlue(blue.number, seller.id);
        const current = await settle(tx, red);
        const issued = (await tx.redLetter.formsOfBlue(blue.number)).filter((f) => f.redNumber !== undefined || f.id === form.id).map((f) => f.claims);
        const status = blueStatus(blue.lines, issued);
        await tx.invoices.setStatus(seller.id, blue.number, status);
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
