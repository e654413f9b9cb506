// `fapiao backup`: an online, consistent copy of the database plus the data directory's files a restored server
// needs (admin token, TLS certificates and keys), in one archive encrypted under the master key (archive.ts).
// SQLite is copied with its online backup API, PostgreSQL dumped with `pg_dump --format=custom`; both while the
// server keeps issuing. The master key itself is never in the archive: without it the archive cannot be opened, so
// it is kept separately (docs/operations.md).
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Config } from '../../config/config.ts';
import { loadOrCreateMasterKey, MASTER_KEY_BYTES, MASTER_KEY_FILE, type MasterKey } from '../../platform/crypto/key-store.ts';
import { openMasterKeys } from '../../platform/crypto/master-keys.ts';
import { ARCHIVE_FORMAT, ArchiveWriter, BackupError, CHUNK_BYTES } from './archive.ts';
import { dumpPostgres } from './postgres-tools.ts';

export type Engine = 'sqlite' | 'postgres';

export interface ManifestFile {
  /** Relative path: `database/…` for the database, otherwise the path inside the data directory. */
  name: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  format: 'fapiao-backup';
  formatVersion: number;
  engine: Engine;
  createdAt: string;
  serverVersion: string;
  masterKeyVersion: number;
  /** The database's entry in `files`. */
  database: string;
  files: ManifestFile[];
}

export interface BackupProgress {
  phase: 'copying database' | 'dumping database' | 'hashing' | 'encrypting';
  done: number;
  total?: number;
  unit: 'pages' | 'bytes';
}

export interface BackupOptions {
  out: string;
  onProgress?: (p: BackupProgress) => void;
  /** Instead of the clock, for the manifest. */
  now?: () => Date;
}

export interface BackupResult {
  out: string;
  manifest: Manifest;
  bytes: number;
}

export const SQLITE_DB_ENTRY = 'database/fapiao.db';
export const PG_DUMP_ENTRY = 'database/fapiao.pgdump';
/** Files of the data directory a restored server needs besides the database (never the master key). */
const DATA_FILES = ['admin-token'];
const DATA_DIRS = ['tls'];

export function serverVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function engineOf(databaseUrl: string): Engine {
  return databaseUrl.startsWith('sqlite:') ? 'sqlite' : 'postgres';
}

export function sqlitePath(databaseUrl: string): string {
  let path = databaseUrl.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (path === '' || path === ':memory:') throw new BackupError('the database is in memory: there is nothing on disk to back up or restore into');
  return resolve(path);
}

/**
 * The master key a backup is encrypted under: the HSM key when masterKeyProvider is pkcs11 (its session stays open
 * until the command exits), else FAPIAO_MASTER_KEY, else `<dataDir>/master.key`. Never created here: an archive
 * under a key made up on the spot could be opened by no one.
 */
export function existingMasterKey(config: Readonly<Config>): MasterKey {
  if (config.masterKeyProvider === 'pkcs11') return openMasterKeys(config).current.key;
  if (config.masterKey) return loadOrCreateMasterKey(config.dataDir, config.masterKey);
  const path = join(config.dataDir, MASTER_KEY_FILE);
  if (!existsSync(path)) {
    throw new BackupError(`no master key: FAPIAO_MASTER_KEY is not set and ${path} does not exist; the archive is encrypted under the master key, so no backup is written without one`);
  }
  const key = readFileSync(path);
  if (key.length !== MASTER_KEY_BYTES) throw new BackupError(`${path} must hold exactly 32 bytes`);
  return new Uint8Array(key);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path, { highWaterMark: CHUNK_BYTES })) hash.update(piece as Buffer);
  return hash.digest('hex');
}

async function backupSqlite(config: Readonly<Config>, dest: string, onProgress?: (p: BackupProgress) => void): Promise<void> {
  const path = sqlitePath(config.databaseUrl);
  if (!existsSync(path)) throw new BackupError(`the database ${path} does not exist (run fapiao init first)`);
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    let lastRemaining = Number.POSITIVE_INFINITY;
    await db.backup(dest, {
      progress({ totalPages, remainingPages }) {
        onProgress?.({ phase: 'copying database', done: totalPages - remainingPages, total: totalPages, unit: 'pages' });
        // A write by another connection between steps restarts the copy. Under steady issuing that could go on for
        // ever, so after one restart the rest is copied in a single step: one read transaction, which in WAL mode
        // does not hold up the writers.
        const restarted = remainingPages > lastRemaining;
        lastRemaining = remainingPages;
        return restarted ? totalPages : 1024;
      },
    });
  } finally {
    db.close();
  }
  const copy = new Database(dest, { fileMustExist: true });
  try {
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new BackupError(`the database copy failed its integrity check: ${String(check)}`);
    // The copy stands alone: fold any WAL it made back into the file, so it is one file.
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
}

