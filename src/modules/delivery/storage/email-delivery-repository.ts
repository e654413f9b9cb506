// E-mail messages of invoices (table email_deliveries, migration 0015), taken by the e-mail dispatcher the way
// webhook deliveries are (webhook-delivery-repository.ts): due rows locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
// SQLite's single writer), leased by moving next_attempt_at past the attempt's timeout and counting the attempt, the
// outcome recorded with a compare-and-set on that lease. A node killed mid-attempt leaves a lease that runs out; the
// message is then sent again (SMTP has no receiver-side deduplication, so a crash between the server's acceptance and
// the recording can duplicate a message: at least once, never "sent" without acceptance).
//
// The recipient given in a request is buyer personal data: encrypted under the tenant's data key (field-cipher.ts, AAD
// tenant / email_deliveries / recipient / row id) before the row is written, decrypted on read.
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { EmailDeliveriesTable } from '../../../platform/storage/database.ts';
import { isEncryptedField, type DataKey, type FieldContext } from '../../../platform/crypto/field-cipher.ts';
import type { AttachmentFormat, EmailLang } from '../domain/email-template.ts';

export type EmailStatus = 'queued' | 'failed' | 'sent' | 'dead';
export type EmailSource = 'request' | 'auto';

export interface EmailDelivery {
  tenantId: string;
  id: string;
  number: string;
  /** The address given in the request (decrypted), or null: the invoice's buyer e-mail. */
  recipient: string | null;
  formats: AttachmentFormat[];
  lang: EmailLang;
  source: EmailSource;
  eventId: string;
  status: EmailStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastReplyCode: number | null;
  lastReply: string | null;
  messageId: string | null;
  createdAt: string;
  sentAt: string | null;
}

export interface NewEmailDelivery {
  tenantId: string;
  id: string;
  number: string;
  recipient: string | null;
  formats: readonly AttachmentFormat[];
  lang: EmailLang;
  source: EmailSource;
  eventId: string;
  sourceEventId?: string;
}

export interface EmailLease {
  delivery: EmailDelivery;
  attempts: number;
  until: string;
}

export type EmailOutcome =
  | { status: 'sent'; messageId: string; reply: string; code: number }
  | { status: 'failed'; nextAttemptAt: string; reply: string; code: number | null }
  | { status: 'dead'; reply: string; code: number | null };

const context = (tenantId: string, id: string): FieldContext => ({ tenantId, table: 'email_deliveries', column: 'recipient', rowId: id });

/** The table whose new rows the unit of work announces after commit (UnitOfWork.afterCommit). */
export const EMAIL_DELIVERIES_TABLE = 'email_deliveries';

export class EmailDeliveryRepository {
  constructor(private readonly scope: Scope) {}

  private get db() {
    return this.scope.db;
  }

  /** The tenant's current data key (call outside a transaction: it may create the tenant's first key); undefined without field keys. */
  async dataKeyFor(tenantId: string): Promise<DataKey | undefined> {
    return this.scope.fields?.dataKeyFor(this.scope.db, tenantId);
  }

  private async toDelivery(r: EmailDeliveriesTable): Promise<EmailDelivery> {
    let recipient = r.recipient_sealed;
    if (recipient !== null && isEncryptedField(recipient)) {
      if (!this.scope.fields) throw new Error('an encrypted recipient needs field keys (a master key)');
      recipient = await this.scope.fields.decrypt(this.db, r.tenant_id, recipient, context(r.tenant_id, r.id));
    }
    return {
      tenantId: r.tenant_id, id: r.id, number: r.invoice_number, recipient,
      formats: JSON.parse(r.formats) as AttachmentFormat[], lang: r.lang as EmailLang, source: r.source as EmailSource,
      eventId: r.event_id, status: r.status as EmailStatus, attempts: Number(r.attempts), nextAttemptAt: r.next_attempt_at,
      lastAttemptAt: r.last_attempt_at, lastReplyCode: r.last_reply_code === null ? null : Number(r.last_reply_code),
      lastReply: r.last_reply, messageId: r.message_id, createdAt: r.created_at, sentAt: r.sent_at,
    };
  }

