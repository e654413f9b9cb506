// The one composition root, for `fapiao serve` and every CLI command: configuration in, services out, and a
// lifecycle that starts and stops what runs. Role `admin` (the CLI's administrative commands) opens storage and the
// administrative services only; role `server` adds Redis, the signer threads, the issue writer, the event stream,
// background jobs and the listeners — loaded only then (server-services.ts), so a CLI command does not pay for the
// HTTP stack.
import { mkdirSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config/config.ts';
import type { MasterKey } from './platform/crypto/key-store.ts';
import { openMasterKeys, type MasterKeyProvider, type OpenedMasterKeys } from './platform/crypto/master-keys.ts';
import type { QueryObserver } from './platform/storage/query-log.ts';
import { createStorage } from './platform/storage/create-storage.ts';
import type { FieldKeysOptions } from './platform/storage/field-keys.ts';
import type { MigrationOutcome, StorageEngine } from './platform/storage/storage-engine.ts';
import type { UnitOfWork } from './platform/storage/unit-of-work.ts';
import { systemClock, type Clock } from './shared/clock.ts';
import { AuditService } from './modules/audit/app/audit-service.ts';
import { DataKeyService } from './modules/keys/app/data-key-service.ts';
import { KeyService } from './modules/keys/app/key-service.ts';
import { TenantService } from './modules/tenants/app/tenant-service.ts';
import { RedLetterService } from './modules/red-letter/app/red-letter-service.ts';
import { ReceivedService } from './modules/received/app/received-service.ts';
import { OfflineLookup } from './modules/verification/app/offline-lookup.ts';
import { LogKeyService } from './modules/ledger/app/log-keys.ts';
import { ReconciliationService } from './modules/reconciliation/app/reconciliation-service.ts';
import { StatementService } from './modules/reconciliation/app/statement-service.ts';
import { Lifecycle } from './lifecycle.ts';
import { unitOfWork, type Repositories } from './repositories.ts';
import type { ServerPart, ServerOptions } from './server-services.ts';

export type Role = 'admin' | 'server';

export interface ContainerOptions extends ServerOptions {
  logger?: Logger;
  clock?: Clock;
  /** Observes every SQL statement the storage runs, besides the slow-query log (test/storage/query-plans.test.ts). */
  onQuery?: QueryObserver;
}

/** The services every role has. */
export interface AdminServices {
  tenants: TenantService;
  dataKeys: DataKeyService;
  audit: AuditService;
  keys: KeyService;
  /** Any tenant's invoice by number and the published keys, for the operator's offline checks. */
  lookup: OfflineLookup;
  /** Red-letter confirmation forms (modules/red-letter/). */
  redLetter: RedLetterService;
  /** The ledger's log key (modules/ledger/app/log-keys.ts), made by `init` or on first start. */
  ledgerKeys: LogKeyService;
  /** Statements and the monthly summary (modules/reconciliation/). */
  statements: StatementService;
  /** ERP uploads matched against the invoices (modules/reconciliation/); the server's job runs them. */
  reconciliations: ReconciliationService;
  /** Invoices received by buyer tenants and their booking status (modules/received/). */
  received: ReceivedService;
}

export interface Container {
  readonly role: Role;
  readonly config: Readonly<Config>;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly storage: StorageEngine;
  readonly uow: UnitOfWork<Repositories>;
  readonly lifecycle: Lifecycle;
  readonly services: AdminServices;
  /** The master key (current version) and every configured version, for secrets sealed at rest. */
  readonly masterKeys: { current: { key: MasterKey; version: number }; ring: ReadonlyMap<number, MasterKey>; provider: MasterKeyProvider };
  /** What opening the database migrated (every migration, applied now or before). */
  readonly migrations: readonly MigrationOutcome[];
  /** Starts what the role runs (jobs); idempotent. */
  start(): Promise<void>;
  /** Stops everything in reverse order of registration. */
  close(): Promise<void>;
}

export interface ServerContainer extends Omit<Container, 'services'>, ServerPart {}

/** The ledger's origin: configured, else the host of the public base URL, else `localhost`. */
export function ledgerOrigin(config: Readonly<Config>): string {
  return config.ledger.origin ?? (config.publicBaseUrl ? new URL(config.publicBaseUrl).host : 'localhost');
}

/**
 * JSON lines with Elastic Common Schema field names (`@timestamp`, `log.level`, `message`, `service.name`, and per
 * request `http.request.id`, `http.request.method`, `url.path`, `http.response.status_code`, `client.ip`,
 * `event.duration`), so a log pipeline indexes them without a mapping of its own. Secrets are redacted by path; the
 * buyer's personal data is never put in a log line in the first place.
 */
export function createLogger(level: Config['logLevel'], destination?: DestinationStream): Logger {
  return pino({
    level,
    messageKey: 'message',
    errorKey: 'error',
    base: { 'service.name': 'fapiao', 'ecs.version': '8.11.0' },
    timestamp: () => `,"@timestamp":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ 'log.level': label }) },
    redact: { paths: ['req.headers.authorization', '*.apiKey', '*.secret', '*.privateKey', '*.masterKey', '*.token'], censor: '[redacted]' },
  }, destination);
}

/** Field protection from config: algorithm of new data keys and the master-key ring (current + previous versions). */
export function protectionOptions(config: Readonly<Config>, keys: Pick<OpenedMasterKeys, 'ring'>): FieldKeysOptions {
  const ring = new Map(keys.ring);
  ring.delete(config.masterKeyVersion);
  return { alg: config.fields.algorithm, masterVersion: config.masterKeyVersion, previousMasterKeys: ring };
}

export async function buildContainer(config: Readonly<Config>, role: 'server', opts?: ContainerOptions): Promise<ServerContainer>;
export async function buildContainer(config: Readonly<Config>, role: 'admin', opts?: ContainerOptions): Promise<Container>;
export async function buildContainer(config: Readonly<Config>, role: Role, opts: ContainerOptions = {}): Promise<Container | ServerContainer> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const clock = opts.clock ?? systemClock;
  const lifecycle = new Lifecycle(logger);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // The master key seals the signing keys and wraps the tenants' data keys (the CLI decrypts with it too): a file key,
  // or a key in an HSM whose session stays open until the lifecycle stops (after storage, registered before it).
  const opened = openMasterKeys(config);
  await lifecycle.add({ name: 'master-key', stop: () => opened.close() });
  const masterKey = opened.current.key;
  const slow = config.slowQueryMs;
  const observe = opts.onQuery;
  // The statement's text only: its parameters may be a buyer's (encrypted) data, a key id, a hash.
  const onQuery: QueryObserver | undefined = slow > 0 || observe
    ? (q) => {
      if (slow > 0 && q.durationMs > slow) logger.warn({ 'db.statement': q.sql, 'event.duration': Math.round(q.durationMs * 1e6) }, 'slow query');
      observe?.(q);
    }
    : undefined;
  const storage = createStorage(config.databaseUrl, {
    masterKey, protection: protectionOptions(config, opened), clock, ...(onQuery ? { onQuery } : {}), preparedStatements: config.pgPreparedStatements,
    health: role === 'server'
      // Once per outage; the refused requests are answered 503 STORAGE_UNAVAILABLE without repeating the cause.
      ? {
        onDown: (err, flap) => (flap
          ? logger.warn('storage refuses writes again, moments after a write succeeded (the cause was logged above); answering 503 STORAGE_UNAVAILABLE')
          : logger.error({ err }, 'storage refuses writes; answering 503 STORAGE_UNAVAILABLE and not ready until a write succeeds')),
        onUp: () => logger.info('storage accepts writes again; ready'),
      }
      // A command fails with STORAGE_UNAVAILABLE; the operator also needs the engine's reason (disk full, refused…).
      : { onDown: (err) => process.stderr.write(`fapiao: the database refused: ${err instanceof Error ? err.message : String(err)}\n`) },
  });
  await lifecycle.add({ name: 'storage', stop: () => storage.close() });
  const migrations = await storage.migrate();
  const uow = unitOfWork(storage);

  let wakeReencrypt: () => void = () => undefined;
  let wakeReconciliations: () => void = () => undefined;
  const services: AdminServices = {
    tenants: new TenantService({
      uow, clock, defaultChannel: config.issuing.defaultChannel, taxIdExceptions: config.issuing.taxIdExceptions,
    }),
    dataKeys: new DataKeyService({
      uow, clock, protection: storage.fields !== undefined, defaultAlgorithm: config.fields.algorithm,
      onRotated: () => wakeReencrypt(),
      onTenantKeysChanged: (tenantId) => storage.fields?.forget(tenantId),
    }),
    audit: new AuditService({ uow, clock, retentionDays: config.audit.retentionDays }),
    keys: new KeyService(uow, clock, masterKey, { version: config.masterKeyVersion, keys: opened.ring }),
    lookup: new OfflineLookup(uow),
    redLetter: new RedLetterService({
      uow, clock, maxPageSize: config.http.maxPageSize,
      reasons: config.redLetter.reasons, nonTenantBuyerConfirms: config.redLetter.nonTenantBuyerConfirms,
    }),
    received: new ReceivedService({ uow, clock, maxPageSize: config.http.maxPageSize }),
    ledgerKeys: new LogKeyService(uow, clock, ledgerOrigin(config), { key: masterKey, version: config.masterKeyVersion, ring: opened.ring }, undefined, config.ledger.sm2Signature),
    statements: new StatementService({ read: uow.read, clock }),
    reconciliations: new ReconciliationService({ uow, clock, maxPageSize: config.http.maxPageSize, onQueued: () => wakeReconciliations() }),
  };
  const base: Container = {
    role, config, logger, clock, storage, uow, lifecycle, services, migrations,
    masterKeys: { current: opened.current, ring: opened.ring, provider: opened.provider },
    start: () => lifecycle.start(),
    close: () => lifecycle.stop(),
  };
  if (role === 'admin') return base;
  const { addServer } = await import('./server-services.ts');
  const part = await addServer(base, opts);
  wakeReencrypt = () => part.services.reencrypt?.wake();
  wakeReconciliations = () => part.services.reconciliationJob.nudge();
  return { ...base, ...part };
}
