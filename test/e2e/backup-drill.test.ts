// The restore drill, on both engines: invoices issued through the real server, a backup taken while issuing goes
// on, restored into a fresh data directory (and an empty PostgreSQL database); then `fapiao audit verify` passes, every
// invoice's seal checks with the published key, and every invoice acknowledged before the backup began is there.
// One byte changed in the archive makes the restore fail, saying so, with nothing written.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.ts';
import { buildContainer } from '../../src/container.ts';
import { checkInvoice } from '../../src/modules/invoicing/app/seal.ts';
import { createBackup, type BackupProgress } from '../../src/ops/backup/backup.ts';
import { restoreBackup } from '../../src/ops/backup/restore.ts';
import { findOnPath, postgresObjects } from '../../src/ops/backup/postgres-tools.ts';
import type { Invoice } from '../../src/shared/invoice.ts';
import { createTestApp, sampleInvoice, type TestApp } from '../helpers/test-app.ts';
import { runCli } from '../helpers/spawn-server.ts';
import { PG_SKIP_REASON, pgTestUrl, type PgTestDatabase } from '../helpers/pg.ts';

const pgReachable = await pgTestUrl();
await pgReachable?.drop();

for (const engine of ['sqlite', 'postgres'] as const) {
  const skip = engine === 'postgres' && !pgReachable ? PG_SKIP_REASON : false;
  void describe(`backup and restore drill (${engine})`, { skip }, () => {
    const work = mkdtempSync(join(tmpdir(), `fapiao-drill-${engine}-`));
    const dbs: PgTestDatabase[] = [];
    let t: TestApp | undefined;
    const dbEnv = async (): Promise<Record<string, string>> => {
      if (engine === 'sqlite') return {};
      const db = (await pgTestUrl())!;
      dbs.push(db);
      return { FAPIAO_DATABASE_URL: db.url };
    };
    after(async () => {
      await t?.close();
      for (const db of dbs) await db.drop();
      rmSync(work, { recursive: true, force: true });
    });

    const archive = join(work, 'fapiao.backup');
    let masterKeyFile = '';
    const acknowledgedBefore: string[] = [];

    void it('backs up while issuing continues, restores into a fresh directory, and the restored server checks out', async (ctx) => {
      const sourceEnv = await dbEnv();
      t = await createTestApp(sourceEnv);
      const app = t;
      masterKeyFile = join(app.dataDir, 'master.key');
      const issue = async (): Promise<string | undefined> => {
        const res = await app.api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${app.apiKey}` }, payload: sampleInvoice() });
        return res.statusCode === 201 ? res.json<Invoice>().number : undefined;
      };
      for (let i = 0; i < 25; i++) {
        const n = await issue();
        assert.ok(n, 'issued');
        acknowledgedBefore.push(n);
      }

      // Issuing goes on, one request after another, until the backup is done.
      let stop = false;
      let duringBackup = 0;
      const issuing = (async () => {
        while (!stop) if (await issue()) duringBackup++;
      })();
      const phases = new Set<BackupProgress['phase']>();
      const sourceConfig = loadConfig({ FAPIAO_DATA_DIR: app.dataDir, ...sourceEnv }, app.dataDir);
      let result;
      try {
        result = await createBackup(sourceConfig, { out: archive, onProgress: (p) => phases.add(p.phase) });
      } finally {
        stop = true;
        await issuing;
      }
      assert.equal(result.manifest.engine, engine);
      assert.deepEqual(result.manifest.files.map((f) => f.name).sort(), [
        engine === 'sqlite' ? 'database/fapiao.db' : 'database/fapiao.pgdump',
        'admin-token', 'tls/ca.key', 'tls/ca.pem', 'tls/server.key', 'tls/server.pem',
      ].sort());
      assert.ok(!result.manifest.files.some((f) => f.name.includes('master')), 'the master key is never in the archive');
      assert.ok(phases.has('encrypting') && phases.has(engine === 'sqlite' ? 'copying database' : 'dumping database'));
      // The archive is encrypted: no plaintext of the admin token in it.
      assert.equal(readFileSync(archive).includes(readFileSync(join(app.dataDir, 'admin-token'))), false);
      ctx.diagnostic(`${acknowledgedBefore.length} invoices acknowledged before the backup, ${duringBackup} issued while it ran; archive ${result.bytes} bytes`);

      const target = join(work, 'restored');
      const targetEnv = { FAPIAO_DATA_DIR: target, ...(await dbEnv()) };
      const restored = await restoreBackup(loadConfig(targetEnv, work), { file: archive, masterKeyFile });
      assert.ok(restored.files.includes('master.key'));
      assert.equal(readFileSync(join(target, 'admin-token'), 'utf8'), readFileSync(join(app.dataDir, 'admin-token'), 'utf8'));

      const audit = await runCli(['audit', 'verify'], targetEnv);
      assert.equal(audit.code, 0, audit.stderr);
      assert.match(audit.stdout, /^ok: \d+ entries, head [0-9a-f]{64}\n$/);

      // The restored directory runs a server; the same API key reads every invoice, each sealed under a published key.
      const config = loadConfig({ ...targetEnv, FAPIAO_LISTEN_API: '127.0.0.1:0', FAPIAO_SIGNER_THREADS: '1' }, target);
      const server = await buildContainer(config, 'server', { logger: pino({ level: 'silent' }) });
      await server.start();
      const listeners = await server.buildListeners();
      try {
        const api = listeners.get('api')!;
        await api.ready();
        const keys = (await api.inject({ method: 'GET', url: '/v1/keys' })).json<{ keys: { keyId: string; publicKey: string }[] }>().keys;
        const seen: Invoice[] = [];
        let cursor: string | undefined;
        do {
          const res = await api.inject({ method: 'GET', url: `/v1/invoices?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, headers: { authorization: `Bearer ${app.apiKey}` } });
          assert.equal(res.statusCode, 200, res.body);
          const page = res.json<{ items: Invoice[]; nextCursor?: string }>();
          seen.push(...page.items);
          cursor = page.nextCursor;
        } while (cursor);
        assert.ok(seen.length >= acknowledgedBefore.length, `${seen.length} restored, ${acknowledgedBefore.length} acknowledged before the backup`);
        const numbers = new Set(seen.map((i) => i.number));
        for (const n of acknowledgedBefore) assert.ok(numbers.has(n), `invoice ${n} acknowledged before the backup is restored`);
        for (const inv of seen) {
          const key = keys.find((k) => k.keyId === inv.signature.keyId);
          assert.ok(key, `key ${inv.signature.keyId} is published`);
          assert.deepEqual(checkInvoice(inv, key.publicKey), { hashValid: true, signatureValid: true, qrValid: true }, inv.number);
        }
        // And it keeps issuing where the backup left off.
        const next = await api.inject({ method: 'POST', url: '/v1/invoices', headers: { authorization: `Bearer ${app.apiKey}` }, payload: sampleInvoice() });
        assert.equal(next.statusCode, 201, next.body);
      } finally {
        for (const s of listeners.values()) await s.close();
        await server.close();
      }
    });

    void it('refuses a non-empty directory without --force, and a used PostgreSQL database even with it', async () => {
      const config = loadConfig({ FAPIAO_DATA_DIR: join(work, 'restored'), ...(engine === 'postgres' && t ? { FAPIAO_DATABASE_URL: t.app.config.databaseUrl } : {}) }, work);
      await assert.rejects(restoreBackup(config, { file: archive, masterKeyFile }), /is not empty/);
      if (engine === 'sqlite') {
        // --force replaces the database and files; the master key is the one already in the directory.
        const again = await restoreBackup(config, { file: archive, force: true });
        assert.equal(again.files.includes('master.key'), false);
      } else {
        await assert.rejects(restoreBackup(config, { file: archive, force: true }), /already holds \d+ tables or sequences: restore into an empty database/);
      }
    });

    void it('fails on one changed byte, saying so, and writes nothing', async () => {
      const bytes = readFileSync(archive);
      for (const at of [100, Math.floor(bytes.length / 2), bytes.length - 1]) {
        const tampered = join(work, `tampered-${at}.backup`);
        const copy = Buffer.from(bytes);
        copy[at] = copy[at]! ^ 0x01;
        writeFileSync(tampered, copy);
        const target = join(work, `tampered-${at}`);
        const env: Record<string, string> = { FAPIAO_DATA_DIR: target, ...(await dbEnv()) };
        const res = await runCli(['restore', tampered, '--master-key-file', masterKeyFile], env);
        assert.equal(res.code, 1, res.stdout);
        assert.match(res.stderr, /^fapiao: the archive is damaged or was altered \(authentication failed\); nothing was restored/);
        assert.equal(existsSync(target), false, 'no data directory');
        assert.deepEqual(readdirSync(work).filter((f) => f.startsWith('.fapiao-restore-')), [], 'no staging left behind');
        if (env.FAPIAO_DATABASE_URL) assert.equal(await postgresObjects(env.FAPIAO_DATABASE_URL), 0, 'the database stays empty');
        rmSync(tampered);
      }
    });

    void it('names the wrong master key, and refuses to back up without one', async () => {
      const wrong = join(work, 'wrong.key');
      writeFileSync(wrong, Buffer.alloc(32, 7));
      const env = { FAPIAO_DATA_DIR: join(work, 'wrong-key'), ...(await dbEnv()) };
      await assert.rejects(restoreBackup(loadConfig(env, work), { file: archive, masterKeyFile: wrong }), /the master key does not open this archive/);
      await assert.rejects(restoreBackup(loadConfig(env, work), { file: archive }), /no master key: give --master-key-file/);
      const noKeyDir = join(work, 'no-key');
      const res = await runCli(['backup', '--out', join(work, 'x.backup')], { ...env, FAPIAO_DATA_DIR: noKeyDir });
      assert.equal(res.code, 1);
      assert.match(res.stderr, /no master key: FAPIAO_MASTER_KEY is not set and .*master\.key does not exist/);
      assert.equal(existsSync(join(work, 'x.backup')), false);
    });
  });
}

void describe('backup tools', () => {
  void it('says exactly why pg_dump cannot be used when it is not on PATH', () => {
    assert.throws(() => findOnPath('pg_dump', '/nonexistent-a:/nonexistent-b'), /^BackupError: pg_dump is not on PATH \(searched \/nonexistent-a:\/nonexistent-b\): install the PostgreSQL client tools/);
    assert.throws(() => findOnPath('pg_dump', ''), /searched nothing: PATH is empty/);
  });
});
