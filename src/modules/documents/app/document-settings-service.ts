// The tenant's document settings, the use cases: read them, change them (one unit of work with its audit entry
// `document-settings.update`), and the rendering options a download or an e-mail attachment uses.
import type { Clock } from '../../../shared/clock.ts';
import type { UnitOfWork } from '../../../platform/storage/unit-of-work.ts';
import { stampEntry, type AuditRepository, type AuditStamp } from '../../audit/index.ts';
import { applyDocumentSettings, renderOptionsOf, type DocumentSettings, type DocumentSettingsChange, type FaceOverride } from '../domain/document-settings.ts';
import type { RenderOptions } from '../domain/ledger-proof.ts';
import type { DocumentSettingsRepository } from '../storage/document-settings-repository.ts';

export interface DocumentSettingsTx {
  documentSettings: DocumentSettingsRepository;
  audit: AuditRepository;
}

/** Where a download's rendering options come from. */
export interface DocumentOptionsSource {
  renderOptions(tenantId: string, override?: FaceOverride): Promise<Pick<RenderOptions, 'face' | 'ubl'>>;
}

export class DocumentSettingsService implements DocumentOptionsSource {
  constructor(private readonly opts: { uow: UnitOfWork<DocumentSettingsTx>; clock: Clock }) {}

  settings(tenantId: string): Promise<DocumentSettings> {
    return this.opts.uow.read.documentSettings.get(tenantId);
  }

  update(tenantId: string, change: DocumentSettingsChange, by: AuditStamp): Promise<DocumentSettings> {
    return this.opts.uow.run(this.opts.clock.now(), async (tx) => {
      const next = applyDocumentSettings(await tx.documentSettings.get(tenantId), change);
      await tx.documentSettings.put(tenantId, next);
      await tx.audit.append([{ ...stampEntry(by, 'document-settings.update', tenantId, tenantId), details: { ...next } }]);
      return next;
    });
  }

  /** How the tenant's documents are rendered, with a request's overrides of the printed face. */
  async renderOptions(tenantId: string, override: FaceOverride = {}): Promise<Pick<RenderOptions, 'face' | 'ubl'>> {
    return renderOptionsOf(await this.settings(tenantId), override);
  }
}
