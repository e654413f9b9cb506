// A tenant's e-mail delivery settings (table tenant_email_settings, migration 0015). No row: the defaults.
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import type { AttachmentFormat, EmailLang } from '../domain/email-template.ts';

export interface EmailSettings {
  /** Send every newly issued invoice to its buyer's e-mail (when it has one). */
  autoSend: boolean;
  /** The attachments when a request names none. */
  formats: AttachmentFormat[];
  lang: EmailLang;
}

export const DEFAULT_EMAIL_SETTINGS: Readonly<EmailSettings> = Object.freeze({ autoSend: false, formats: ['pdf', 'ofd', 'xml'] as AttachmentFormat[], lang: 'zh' as const });

export class EmailSettingsRepository {
  constructor(private readonly scope: Scope) {}

  async get(tenantId: string): Promise<EmailSettings> {
    const r = await this.scope.db.selectFrom('tenant_email_settings').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
    if (!r) return { ...DEFAULT_EMAIL_SETTINGS, formats: [...DEFAULT_EMAIL_SETTINGS.formats] };
    return { autoSend: Number(r.auto_send) === 1, formats: JSON.parse(r.formats) as AttachmentFormat[], lang: r.lang as EmailLang };
  }

  /** The settings of the tenants among these that send automatically. */
  async autoSenders(tenantIds: readonly string[]): Promise<Map<string, EmailSettings>> {
    const out = new Map<string, EmailSettings>();
    if (tenantIds.length === 0) return out;
    const rows = await this.scope.db.selectFrom('tenant_email_settings').selectAll()
      .where('tenant_id', 'in', [...new Set(tenantIds)]).where('auto_send', '=', 1).execute();
    for (const r of rows) out.set(r.tenant_id, { autoSend: true, formats: JSON.parse(r.formats) as AttachmentFormat[], lang: r.lang as EmailLang });
    return out;
  }

  async put(tenantId: string, s: EmailSettings): Promise<void> {
    const at = stampOf(this.scope);
    const values = { auto_send: s.autoSend ? 1 : 0, formats: JSON.stringify(s.formats), lang: s.lang, updated_at: at };
    await this.scope.db.insertInto('tenant_email_settings').values({ tenant_id: tenantId, ...values })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet(values)).execute();
  }
}
