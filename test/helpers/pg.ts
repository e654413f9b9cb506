// A fresh PostgreSQL database per test suite, on the server named by FAPIAO_TEST_PG_URL. Without a server the
// PostgreSQL suites are skipped locally, but never in CI (a skipped suite there would hide a failure).
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_SERVER_URL = process.env.FAPIAO_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface PgTestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** host:port/database of a URL, without credentials, for messages. */
export function describePgUrl(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
}

export const PG_SKIP_REASON = `PostgreSQL not reachable at ${describePgUrl(PG_SERVER_URL)}: PostgreSQL suites skipped`;

/** Creates `fapiao_test_<random>`; undefined when the server is unreachable (outside CI). */
export async function pgTestUrl(): Promise<PgTestDatabase | undefined> {
  const admin = new pg.Client({ connectionString: PG_SERVER_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (error) {
    await admin.end().catch(() => undefined);
    if (process.env.CI) throw new Error(`PostgreSQL not reachable at ${describePgUrl(PG_SERVER_URL)} (CI must not skip)`, { cause: error });
    console.warn(PG_SKIP_REASON);
    return undefined;
  }
  const name = `fapiao_test_${randomBytes(6).toString('hex')}`;
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: PG_SERVER_URL });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}
