// Use cases end to end below HTTP: the real composition root (buildContainer, role server) on SQLite in memory with a
// clock the test moves, no listener. Each test gets its own database in a few hundred milliseconds, so the business
// rules of issuing, quota, idempotency, verification and tenant management are tested here quickly, while the
// real-database (test/storage) and end-to-end (test/http, test/e2e) suites keep testing storage engines and wiring.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer, type ServerContainer } from '../../src/container.ts';
import type { IssueInvoiceInput } from '../../src/shared/invoice.ts';
import type { Clock } from '../../src/shared/clock.ts';

/** A clock that stands still until the test moves it. */
export class ManualClock implements Clock {
  private t: number;
  constructor(iso = '2026-11-24T06:03:05.123Z') {
    this.t = Date.parse(iso);
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(iso: string): void {
    this.t = Date.parse(iso);
  }
}

export interface Kit {
  app: ServerContainer;
  clock: ManualClock;
  close(): Promise<void>;
}

export const SELLER = { name: '上海测试科技有限公司', taxId: '91310000775785552L', regionCode: '31' };
export const OTHER_SELLER = { name: '北京另一家有限公司', taxId: '91110000600037341L', regionCode: '11' };

export async function useCases(env: Record<string, string> = {}, clock = new ManualClock()): Promise<Kit> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-usecase-'));
  const config = loadConfig({
    FAPIAO_DATA_DIR: dataDir, FAPIAO_DATABASE_URL: 'sqlite::memory:', FAPIAO_SIGNER_THREADS: '0',
    FAPIAO_LISTEN_API: '127.0.0.1:0', ...env,
  }, dataDir);
  const app = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }), clock });
  await app.start();
  return {
    app, clock,
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function draft(overrides: Partial<IssueInvoiceInput> = {}): IssueInvoiceInput {
  return {
    type: 'normal',
    buyer: { name: '杭州买方贸易有限公司', taxId: '91440300708461136T', phone: '13812345678' },
    lines: [{ name: '软件开发费', taxCode: '3040201000000000000', shortName: '信息技术服务', quantity: '1', unitPrice: '100.00', amount: '100.00', taxRate: '0.13' }],
    issuer: '张三',
    ...overrides,
  };
}
