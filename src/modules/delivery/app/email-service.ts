// E-mail delivery of invoices, the use cases (docs/email.md): (re)send an invoice, its delivery status, the tenant's
// settings. `send` is one unit of work: the message row (status queued), its `invoice.email-queued` outbox event and
// the audit entry commit together; the e-mail dispatcher sends it after the commit. Every query is scoped by tenant:
// another tenant's invoice is not found (404).
import { AppError } from '../../../shared/errors.ts';
import type { Clock } from '../../../shared/clock.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import { stampEntry, type AuditRepository, type AuditStamp } from '../../audit/index.ts';
import { isInvoiceNumber } from '../../invoicing/index.ts';
import type { AttachmentFormat, EmailLang } from '../domain/email-template.ts';
import type { EmailDelivery } from '../storage/email-delivery-repository.ts';
import type { EmailSettings } from '../storage/email-settings-repository.ts';
import { emailQueuedEvent, newEmailDeliveryId, type EmailTx } from './email-dispatcher.ts';

export interface SendInput {
  to?: string;
  formats?: AttachmentFormat[];
  lang?: EmailLang;
}

export interface EmailServiceOptions {
  uow: UnitOfWork<EmailTx & { audit: AuditRepository }>;
  clock: Clock;
  /** False when no SMTP server is configured. */
  configured: boolean;
}

/** A delivery with the address it goes to (the request's, or the invoice's buyer e-mail). */
export type EmailDeliveryView = EmailDelivery & { to: string | null };

const dedupe = <T>(xs: readonly T[]) => [...new Set(xs)];

export class EmailService {
  constructor(private readonly opts: EmailServiceOptions) {}

  private async invoice(tenantId: string, number: string) {
    const invoice = isInvoiceNumber(number) ? await this.opts.uow.read.invoices.get(tenantId, number) : undefined;
    if (!invoice) throw new AppError('INVOICE_NOT_FOUND', { field: '/number' });
    return invoice;
  }

  async send(tenantId: string, number: string, input: SendInput, by: AuditStamp): Promise<EmailDeliveryView> {
    if (!this.opts.configured) throw new AppError('EMAIL_NOT_CONFIGURED');
    const invoice = await this.invoice(tenantId, number);
    const settings = await this.opts.uow.read.emailSettings.get(tenantId);
    const to = input.to ?? invoice.buyer.email;
    if (!to) throw new AppError('EMAIL_RECIPIENT_MISSING', { field: '/to' });
    const formats = dedupe(input.formats ?? settings.formats);
    const lang = input.lang ?? settings.lang;
    // The data key is fetched (or made) before the unit of work, in its own statements, as issuing does.
    const dataKey = input.to !== undefined ? await this.opts.uow.read.emailDeliveries.dataKeyFor(tenantId) : undefined;
    const id = newEmailDeliveryId();
    const at = this.opts.clock.now();
    const d = await this.opts.uow.run(at, async (tx) => {
      const event = emailQueuedEvent({ tenantId, number, id, source: 'request', formats, lang }, at, by);
      await tx.emailDeliveries.insertMany([{ tenantId, id, number, recipient: input.to ?? null, formats, lang, source: 'request', eventId: event.eventId }], new Map([[tenantId, dataKey]]));
      await tx.outbox.append([event]);
      await tx.audit.append([{ ...stampEntry(by, 'invoice.send', number, tenantId), details: { delivery: id, formats } }]);
      return (await tx.emailDeliveries.get(tenantId, id))!;
    });
    return { ...d, to };
  }

  /** The messages of one invoice, newest first. */
  async deliveries(tenantId: string, number: string, limit = 100): Promise<EmailDeliveryView[]> {
    const invoice = await this.invoice(tenantId, number);
    const rows = await this.opts.uow.read.emailDeliveries.listForInvoice(tenantId, number, limit);
    return rows.map((d) => ({ ...d, to: d.recipient ?? invoice.buyer.email ?? null }));
  }

  async settings(tenantId: string): Promise<EmailSettings> {
    return this.opts.uow.read.emailSettings.get(tenantId);
  }

  async updateSettings(tenantId: string, change: Partial<EmailSettings>, by: AuditStamp): Promise<EmailSettings> {
    return this.opts.uow.run(this.opts.clock.now(), async (tx) => {
      const current = await tx.emailSettings.get(tenantId);
      const next: EmailSettings = {
        autoSend: change.autoSend ?? current.autoSend,
        formats: change.formats ? dedupe(change.formats) : current.formats,
        lang: change.lang ?? current.lang,
      };
      await tx.emailSettings.put(tenantId, next);
      await tx.audit.append([{ ...stampEntry(by, 'email-settings.update', tenantId, tenantId), details: { ...next } }]);
      return next;
    });
  }
}
