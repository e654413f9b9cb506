// The e-mail dispatcher: a lifecycle job on every node, the e-mail half of the delivery machinery (docs/email.md). Like
// the webhook dispatcher it claims due messages in one short unit of work (locked, leased past the attempt's timeouts,
// the attempt counted), sends each outside any transaction and records the outcome with a compare-and-set on the
// lease; failures are retried on the webhook retry schedule (domain/retry-schedule.ts) and dead-lettered after the
// last attempt. A message is `sent` only when the SMTP server accepted it (smtp-mailer.ts).
//
// Automatic sending on issue (`autoSendRows`) runs inside the webhook dispatcher's fan-out transaction: the
// `invoice.issued` event was committed with the invoice, so an acknowledged issue always reaches the fan-out, and the
// message row, its `invoice.email-queued` event and the event's "dispatched" mark commit together or not at all.
import type { Clock } from '../../../shared/clock.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import type { Invoice } from '../../../shared/invoice.ts';
import { EVENT_TYPES, outboxEvent, parseEnvelope, type EventOrigin, type OutboxRepository, type UndispatchedEvent } from '../../events/index.ts';
import type { InvoiceRepository } from '../../invoicing/index.ts';
import type { TenantRepository } from '../../tenants/index.ts';
import { renderInvoice, type RenderOptions } from '../../documents/index.ts';
import { renderEmail, redactReply } from '../domain/email-template.ts';
import { nextAttemptAt } from '../domain/retry-schedule.ts';
import type { EmailDelivery, EmailDeliveryRepository, EmailLease, EmailOutcome } from '../storage/email-delivery-repository.ts';
import type { EmailSettingsRepository } from '../storage/email-settings-repository.ts';
import type { Mailer, MailResult } from './smtp-mailer.ts';
import { randomBytes } from 'node:crypto';

export const newEmailDeliveryId = () => `eml_${randomBytes(12).toString('hex')}`;

export const EMAIL_QUEUED = 'invoice.email-queued';

export interface EmailTx {
  outbox: OutboxRepository;
  invoices: InvoiceRepository;
  tenants: TenantRepository;
  emailDeliveries: EmailDeliveryRepository;
  emailSettings: EmailSettingsRepository;
}

/** The outbox event announcing a queued message (never the address); `origin`: the request that asked for it. */
export function emailQueuedEvent(d: { tenantId: string; number: string; id: string; source: string; formats: readonly string[]; lang: string }, at: Date, origin?: EventOrigin) {
  return outboxEvent(d.tenantId, EMAIL_QUEUED, EVENT_TYPES[EMAIL_QUEUED].version, at, {
    number: d.number, deliveryId: d.id, source: d.source, formats: [...d.formats], lang: d.lang,
  }, origin);
}

/**
 * In the fan-out transaction: one message per `invoice.issued` event of a tenant that sends automatically, when the
 * invoice has a buyer e-mail. Returns how many were queued (each with its own outbox event).
 */
export async function autoSendRows(tx: EmailTx, events: readonly UndispatchedEvent[], at: Date): Promise<number> {
  const issued = events.filter((e) => e.type === 'invoice.issued');
  if (issued.length === 0) return 0;
  const senders = await tx.emailSettings.autoSenders(issued.map((e) => e.tenantId));
  const mine = issued.filter((e) => senders.has(e.tenantId));
  if (mine.length === 0) return 0;
  const payloads = await tx.outbox.payloads(mine.map((e) => e.eventId));
  const rows = [];
  for (const e of mine) {
    const issuedEvent = parseEnvelope(payloads.get(e.eventId) ?? '');
    const number = (issuedEvent?.data as { number?: unknown } | undefined)?.number;
    if (typeof number !== 'string') continue;
    const invoice = await tx.invoices.get(e.tenantId, number);
    if (!invoice?.buyer.email) continue;
    const s = senders.get(e.tenantId)!;
    const id = newEmailDeliveryId();
    const event = emailQueuedEvent({ tenantId: e.tenantId, number, id, source: 'auto', formats: s.formats, lang: s.lang }, at, originOf(issuedEvent));
    rows.push({ row: { tenantId: e.tenantId, id, number, recipient: null, formats: s.formats, lang: s.lang, source: 'auto' as const, eventId: event.eventId, sourceEventId: e.eventId }, event });
  }
  await tx.emailDeliveries.insertMany(rows.map((r) => r.row));
  await tx.outbox.append(rows.map((r) => r.event));
  return rows.length;
}

/** An automatic message names the request that issued its invoice, as that `invoice.issued` does. */
function originOf(e: { requestId?: string } | undefined): EventOrigin | undefined {
  return typeof e?.requestId === 'string' ? { requestId: e.requestId } : undefined;
}

