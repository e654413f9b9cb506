// The listener layout (docs/operations.md, "Listeners and route groups") assembled from the modules: for each enabled
// listener, its perimeter (authentication audit, the mutual-TLS gate, abuse control) and the route plugins of its
// route groups, handed to the generic buildServer (platform/http/build-server.ts). Part of the composition root.
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { enabledListeners, type Config, type ListenerConfig, type MtlsConfig, type RouteGroup } from './config/config.ts';
import { buildServer } from './platform/http/build-server.ts';
import { healthRoutes, metricsRoutes } from './platform/http/ops-routes.ts';
import { redirectRoutes } from './platform/http/redirect-routes.ts';
import { registerAbuseControl } from './modules/abuse/http/abuse-control.ts';
import { registerAuthFailureAudit } from './modules/audit/http/auth-failure.ts';
import { pushRoutes } from './modules/events/http/push-routes.ts';
import { webhookRoutes } from './modules/delivery/http/webhook-routes.ts';
import { emailReadRoutes, emailWriteRoutes } from './modules/delivery/http/email-routes.ts';
import { documentSettingsRoutes } from './modules/documents/http/document-settings-routes.ts';
import { adminDeadLetterRoutes } from './modules/delivery/http/admin-dead-letter-routes.ts';
import { issueRoutes, queryRoutes } from './modules/invoicing/http/invoice-routes.ts';
import { redLetterReadRoutes, redLetterWriteRoutes } from './modules/red-letter/http/red-letter-routes.ts';
import { reconciliationRoutes } from './modules/reconciliation/http/reconciliation-routes.ts';
import { receivedReadRoutes, receivedWriteRoutes } from './modules/received/http/received-routes.ts';
import { adminKeyRoutes } from './modules/keys/http/admin-key-routes.ts';
import { apiKeyAuth } from './modules/tenants/http/api-key-auth.ts';
import { adminRoutes } from './modules/tenants/http/admin-routes.ts';
import { mtlsAuth, registerMtlsGate, type MtlsPolicy } from './modules/tenants/http/mtls-auth.ts';
import { publicRoutes } from './modules/verification/http/public-routes.ts';
import { ledgerProofRoutes, ledgerPublicRoutes } from './modules/ledger/http/ledger-routes.ts';
import { verifyPageRoutes } from './modules/verification/http/verify-page-routes.ts';
import { batchRoutes } from './modules/batches/http/batch-routes.ts';
import { devTlsPaths, readTls } from './ops/setup.ts';
import type { AppServices } from './server-services.ts';
import type { Logger } from 'pino';

type Authenticate = (req: FastifyRequest) => Promise<void>;

export interface ListenerDeps {
  config: Readonly<Config>;
  services: AppServices;
  logger: Logger;
  adminToken: string | undefined;
  /** Where the redirect listener sends browsers (the api listener's origin, known after it listens). */
  httpsOrigin: () => string;
}

/** Admin and metrics are operator listeners: behind their allowlist and token, outside public budgets and bans. */
function isOperator(groups: readonly RouteGroup[]): boolean {
  return groups.every((g) => g === 'admin' || g === 'docs' || g === 'metrics' || g === 'health');
}

function readMtls(config: Readonly<Config>, m: MtlsConfig): { ca: Buffer; crl?: Buffer; policy: MtlsPolicy } {
  return {
    ca: readFileSync(m.clientCa ?? devTlsPaths(config.dataDir).caCert),
    ...(m.crl ? { crl: readFileSync(m.crl) } : {}),
    policy: { clients: m.clients, revokedFingerprints: m.revokedFingerprints, tenantFromSubject: m.tenantFromSubject },
  };
}