/** The data directory's files to include, as relative paths. */
function dataDirFiles(dataDir: string): string[] {
  const out: string[] = [];
  for (const f of DATA_FILES) if (existsSync(join(dataDir, f)) && statSync(join(dataDir, f)).isFile()) out.push(f);
  for (const d of DATA_DIRS) {
    const dir = join(dataDir, d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (statSync(join(dir, f)).isFile()) out.push(`${d}/${f}`);
  }
  return out;
}

/** Writes the archive to `out` (refused if it exists); the file appears only once complete. */
export async function createBackup(config: Readonly<Config>, opts: BackupOptions): Promise<BackupResult> {
  const out = resolve(opts.out);
  if (existsSync(out)) throw new BackupError(`${out} exists: a backup never overwrites a file`);
  if (!existsSync(dirname(out))) throw new BackupError(`the directory ${dirname(out)} does not exist`);
  const masterKey = existingMasterKey(config);
  const engine = engineOf(config.databaseUrl);
  const createdAt = (opts.now ?? (() => new Date()))().toISOString();
  const staging = await mkdtemp(join(dirname(out), `.${basename(out)}.staging-`));
  const partial = `${out}.partial`;
  try {
    const sources: { name: string; path: string }[] = [];
    if (engine === 'sqlite') {
      const dest = join(staging, 'fapiao.db');
      await backupSqlite(config, dest, opts.onProgress);
      sources.push({ name: SQLITE_DB_ENTRY, path: dest });
    } else {
      const dest = join(staging, 'fapiao.pgdump');
      await dumpPostgres(config.databaseUrl, dest, (bytes) => opts.onProgress?.({ phase: 'dumping database', done: bytes, unit: 'bytes' }));
      sources.push({ name: PG_DUMP_ENTRY, path: dest });
    }
    // Copied first, so what is hashed is what is encrypted even if a file is replaced meanwhile.
    for (const f of dataDirFiles(config.dataDir)) {
      const copy = join(staging, 'files', f);
      await mkdir(dirname(copy), { recursive: true, mode: 0o700 });
      await copyFile(join(config.dataDir, f), copy);
      sources.push({ name: f, path: copy });
    }

    const files: ManifestFile[] = [];
    let total = 0;
    for (const s of sources) {
      const size = (await stat(s.path)).size;
      files.push({ name: s.name, size, sha256: await sha256File(s.path) });
      total += size;
      opts.onProgress?.({ phase: 'hashing', done: total, unit: 'bytes' });
    }
    const manifest: Manifest = {
      format: 'fapiao-backup',
      formatVersion: ARCHIVE_FORMAT,
      engine,
      createdAt,
      serverVersion: serverVersion(),
      masterKeyVersion: config.masterKeyVersion,
      database: sources[0]!.name,
      files,
    };

    const fh = await open(partial, 'wx', 0o600);
    try {
      const writer = await ArchiveWriter.open(fh, masterKey, config.masterKeyVersion);
      const json = Buffer.from(JSON.stringify(manifest), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(json.length, 0);
      await writer.write(len);
      await writer.write(json);
      let done = 0;
      for (const [i, s] of sources.entries()) {
        let read = 0;
        for await (const piece of createReadStream(s.path, { highWaterMark: CHUNK_BYTES })) {
          const buf = piece as Buffer;
          await writer.write(buf);
          read += buf.length;
          done += buf.length;
          opts.onProgress?.({ phase: 'encrypting', done, total, unit: 'bytes' });
        }
        if (read !== files[i]!.size) throw new BackupError(`${s.name} changed while the backup was written; run it again`);
      }
      await writer.end();
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(partial, out);
    return { out, manifest, bytes: (await stat(out)).size };
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
