// A tenant's document settings (table tenant_document_settings, migration 0017): one JSON text per tenant, read with
// the defaults under it, so a setting added later has its default for every tenant that never chose. No row: defaults.
import { stampOf, type Scope } from '../../../platform/storage/unit-of-work.ts';
import { applyDocumentSettings, defaultDocumentSettings, type DocumentSettings, type DocumentSettingsChange } from '../domain/document-settings.ts';

export class DocumentSettingsRepository {
  constructor(private readonly scope: Scope) {}

  async get(tenantId: string): Promise<DocumentSettings> {
    const r = await this.scope.db.selectFrom('tenant_document_settings').select('settings').where('tenant_id', '=', tenantId).executeTakeFirst();
    return r ? applyDocumentSettings(defaultDocumentSettings(), JSON.parse(r.settings) as DocumentSettingsChange) : defaultDocumentSettings();
  }

  async put(tenantId: string, s: DocumentSettings): Promise<void> {
    const values = { settings: JSON.stringify(s), updated_at: stampOf(this.scope) };
    await this.scope.db.insertInto('tenant_document_settings').values({ tenant_id: tenantId, ...values })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet(values)).execute();
  }
}
