// `fapiao restore FILE`: the archive (archive.ts) back into a fresh data directory, and for PostgreSQL into an empty
// database. Everything is decrypted into a staging directory beside the target first; only when every chunk's tag,
// the end of the archive and every file's SHA-256 and size in the manifest have checked out is anything put in its
// final place. A damaged or altered archive, or the wrong master key, leaves the target as it was.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Config } from '../../config/config.ts';
import { MASTER_KEY_BYTES, MASTER_KEY_FILE, type MasterKey } from '../../platform/crypto/key-store.ts';
import { ArchiveReader, BackupError } from './archive.ts';
import { engineOf, existingMasterKey, PG_DUMP_ENTRY, SQLITE_DB_ENTRY, sqlitePath, type Manifest } from './backup.ts';
import { findOnPath, postgresObjects, restorePostgres } from './postgres-tools.ts';

export interface RestoreProgress {
  phase: 'decrypting' | 'restoring database';
  done: number;
  total?: number;
  unit: 'bytes';
}

export interface RestoreOptions {
  file: string;
  /** Restore into a non-empty data directory, replacing the files the archive holds. */
  force?: boolean;
  /** A file with the 32-byte master key, copied into the data directory; else FAPIAO_MASTER_KEY or `<dataDir>/master.key`. */
  masterKeyFile?: string;
  onProgress?: (p: RestoreProgress) => void;
}

export interface RestoreResult {
  manifest: Manifest;
  dataDir: string;
  /** Where the database went: a SQLite path, or 'postgres'. */
  database: string;
  files: string[];
}

const MAX_MANIFEST_BYTES = 1 << 20;

function readMasterKey(config: Readonly<Config>, file: string | undefined): MasterKey {
  if (file === undefined) {
    try {
      return existingMasterKey(config);
    } catch (e) {
      if (e instanceof BackupError && e.message.startsWith('no master key')) {
        throw new BackupError('no master key: give --master-key-file FILE (the master.key kept apart from the backup) or set FAPIAO_MASTER_KEY; the archive cannot be opened without it');
      }
      throw e;
    }
  }
  const key = readFileSync(file);
  if (key.length !== MASTER_KEY_BYTES) throw new BackupError(`${file} must hold exactly 32 bytes (a master.key file)`);
  return new Uint8Array(key);
}

function parseManifest(bytes: Buffer): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(bytes.toString('utf8')) as Manifest;
  } catch {
    throw new BackupError('the manifest is not valid JSON');
  }
  if (m.format !== 'fapiao-backup' || m.formatVersion !== 1) throw new BackupError(`unsupported manifest (format ${String(m.format)} version ${String(m.formatVersion)})`);
  if (m.engine !== 'sqlite' && m.engine !== 'postgres') throw new BackupError(`unknown engine in the manifest: ${String(m.engine)}`);
  if (!Array.isArray(m.files) || m.files[0]?.name !== m.database) throw new BackupError('the manifest names no database');
  for (const f of m.files) {
    // Names are relative and stay inside the data directory: no absolute paths, no `..`.
    if (typeof f.name !== 'string' || !/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(f.name) || f.name.split('/').some((p) => p === '..' || p === '.')) {
      throw new BackupError(`the manifest names an unsafe path: ${JSON.stringify(f.name)}`);
    }
    if (!Number.isSafeInteger(f.size) || f.size < 0 || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256)) {
      throw new BackupError(`the manifest entry of ${f.name} is malformed`);
    }
  }
  return m;
}

function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

async function moveInto(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true, mode: 0o700 });
  try {
    await rename(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await copyFile(from, to);
  }
}

export async function restoreBackup(config: Readonly<Config>, opts: RestoreOptions): Promise<RestoreResult> {
  const file = resolve(opts.file);
  if (!existsSync(file)) throw new BackupError(`${file} does not exist`);
  const dataDir = config.dataDir;
  if (!isEmptyDir(dataDir) && !opts.force) throw new BackupError(`${dataDir} is not empty: restore into a fresh directory, or give --force to replace what the archive holds`);
  const engine = engineOf(config.databaseUrl);
  // Checked before anything is decrypted: a missing tool or a used database fails now, not after the work.
  if (engine === 'postgres') {
    findOnPath('pg_restore');
    const n = await postgresObjects(config.databaseUrl);
    if (n > 0) throw new BackupError(`the PostgreSQL database already holds ${n} tables or sequences: restore into an empty database`);
  }
  const masterKey = readMasterKey(config, opts.masterKeyFile);

  const parent = dirname(dataDir);
  await mkdir(parent, { recursive: true });
  const staging = await mkdtemp(join(parent, '.fapiao-restore-'));
  const fh = await open(file, 'r');
  try {
    const reader = await ArchiveReader.open(fh, masterKey);
    const lenField = (await reader.read(4)).readUInt32BE(0);
    if (lenField > MAX_MANIFEST_BYTES) throw new BackupError('the archive is damaged or was altered (manifest too large); nothing was restored');
    const manifest = parseManifest(await reader.read(lenField));
    if (manifest.engine !== engine) {
      throw new BackupError(`the archive holds a ${manifest.engine} database but the configured database is ${engine}: set FAPIAO_DATABASE_URL to match`);
    }
    const staged: string[] = [];
    for (const [i, f] of manifest.files.entries()) {
      const path = join(staging, `${i}`);
      const hash = createHash('sha256');
      const out = await open(path, 'wx', 0o600);
      try {
        await reader.pipe(f.size, async (piece) => {
          hash.update(piece);
          await out.write(piece);
          const pos = reader.position;
          opts.onProgress?.({ phase: 'decrypting', done: pos.done, total: pos.total, unit: 'bytes' });
        });
        await out.sync();
      } finally {
        await out.close();
      }
      if (hash.digest('hex') !== f.sha256) throw new BackupError(`${f.name} does not match its SHA-256 in the manifest; nothing was restored`);
      staged.push(path);
    }
    await reader.finish();

    // Verified. Now the final places: the database first, then the data directory's files.
    let database: string;
    if (engine === 'postgres') {
      if (manifest.database !== PG_DUMP_ENTRY) throw new BackupError('the manifest names no PostgreSQL dump');
      opts.onProgress?.({ phase: 'restoring database', done: 0, unit: 'bytes' });
      await restorePostgres(config.databaseUrl, staged[0]!);
      database = 'postgres';
    } else {
      if (manifest.database !== SQLITE_DB_ENTRY) throw new BackupError('the manifest names no SQLite database');
      database = sqlitePath(config.databaseUrl);
    }
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (engine === 'sqlite') {
      for (const suffix of ['-wal', '-shm', '-journal']) await rm(`${database}${suffix}`, { force: true });
      await moveInto(staged[0]!, database);
    }
    const files: string[] = [];
    for (const [i, f] of manifest.files.entries()) {
      if (i === 0) continue;
      const to = join(dataDir, ...f.name.split('/'));
      if (!to.startsWith(dataDir + sep)) throw new BackupError(`the manifest names an unsafe path: ${f.name}`);
      await moveInto(staged[i]!, to);
      chmodSync(to, 0o600);
      files.push(f.name);
    }
    if (opts.masterKeyFile !== undefined && masterKey instanceof Uint8Array && !config.masterKey && !existsSync(join(dataDir, MASTER_KEY_FILE))) {
      await writeFile(join(dataDir, MASTER_KEY_FILE), masterKey, { mode: 0o600, flag: 'wx' });
      files.push(MASTER_KEY_FILE);
    }
    return { manifest, dataDir, database, files };
  } finally {
    await fh.close();
    await rm(staging, { recursive: true, force: true });
  }
}