/** The route plugins of the groups, in a fixed order. */
function routePlugins(deps: ListenerDeps, groups: readonly RouteGroup[], authenticate: Authenticate, secure: boolean): FastifyPluginAsync[] {
  const { services, adminToken } = deps;
  const g = (group: RouteGroup) => groups.includes(group);
  const out: FastifyPluginAsync[] = [];
  if (g('public')) out.push(publicRoutes(services), verifyPageRoutes(services), ledgerPublicRoutes(services));
  if (g('issue')) out.push(issueRoutes(services, authenticate), webhookRoutes(services, authenticate));
  if (g('query')) out.push(queryRoutes(services, authenticate), ledgerProofRoutes(services, authenticate));
  // Red-letter forms: filing and moves with issuing, reads with queries.
  if (g('issue')) out.push(redLetterWriteRoutes(services, authenticate));
  if (g('query')) out.push(redLetterReadRoutes(services, authenticate));
  // Statements and reconciliations: reporting, with queries.
  if (g('query')) out.push(reconciliationRoutes(services, authenticate));
  // Received invoices: the buyer's status changes with issuing, reads with queries.
  if (g('issue')) out.push(receivedWriteRoutes(services, authenticate));
  if (g('query')) out.push(receivedReadRoutes(services, authenticate));
  // Batch issuance: submission and progress, all under the issuing scope.
  if (g('issue')) out.push(batchRoutes(services, authenticate, { maxBodyBytes: deps.config.batches.maxBodyBytes }));
  // E-mail delivery: sending and settings with issuing, the delivery status with queries.
  if (g('issue')) out.push(emailWriteRoutes(services, authenticate));
  if (g('query')) out.push(emailReadRoutes(services, authenticate));
  // Document settings (备注 details, UBL terms and addresses): with issuing, as the e-mail settings.
  if (g('issue')) out.push(documentSettingsRoutes(services, authenticate));
  if (g('admin')) {
    if (!adminToken) throw new Error('the admin route group needs an admin token');
    out.push(adminRoutes(services, adminToken), adminKeyRoutes(services, adminToken), adminDeadLetterRoutes(services, adminToken));
  }
  if (g('health')) out.push(healthRoutes(services));
  if (g('metrics')) out.push(metricsRoutes(services));
  if (g('redirect')) out.push(redirectRoutes(deps.httpsOrigin));
  if (g('push')) {
    const { heartbeatSec, maxBufferedBytes } = deps.config.events;
    out.push(pushRoutes(services, { heartbeatSec, maxBufferedBytes, secure }, authenticate));
  }
  return out;
}

/** One enabled listener, built (not listening). */
export async function buildListener(deps: ListenerDeps, l: ListenerConfig, openapi: Record<string, unknown> | undefined): Promise<FastifyInstance> {
  const { config, services, logger } = deps;
  const mtls = l.tls && l.mtls ? readMtls(config, l.mtls) : undefined;
  const authenticate = mtls ? mtlsAuth(services.tenants, mtls.policy) : apiKeyAuth(services.tenants);
  const { limiter, clientIp, policy } = services.abuse;
  const perimeter: ((app: FastifyInstance) => void)[] = [
    (app) => registerAuthFailureAudit(app, l.name, services.authFailures),
    ...(mtls ? [(app: FastifyInstance) => registerMtlsGate(app, mtls.policy)] : []),
    (app) => void registerAbuseControl(app, { bans: services.bans, limiter, clientIp, policy, operator: isOperator(l.groups) }),
  ];
  return buildServer({
    name: l.name, logger, metrics: services.metrics, allow: l.allow, bodyLimit: config.http.bodyLimit, limits: config.http,
    ...(l.tls ? { https: readTls(config, l) } : {}),
    ...(mtls ? { mtls: { ca: mtls.ca, ...(mtls.crl ? { crl: mtls.crl } : {}) } } : {}),
    ...(l.groups.includes('docs') && openapi ? { docs: openapi } : {}),
    perimeter,
    routes: routePlugins(deps, l.groups, authenticate, l.tls),
    ...(isOperator(l.groups) ? {} : { pressure: services.pressure }),
    leaving: services.leaving,
  });
}

/** Every enabled listener by name, built (not listening). */
export async function buildListeners(deps: ListenerDeps): Promise<Map<string, FastifyInstance>> {
  const openapi = await buildOpenApiDocument(deps);
  const servers = new Map<string, FastifyInstance>();
  for (const l of enabledListeners(deps.config)) servers.set(l.name, await buildListener(deps, l, openapi));
  return servers;
}

/** Builds (without listening) one instance holding every API route group and asks @fastify/swagger for its document. */
export async function buildOpenApiDocument(deps: ListenerDeps): Promise<Record<string, unknown>> {
  const authenticate = apiKeyAuth(deps.services.tenants);
  const describe = await buildServer({
    name: 'openapi', logger: deps.logger, metrics: deps.services.metrics, describe: true,
    routes: routePlugins({ ...deps, adminToken: 'unused' }, ['issue', 'query', 'public', 'admin', 'push'], authenticate, true),
  });
  await describe.ready();
  const doc = describe.swagger() as unknown as Record<string, unknown>;
  await describe.close();
  return doc;
}
