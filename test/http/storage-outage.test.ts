// The database refusing writes (a full disk, an I/O error, PostgreSQL unreachable): issuing answers 503
// STORAGE_UNAVAILABLE with Retry-After, the real cause is logged once, /readyz answers 503 while writes fail, and all
// of it ends by itself when the database accepts writes again, with every invoice acknowledged before still there.
//
// The full disk is real where the test may mount a filesystem (root: a 4 MiB tmpfs holds the SQLite database, and a
// file fills it); elsewhere that suite is skipped with the reason, and SQLite's `PRAGMA max_page_count` makes the same
// SQLITE_FULL for everyone. PostgreSQL is reached through a TCP relay the test cuts and restores.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { pino } from 'pino';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { PG_SKIP_REASON, pgTestUrl, type PgTestDatabase } from '../helpers/pg.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import type { StorageEngine as KyselyStorage } from '../../src/platform/storage/storage-engine.ts';

interface LogLine {
  level: number;
  msg: string;
  err?: { message?: string; code?: string; stack?: string };
}

/** Everything the suites look at: the app, its log and the invoices it acknowledged. */
class Harness {
  readonly logs: LogLine[] = [];
  readonly acknowledged: Invoice[] = [];
  t!: TestApp;
  private verifyAddress = 0;

  async start(env: Record<string, string>): Promise<void> {
    const logger = pino({ level: 'info' }, { write: (s: string) => void this.logs.push(JSON.parse(s) as LogLine) });
    this.t = await createTestApp(env, { logger });
  }

  get storage(): KyselyStorage {
    return this.t.app.storage;
  }

  issue(idempotencyKey?: string) {
    return this.t.api.inject({
      method: 'POST', url: '/v1/invoices', payload: sampleInvoice(),
      headers: { authorization: `Bearer ${this.t.apiKey}`, ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
    });
  }

  /** Issues until the database refuses (at most `max` tries); every 201 before is remembered as acknowledged. */
  async issueUntilRefused(max: number) {
    for (let i = 0; i < max; i++) {
      const res = await this.issue();
      if (res.statusCode !== 201) return res;
      this.acknowledged.push(res.json<Invoice>());
    }
    assert.fail(`the database accepted ${max} invoices`);
  }

  async readyz(): Promise<number> {
    return (await this.t.servers.get('metrics')!.inject({ url: '/readyz' })).statusCode;
  }

  async untilReady(ms = 15_000): Promise<number> {
    const deadline = Date.now() + ms;
    let status = await this.readyz();
    while (status !== 200 && Date.now() < deadline) {
      await sleep(200);
      status = await this.readyz();
    }
    return status;
  }

  async metric(name: string): Promise<number | undefined> {
    const text = (await this.t.servers.get('metrics')!.inject({ url: '/metrics' })).body;
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  }

  /** Log lines naming the engine's own error (its code or message), wherever in the line. */
  mentions(pattern: RegExp): LogLine[] {
    return this.logs.filter((l) => pattern.test(JSON.stringify(l)));
  }

  assertRefusal(res: Awaited<ReturnType<Harness['issue']>>): void {
    assert.equal(res.statusCode, 503, res.body);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.json<{ code: string }>().code, 'STORAGE_UNAVAILABLE');
    assert.ok(Number(res.headers['retry-after']) >= 1, `Retry-After: ${String(res.headers['retry-after'])}`);
    assert.doesNotMatch(res.body, /SQLITE|ENOSPC|database or disk is full|ECONN|terminated/i, 'the engine error stays in the log');
  }

  /** Every acknowledged invoice reads back and verifies as authentic. */
  async assertAcknowledgedIntact(): Promise<void> {
    assert.ok(this.acknowledged.length > 0);
    for (const inv of this.acknowledged) {
      const got = await this.t.api.inject({ method: 'GET', url: `/v1/invoices/${inv.number}`, headers: { authorization: `Bearer ${this.t.apiKey}` } });
      assert.equal(got.statusCode, 200, `${inv.number}: ${got.body}`);
      assert.equal(got.json<Invoice>().hash, inv.hash);
      const checked = await this.t.api.inject({
        method: 'POST', url: '/v1/verify', remoteAddress: `10.77.0.${++this.verifyAddress}`,
        payload: { number: inv.number, issueDate: inv.issueDate, total: inv.totals.total },
      });
      assert.equal(checked.json<{ result: string }>().result, 'authentic', inv.number);
    }
  }

  async close(): Promise<void> {
    await this.t?.close();
  }
}

/** Why a tmpfs cannot be mounted here, or false. */
function mountSkipReason(dir: string): string | false {
  if (process.platform !== 'linux') return 'not Linux: the full-disk suite (tmpfs) is skipped';
  if (process.getuid?.() !== 0) return 'not root: cannot mount a tmpfs, the full-disk suite is skipped (the max_page_count suite still runs)';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
    return false;
  } catch (e) {
    return `mount -t tmpfs failed (${(e as Error).message.split('\n')[0]}): the full-disk suite is skipped`;
  }
}

const mnt = mkdtempSync(join(tmpdir(), 'fapiao-full-'));
const mountSkip = mountSkipReason(mnt);
if (mountSkip) {
  console.warn(mountSkip);
  rmSync(mnt, { recursive: true, force: true });
}

