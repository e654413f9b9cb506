// PostgreSQL's own tools for backup and restore: `pg_dump --format=custom` (a consistent snapshot of one database,
// taken in a single repeatable-read transaction while writers go on) and `pg_restore`. They must be on PATH, of a
// major version no older than the server's. The password, if the URL has one, goes to them through PGPASSWORD, not
// the command line (which other users can read in the process list); messages never echo the URL.
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BackupError } from './archive.ts';

/** The absolute path of `tool` on PATH, or a BackupError saying exactly why not. */
export function findOnPath(tool: string, path: string = process.env.PATH ?? ''): string {
  const dirs = path.split(delimiter).filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = join(dir, tool);
    try {
      if (statSync(candidate).isFile()) {
        accessSync(candidate, constants.X_OK);
        return candidate;
      }
    } catch {
      // not here
    }
  }
  throw new BackupError(
    `${tool} is not on PATH (searched ${dirs.length === 0 ? 'nothing: PATH is empty' : dirs.join(delimiter)}): install the PostgreSQL client tools ` +
      `of the server's major version or newer (Debian: apt-get install postgresql-client), or add their directory to PATH`,
  );
}

/** libpq's view of the URL: the URL without its password, and the password for PGPASSWORD. */
function connection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (u.password) {
    env.PGPASSWORD = decodeURIComponent(u.password);
    u.password = '';
  }
  return { dbname: u.toString(), env };
}

function run(tool: string, args: string[], env: NodeJS.ProcessEnv, onTick?: () => void): Promise<void> {
  const exe = findOnPath(tool, env.PATH);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(exe, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 8192) stderr += d;
    });
    const timer = onTick ? setInterval(onTick, 250) : undefined;
    child.on('error', (e) => {
      if (timer) clearInterval(timer);
      reject(new BackupError(`${tool} could not be started: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearInterval(timer);
      if (code === 0) resolvePromise();
      else reject(new BackupError(`${tool} failed (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(0, 5).join(' | ') || 'no message'}`));
    });
  });
}

/** Dumps the database to `dest` in pg_dump's custom format; `onBytes` sees the file grow. */
export async function dumpPostgres(url: string, dest: string, onBytes?: (bytes: number) => void): Promise<void> {
  const { dbname, env } = connection(url);
  const tick = () => {
    try {
      onBytes?.(statSync(dest).size);
    } catch {
      // not created yet
    }
  };
  await run('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--file=${dest}`, `--dbname=${dbname}`], env, tick);
  tick();
}

/** Restores a custom-format dump into the (empty) database, in one transaction: all of it or nothing. */
export async function restorePostgres(url: string, dump: string): Promise<void> {
  const { dbname, env } = connection(url);
  await run('pg_restore', ['--exit-on-error', '--single-transaction', '--no-owner', '--no-privileges', `--dbname=${dbname}`, dump], env);
}

/** The tables and sequences already in the database outside the system schemas: a restore needs none. */
export async function postgresObjects(url: string): Promise<number> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    throw new BackupError(`cannot connect to the PostgreSQL database: ${(e as Error).message}`);
  }
  try {
    const r = await client.query<{ n: string }>(
      `select count(*)::text as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'S', 'v', 'm') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'`,
    );
    return Number(r.rows[0]!.n);
  } finally {
    await client.end();
  }
}
