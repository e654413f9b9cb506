// The light half of the composition root (app.ts): storage and the administrative services the CLI needs, without
// listeners, signer threads, jobs or Redis. It imports nothing of the HTTP stack, so that `fapiao tenant list` and the
// other administrative commands do not load the server's modules before they can answer.
import { mkdirSync } from 'node:fs';
import type { Config } from './config/config.ts';
import { loadOrCreateMasterKey, masterKeyRing } from './platform/crypto/key-store.ts';
import type { Invoice } from './modules/invoicing/domain/invoice.ts';
import { AuditService } from './modules/audit/app/audit-service.ts';
import { DataKeyService } from './modules/keys/app/data-key-service.ts';
import { systemClock } from './shared/clock.ts';
import { TenantService } from './modules/tenants/app/tenant-service.ts';
import { createStorage } from './platform/storage/create-storage.ts';
import type { FieldProtectorOptions } from './platform/storage/field-protector.ts';
import type { Storage } from './platform/storage/storage.ts';

/** Field protection from config: algorithm of new data keys and the master-key ring (current + previous versions). */
export function protectionOptions(config: Readonly<Config>, masterKey: Uint8Array): FieldProtectorOptions {
  const ring = masterKeyRing(masterKey, config.masterKeyVersion, config.previousMasterKeys);
  ring.delete(config.masterKeyVersion);
  return { alg: config.fields.algorithm, masterVersion: config.masterKeyVersion, previousMasterKeys: ring };
}

/** The services the CLI's administrative commands need, without listeners or signer threads. */
export interface AdminContext {
  tenants: TenantService;
  dataKeys: DataKeyService;
  audit: AuditService;
  storage: Storage;
  /** Any tenant's invoice by number, for offline checks by the operator. */
  findInvoice(number: string): Promise<Invoice | undefined>;
  publicKeys(): Promise<{ keyId: string; publicKey: string }[]>;
  close(): Promise<void>;
}

export async function createAdminContext(config: Readonly<Config>): Promise<AdminContext> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // The master key decrypts the buyer's personal data for offline checks (findInvoice).
  const masterKey = loadOrCreateMasterKey(config.dataDir, config.masterKey);
  const storage = createStorage(config.databaseUrl, {
    masterKey, protection: protectionOptions(config, masterKey),
    // The command fails with STORAGE_UNAVAILABLE; the operator also needs the engine's reason (disk full, refused…).
    health: { onDown: (err) => process.stderr.write(`fapiao: the database refused: ${err instanceof Error ? err.message : String(err)}\n`) },
  });
  await storage.migrate();
  const tenants = new TenantService({
    tenants: storage.tenants, apiKeys: storage.apiKeys, clock: systemClock,
    defaultChannel: config.issuing.defaultChannel, taxIdExceptions: config.issuing.taxIdExceptions,
  });
  return {
    tenants,
    dataKeys: new DataKeyService({ dataKeys: storage.dataKeys, tenants: storage.tenants, defaultAlgorithm: config.fields.algorithm }),
    audit: new AuditService({ audit: storage.audit, clock: systemClock, retentionDays: config.audit.retentionDays }),
    storage,
    findInvoice: (number) => storage.invoices.findForVerification(number),
    publicKeys: async () => (await storage.signingKeys.list()).map((k) => ({ keyId: k.id, publicKey: k.publicKey })),
    close: () => storage.close(),
  };
}
