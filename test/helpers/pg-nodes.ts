// Two server nodes (real apps, each with its own data directory) sharing one PostgreSQL database and one master key,
// as in docs/design.md §9. Registers the suite's before/after hooks; call it inside describe().
import { after, before } from 'node:test';
import { randomBytes } from 'node:crypto';
import { createTestApp, type TestApp } from './test-app.ts';
import type { PgTestDatabase } from './pg.ts';

export interface TwoNodes {
  a: TestApp;
  b: TestApp;
}

export function twoNodesOnPostgres(db: PgTestDatabase): TwoNodes {
  const nodes = {} as TwoNodes;
  before(async () => {
    const env = { FAPIAO_DATABASE_URL: db.url, FAPIAO_MASTER_KEY: randomBytes(32).toString('base64') };
    nodes.a = await createTestApp(env);
    nodes.b = await createTestApp(env);
  });
  after(async () => {
    await nodes.a?.close();
    await nodes.b?.close();
    await db.drop();
  });
  return nodes;
}
