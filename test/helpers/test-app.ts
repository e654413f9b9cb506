// A real app (real storage, real signatures) on a temporary data directory, for inject() and listener tests.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer, type ServerContainer } from '../../src/container.ts';
import { initDataDir } from '../../src/ops/setup.ts';
import type { Clock } from '../../src/shared/clock.ts';

export interface TestApp {
  app: ServerContainer;
  api: FastifyInstance;
  /** Every enabled listener by name (built, not listening). */
  servers: Map<string, FastifyInstance>;
  adminToken: string;
  dataDir: string;
  apiKey: string;
  tenantId: string;
  close(): Promise<void>;
}

export const SELLER = { name: '上海测试科技有限公司', taxId: '91310000775785552L', regionCode: '31' };
export const OTHER_SELLER = { name: '北京另一家有限公司', taxId: '91110000600037341L', regionCode: '11' };

export async function createTestApp(env: Record<string, string> = {}, opts: { logger?: Logger; clock?: Clock } = {}): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-test-'));
  // The app shares its event loop with the test runner, whose own work (and the app's start, which no listen() ends
  // here) would read as the app's lag: no event-loop shedding unless a test asks for it (event-loop-shedding.test.ts).
  const config = loadConfig({ FAPIAO_DATA_DIR: dataDir, FAPIAO_LISTEN_API: '127.0.0.1:0', FAPIAO_SIGNER_THREADS: '1', FAPIAO_MAX_EVENT_LOOP_DELAY_MS: '0', ...env }, dataDir);
  await initDataDir(config);
  const app = await buildContainer(config, 'server', { logger: opts.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), ...(opts.clock ? { clock: opts.clock } : {}) });
  await app.start();
  const servers = await app.buildListeners();
  const api = servers.get('api')!;
  for (const s of servers.values()) await s.ready();
  // For convenience the test key may read the buyer's personal data in full (test/http/personal-data.test.ts covers
  // a key with the default scopes, which sees it masked).
  const { tenant, apiKey } = await app.services.tenants.create(SELLER, undefined, ['invoices:issue', 'invoices:read', 'pii:read']);
  return {
    app, api, servers, dataDir, apiKey, tenantId: tenant.id,
    adminToken: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim(),
    async close() {
      for (const s of servers.values()) await s.close();
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function sampleInvoice(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'normal',
    buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', phone: '13812345678', email: 'buyer@example.com' },
    lines: [
      { name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '1', unitPrice: '100.00', amount: '100.00', taxRate: '0.13' },
    ],
    issuer: '张三',
    ...overrides,
  };
}