export interface EmailDispatcherOptions {
  uow: UnitOfWork<EmailTx>;
  clock: Clock;
  mailer: Mailer;
  from: string;
  maxInFlight: number;
  leaseMs: number;
  idlePollMs: number;
  /** The 查验 page named in the message. */
  verifyUrl?: () => string;
  /**
   * The options the API renders this invoice's documents with (its ledger proof, the OFD signer), so an attachment is
   * the file `GET /v1/invoices/{number}?format=` answers at that moment.
   */
  documentOptions?: (tenantId: string, invoice: Invoice) => Promise<RenderOptions>;
  random?: () => number;
  log?: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export class EmailDispatcher {
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private cycling = false;
  private again = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly random: () => number;
  private lastErrorLog = 0;

  constructor(private readonly opts: EmailDispatcherOptions) {
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  nudge(): void {
    if (!this.running) return;
    if (this.cycling) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  activeCount(): number {
    return this.inFlight.size;
  }

  private schedule(delayMs: number): void {
    if (!this.running || this.timer !== undefined || this.cycling) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.cycle();
    }, delayMs);
    this.timer.unref();
  }

  private async cycle(): Promise<void> {
    this.cycling = true;
    this.again = false;
    let delay = this.opts.idlePollMs;
    try {
      let due = await this.opts.uow.read.emailDeliveries.nextDueAt();
      const now = this.opts.clock.now();
      if (due !== undefined && Date.parse(due) <= now.getTime() && this.inFlight.size < this.opts.maxInFlight) {
        for (const lease of await this.claim()) this.launch(lease);
        due = await this.opts.uow.read.emailDeliveries.nextDueAt();
      }
      const t = this.opts.clock.now().getTime();
      if (due !== undefined && Date.parse(due) > t) delay = Math.min(delay, Date.parse(due) - t);
    } catch (err) {
      if (Date.now() - this.lastErrorLog >= 10_000) {
        this.lastErrorLog = Date.now();
        this.opts.log?.error({ err }, 'e-mail dispatch cycle failed; retrying');
      }
    } finally {
      this.cycling = false;
    }
    this.schedule(this.again ? 0 : delay);
  }

  private async claim(): Promise<EmailLease[]> {
    const free = this.opts.maxInFlight - this.inFlight.size;
    const now = this.opts.clock.now();
    const until = new Date(now.getTime() + this.opts.leaseMs).toISOString();
    return this.opts.uow.run(now, async (tx) => {
      const due = await tx.emailDeliveries.lockDue(free);
      const out: EmailLease[] = [];
      for (const d of due) out.push(await tx.emailDeliveries.lease(d, until));
      return out;
    });
  }

  private launch(lease: EmailLease): void {
    const p = this.attempt(lease)
      .catch((err: unknown) => this.opts.log?.error({ err, delivery: lease.delivery.id }, 'recording an e-mail attempt failed; the lease will run out and it is tried again'))
      .finally(() => {
        this.inFlight.delete(p);
        this.nudge();
      });
    this.inFlight.add(p);
  }

  /** The message of one delivery, or why there is none (a permanent failure). */
  private async message(d: EmailDelivery, invoice: Invoice | undefined) {
    if (!invoice) return { problem: 'the invoice is gone' };
    const to = d.recipient ?? invoice.buyer.email;
    if (!to) return { problem: 'no recipient: the invoice has no buyer e-mail' };
    const tenant = await this.opts.uow.read.tenants.get(d.tenantId);
    const sellerName = tenant?.name ?? invoice.seller.name;
    const attachments = [];
    for (const f of d.formats) {
      // The same function the API serves documents with (modules/invoicing/http/render-invoice.ts): byte-equal files.
      const doc = await renderInvoice(invoice, f, this.opts.documentOptions ? await this.opts.documentOptions(d.tenantId, invoice) : {});
      attachments.push({ filename: doc.filename, content: Buffer.isBuffer(doc.body) ? doc.body : Buffer.from(doc.body, 'utf8'), contentType: doc.contentType });
    }
    const mail = renderEmail({
      lang: d.lang, sellerName, buyerName: invoice.buyer.name, number: invoice.number, issueDate: invoice.issueDate,
      total: invoice.totals.total, formats: d.formats, ...(this.opts.verifyUrl ? { verifyUrl: this.opts.verifyUrl() } : {}),
    });
    const domain = this.opts.from.slice(this.opts.from.lastIndexOf('@') + 1);
    // One Message-ID per delivery, the same on every attempt: a receiver can drop the copy a retry after a crash sends.
    return { to, message: { from: { name: sellerName, address: this.opts.from }, to, ...mail, attachments, messageId: `<${d.id}@${domain}>` } };
  }

  private async attempt(lease: EmailLease): Promise<void> {
    const d = lease.delivery;
    let result: MailResult;
    let permanent = false;
    try {
      const m = await this.message(d, await this.opts.uow.read.invoices.get(d.tenantId, d.number));
      if ('problem' in m) {
        result = { ok: false, code: null, response: m.problem! };
        permanent = true;
      } else {
        result = await this.opts.mailer(m.message);
      }
    } catch (err) {
      // Rendering or decryption: logged without the library's message (it may quote the buyer's data), retried.
      this.opts.log?.error({ delivery: d.id, errType: err instanceof Error ? err.name : typeof err }, 'preparing an invoice e-mail failed');
      result = { ok: false, code: null, response: 'the message could not be prepared; see the server log' };
    }
    const at = this.opts.clock.now();
    const reply = redactReply(result.response);
    let outcome: EmailOutcome;
    if (result.ok) outcome = { status: 'sent', messageId: result.messageId, reply, code: result.code };
    else {
      const next = permanent ? undefined : nextAttemptAt(lease.attempts, at, this.random());
      outcome = next ? { status: 'failed', nextAttemptAt: next.toISOString(), reply, code: result.code } : { status: 'dead', reply, code: result.code };
    }
    await this.opts.uow.run(at, async (tx) => {
      if (!(await tx.emailDeliveries.record(lease, outcome))) this.opts.log?.warn({ delivery: d.id }, 'an e-mail attempt outlived its lease; its outcome was not recorded');
    });
  }
}
