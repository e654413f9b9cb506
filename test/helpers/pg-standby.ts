// A PostgreSQL primary and a streaming standby of the test's own, on free loopback ports in temporary directories:
// initdb, pg_basebackup -R, synchronous replication (`synchronous_standby_names = '*'` on the primary, so a commit is
// acknowledged once the standby has it), and `pg_ctl promote` for the test to drive a failover. PostgreSQL refuses to
// run as root: as root the servers run as the `postgres` user and the directories are given to it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freeLoopbackPort } from './redis-server.ts';

/** The directory of initdb, postgres, pg_basebackup and pg_ctl (the newest of /usr/lib/postgresql/<version>/bin). */
export function pgBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/** Why a suite needing its own PostgreSQL servers is skipped, or false; under CI=true it throws instead. */
export function pgStandbySkipReason(what: string): string | false {
  let reason: string | undefined;
  if (!pgBinDir()) reason = 'the PostgreSQL server binaries are not installed (/usr/lib/postgresql/<version>/bin; Debian: apt-get install postgresql)';
  else if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) reason = 'running as root without a postgres user to run PostgreSQL as';
  if (!reason) return false;
  if (process.env.CI) throw new Error(`${reason}: ${what} cannot run (CI must not skip)`);
  return `${reason}: ${what} skipped`;
}

/** As root, the postgres user's uid and gid (PostgreSQL will not run as root); otherwise the current user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

export interface PgServer {
  name: string;
  dataDir: string;
  port: number;
  url(db?: string): string;
  start(extra?: string[]): Promise<void>;
  /** SIGKILL to the postmaster and every backend (its process group): the host lost. */
  kill(): Promise<void>;
  /** pg_ctl promote: the standby becomes a primary. */
  promote(): void;
  query<T extends pg.QueryResultRow>(sql: string, db?: string): Promise<T[]>;
}

export interface PgPair {
  dir: string;
  primary: PgServer;
  standby: PgServer;
  close(): Promise<void>;
}

function run(bin: string, args: string[], as: { uid: number; gid: number } | undefined): void {
  const r = spawnSync(join(pgBinDir()!, bin), args, { encoding: 'utf8', timeout: 60_000, ...(as ?? {}), cwd: '/' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
}

function server(name: string, dir: string, port: number, as: { uid: number; gid: number } | undefined): PgServer {
  let proc: ChildProcess | undefined;
  const dataDir = join(dir, name);
  const self: PgServer = {
    name, dataDir, port,
    url: (db = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${db}`,
    async start(extra = []) {
      const args = ['-D', dataDir, '-c', `port=${port}`, '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, ...extra];
      const output: string[] = [];
      // Its own process group, so kill() reaches the backends as well as the postmaster.
      const p = spawn(join(pgBinDir()!, 'postgres'), args, { ...(as ?? {}), cwd: '/', detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      proc = p;
      p.stdout.on('data', (d: Buffer) => output.push(d.toString()));
      p.stderr.on('data', (d: Buffer) => output.push(d.toString()));
      for (let i = 0; ; i++) {
        if (p.exitCode !== null) throw new Error(`postgres ${name} exited with ${p.exitCode}:\n${output.join('')}`);
        const ok = await self.query('select 1').then(() => true, () => false);
        if (ok) return;
        if (i > 300) throw new Error(`postgres ${name} did not start:\n${output.join('')}`);
        await sleep(100);
      }
    },
    kill() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        p.once('exit', () => resolve());
        process.kill(-p.pid!, 'SIGKILL');
      });
    },
    promote() {
      run('pg_ctl', ['promote', '-D', dataDir, '-w', '-t', '30'], as);
    },
    async query<T extends pg.QueryResultRow>(sql: string, db = 'postgres') {
      const c = new pg.Client({ connectionString: self.url(db), connectionTimeoutMillis: 2000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        return (await c.query<T>(sql)).rows;
      } finally {
        await c.end().catch(() => undefined);
      }
    },
  };
  return self;
}

/** initdb, start the primary, pg_basebackup -R the standby, start it, wait until it is the synchronous standby. */
export async function pgPrimaryAndStandby(): Promise<PgPair> {
  const as = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-pg-ha-'));
  if (as) chownSync(dir, as.uid, as.gid);
  const primary = server('primary', dir, await freeLoopbackPort(), as);
  const standby = server('standby', dir, await freeLoopbackPort(), as);
  // The initdb defaults trust local and loopback connections, replication included: test servers only.
  run('initdb', ['-D', primary.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], as);
  // Only the primary waits for a standby; the promoted standby runs alone until a new one joins (docs/cluster.md).
  await primary.start(['-c', "synchronous_standby_names=*", '-c', 'synchronous_commit=on']);
  run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', standby.dataDir, '-R', '-X', 'stream', '-c', 'fast'], as);
  await standby.start(['-c', 'cluster_name=standby']);
  for (let i = 0; ; i++) {
    const rows = await primary.query<{ sync_state: string }>('select sync_state from pg_stat_replication');
    if (rows.some((r) => r.sync_state === 'sync')) break;
    if (i > 300) throw new Error(`the standby did not become synchronous: ${JSON.stringify(rows)}`);
    await sleep(100);
  }
  return {
    dir, primary, standby,
    async close() {
      await primary.kill();
      await standby.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