  /**
   * Adds messages, due at once. `dataKey` encrypts a request's recipient (required when field keys are configured and
   * a row names one). A row of automatic sending whose source event already has one is kept as it is.
   */
  async insertMany(rows: readonly NewEmailDelivery[], dataKeys: ReadonlyMap<string, DataKey | undefined> = new Map()): Promise<void> {
    const at = stampOf(this.scope);
    if (rows.length === 0) return;
    // After the commit, the unit of work wakes the e-mail dispatcher (UnitOfWork.afterCommit).
    this.scope.signal?.(EMAIL_DELIVERIES_TABLE);
    const values = rows.map((r) => {
      let sealed: string | null = r.recipient;
      if (r.recipient !== null && this.scope.fields) {
        const key = dataKeys.get(r.tenantId);
        if (!key) throw new Error('a recipient needs the tenant\'s data key');
        sealed = this.scope.fields.encrypt(key, r.recipient, context(r.tenantId, r.id));
      }
      return {
        tenant_id: r.tenantId, id: r.id, invoice_number: r.number, recipient_sealed: sealed, formats: JSON.stringify(r.formats),
        lang: r.lang, source: r.source, event_id: r.eventId, source_event_id: r.sourceEventId ?? null, status: 'queued', attempts: 0,
        next_attempt_at: at, last_attempt_at: null, last_reply_code: null, last_reply: null, message_id: null, created_at: at, sent_at: null,
      };
    });
    await this.db.insertInto('email_deliveries').values(values)
      .onConflict((oc) => oc.columns(['tenant_id', 'source_event_id']).doNothing()).execute();
  }

  /** Due messages, earliest first, locked for this transaction and skipping rows another holds. */
  async lockDue(limit: number): Promise<EmailDelivery[]> {
    const at = stampOf(this.scope);
    let q = this.db.selectFrom('email_deliveries').selectAll().where('next_attempt_at', '<=', at).orderBy('next_attempt_at').limit(limit);
    if (this.scope.traits.engine === 'postgres') q = q.forUpdate().skipLocked();
    const rows = await q.execute();
    return Promise.all(rows.map((r) => this.toDelivery(r)));
  }

  async lease(d: EmailDelivery, until: string): Promise<EmailLease> {
    stampOf(this.scope);
    const attempts = d.attempts + 1;
    await this.db.updateTable('email_deliveries').set({ attempts, next_attempt_at: until })
      .where('tenant_id', '=', d.tenantId).where('id', '=', d.id).execute();
    return { delivery: { ...d, attempts, nextAttemptAt: until }, attempts, until };
  }

  /** Records an attempt's outcome if the lease is still this attempt's; false when it ran out and was taken over. */
  async record(lease: EmailLease, o: EmailOutcome): Promise<boolean> {
    const at = stampOf(this.scope);
    const r = await this.db.updateTable('email_deliveries').set({
      status: o.status,
      next_attempt_at: o.status === 'failed' ? o.nextAttemptAt : null,
      last_attempt_at: at, last_reply_code: o.code, last_reply: o.reply,
      ...(o.status === 'sent' ? { message_id: o.messageId, sent_at: at } : {}),
    })
      .where('tenant_id', '=', lease.delivery.tenantId).where('id', '=', lease.delivery.id)
      .where('attempts', '=', lease.attempts).where('next_attempt_at', '=', lease.until)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** The earliest next_attempt_at (leases included), for the dispatcher's sleep. */
  async nextDueAt(): Promise<string | undefined> {
    const r = await this.db.selectFrom('email_deliveries').select((eb) => eb.fn.min('next_attempt_at').as('at')).executeTakeFirst();
    return r?.at ?? undefined;
  }

  async get(tenantId: string, id: string): Promise<EmailDelivery | undefined> {
    const r = await this.db.selectFrom('email_deliveries').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return r ? this.toDelivery(r) : undefined;
  }

  /** One invoice's messages, newest first. */
  async listForInvoice(tenantId: string, number: string, limit: number): Promise<EmailDelivery[]> {
    const rows = await this.db.selectFrom('email_deliveries').selectAll()
      .where('tenant_id', '=', tenantId).where('invoice_number', '=', number)
      .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return Promise.all(rows.map((r) => this.toDelivery(r)));
  }
}