describe('a full disk under SQLite (tmpfs)', { skip: mountSkip }, () => {
  const h = new Harness();
  const filler = join(mnt, 'filler');

  before(() => h.start({ FAPIAO_DATABASE_URL: `sqlite:${join(mnt, 'fapiao.db')}` }));
  after(async () => {
    try {
      await h.close();
    } finally {
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  it('refuses with 503 while the disk is full, and issues again once space is freed', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await h.issue();
      assert.equal(res.statusCode, 201, res.body);
      h.acknowledged.push(res.json<Invoice>());
    }
    assert.equal(await h.readyz(), 200);

    // Fill the filesystem to the last block.
    const fd = openSync(filler, 'w');
    const block = Buffer.alloc(16 * 1024, 0xa5);
    try {
      for (;;) writeSync(fd, block);
    } catch (e) {
      assert.equal((e as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    try {
      for (;;) writeSync(fd, block, 0, 512);
    } catch {
      // full to the byte
    } finally {
      closeSync(fd);
    }

    h.assertRefusal(await h.issueUntilRefused(200));
    // With an idempotency key too: nothing of it is kept, so the key is free again afterwards.
    h.assertRefusal(await h.issue('full-disk-retry'));
    assert.equal(await h.readyz(), 503, 'not ready while writes fail');
    assert.equal(await h.metric('fapiao_storage_writable'), 0);

    assert.equal(h.mentions(/cannot rollback/).length, 0, 'the rollback error never hides the cause');
    const causes = h.mentions(/SQLITE_FULL|database or disk is full/);
    assert.equal(causes.length, 1, `the cause is logged once: ${JSON.stringify(causes)}`);
    assert.equal(causes[0]!.level, 50);

    rmSync(filler);
    assert.equal(await h.untilReady(), 200, 'ready again by itself once there is space');
    assert.equal(await h.metric('fapiao_storage_writable'), 1);
    const retried = await h.issue('full-disk-retry');
    assert.equal(retried.statusCode, 201, retried.body);
    assert.notEqual(retried.headers['idempotent-replayed'], 'true');
    h.acknowledged.push(retried.json<Invoice>());
    for (let i = 0; i < 3; i++) {
      const res = await h.issue();
      assert.equal(res.statusCode, 201, res.body);
      h.acknowledged.push(res.json<Invoice>());
    }
    await h.assertAcknowledgedIntact();
    assert.ok(h.logs.some((l) => l.level === 30 && /storage/i.test(l.msg) && /again/i.test(l.msg)), 'the recovery is logged');
  });
});

describe('SQLite at its max_page_count', () => {
  const h = new Harness();
  before(() => h.start({}));
  after(() => h.close());

  it('refuses with 503 at the limit, and issues again once the limit is raised', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await h.issue();
      assert.equal(res.statusCode, 201, res.body);
      h.acknowledged.push(res.json<Invoice>());
    }
    const pages = await sql<{ page_count: number }>`pragma page_count`.execute(h.storage.db);
    const count = pages.rows[0]!.page_count;
    await sql.raw(`pragma max_page_count = ${count}`).execute(h.storage.db);

    h.assertRefusal(await h.issueUntilRefused(500));
    h.assertRefusal(await h.issue());
    assert.equal(await h.readyz(), 503);
    assert.equal(h.mentions(/cannot rollback/).length, 0);
    assert.equal(h.mentions(/SQLITE_FULL|database or disk is full/).length, 1, 'logged once');

    await sql.raw(`pragma max_page_count = ${count * 100}`).execute(h.storage.db);
    assert.equal(await h.untilReady(), 200);
    const res = await h.issue();
    assert.equal(res.statusCode, 201, res.body);
    h.acknowledged.push(res.json<Invoice>());
    await h.assertAcknowledgedIntact();
  });
});

/** A TCP relay to PostgreSQL that the test can cut (every connection reset, new ones refused) and restore. */
class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    const addr = server.address();
    if (typeof addr === 'object' && addr) this.port = addr.port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.resetAndDestroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

const pgDb: PgTestDatabase | undefined = await pgTestUrl();

describe('PostgreSQL unreachable', { skip: pgDb ? false : PG_SKIP_REASON }, () => {
  const h = new Harness();
  let relay: Relay;

  before(async () => {
    const u = new URL(pgDb!.url);
    relay = new Relay({ host: u.hostname, port: Number(u.port || 5432) });
    await relay.open();
    u.hostname = '127.0.0.1';
    u.port = String(relay.port);
    await h.start({ FAPIAO_DATABASE_URL: u.toString() });
  });
  after(async () => {
    await h.close();
    await relay.cut();
    await pgDb!.drop();
  });

  it('refuses with 503 while the database cannot be reached, and recovers when it can', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await h.issue();
      assert.equal(res.statusCode, 201, res.body);
      h.acknowledged.push(res.json<Invoice>());
    }
    await relay.cut();
    h.assertRefusal(await h.issue(`pg-${randomBytes(4).toString('hex')}`));
    h.assertRefusal(await h.issue());
    assert.equal(await h.readyz(), 503);
    assert.equal(await h.metric('fapiao_storage_writable'), 0);
    const causes = h.logs.filter((l) => l.level === 50 && /storage/i.test(l.msg));
    assert.equal(causes.length, 1, `the cause is logged once: ${JSON.stringify(causes)}`);

    await relay.open();
    assert.equal(await h.untilReady(), 200);
    const res = await h.issue();
    assert.equal(res.statusCode, 201, res.body);
    h.acknowledged.push(res.json<Invoice>());
    await h.assertAcknowledgedIntact();
  });
});
