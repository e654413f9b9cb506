// Secret checks: key files readable by their owner only, a master key present, of the right length and generated
// rather than typed, kept apart from the database, and an admin token long enough when an admin listener is enabled.
//
// What "development value" means for the master key (there is no built-in development key to compare with): a key
// that was not drawn at random. A random 32-byte key has fewer than 16 distinct byte values with probability ~3e-17
// and is all printable ASCII with probability ~2e-14, so either is reported as a typed or placeholder key (all
// zeros, `0123…`, a passphrase padded to 32 bytes).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { enabledListeners, type Config } from '../../config/config.ts';
import { MASTER_KEY_BYTES, MASTER_KEY_FILE } from '../../platform/crypto/key-store.ts';
import type { Finding, Severity } from './findings.ts';

function readable(mode: number): { group: boolean; other: boolean } {
  return { group: (mode & 0o070) !== 0, other: (mode & 0o007) !== 0 };
}

/**
 * A secret file readable (or writable) by anyone but its owner. Keys outside the data directory that only their group
 * can read (Debian's ssl-cert group, 0640) are medium; everything else is high.
 */
export function permissionFinding(path: string, what: string, listener: string | undefined, groupTolerated: boolean): Finding | undefined {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return undefined;
  }
  const r = readable(mode);
  if (!r.group && !r.other) return undefined;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  const severity: Severity = !r.other && groupTolerated ? 'medium' : 'high';
  return {
    id: 'key-permissions',
    severity,
    ...(listener ? { listener } : {}),
    message: `${what} ${path} has mode ${octal}: readable by ${r.other ? 'others' : 'its group'}; chmod 600 it`,
  };
}

/** True when 32 bytes look typed or made up rather than drawn at random (see the note at the top of the file). */
export function isWeakMasterKey(key: Uint8Array): boolean {
  const distinct = new Set(key).size;
  const printable = key.every((b) => b >= 0x20 && b <= 0x7e);
  return distinct < 16 || printable;
}

function sqlitePath(config: Readonly<Config>): string | undefined {
  if (!config.databaseUrl.startsWith('sqlite:')) return undefined;
  const p = config.databaseUrl.slice('sqlite:'.length);
  return p === '' || p === ':memory:' ? undefined : resolve(p);
}

export function masterKeyFindings(config: Readonly<Config>): Finding[] {
  const out: Finding[] = [];
  let key: Uint8Array;
  let source: string;
  const dbPath = sqlitePath(config);
  if (config.masterKey !== undefined) {
    key = new Uint8Array(Buffer.from(config.masterKey, 'base64'));
    source = 'FAPIAO_MASTER_KEY';
  } else {
    const path = join(config.dataDir, MASTER_KEY_FILE);
    source = path;
    if (!existsSync(path)) {
      const hasData = dbPath === undefined || existsSync(dbPath);
      return [
        {
          id: 'master-key-missing',
          severity: hasData ? 'high' : 'medium',
          message: hasData
            ? `no master key: neither FAPIAO_MASTER_KEY nor ${path}; the stored signing keys cannot be opened`
            : `no master key yet (${path}): fapiao init or the first serve creates it`,
        },
      ];
    }
    const perm = permissionFinding(path, 'the master key', undefined, false);
    if (perm) out.push(perm);
    key = new Uint8Array(readFileSync(path));
    if (dbPath && dirname(dbPath) === resolve(config.dataDir)) {
      out.push({
        id: 'master-key-beside-db',
        severity: 'low',
        message: `the master key ${path} sits in the directory of the database: keep the master key apart from the database backups (or set FAPIAO_MASTER_KEY)`,
      });
    }
  }
  if (key.length !== MASTER_KEY_BYTES) {
    out.push({ id: 'master-key-invalid', severity: 'high', message: `the master key in ${source} is ${key.length} bytes, not ${MASTER_KEY_BYTES}` });
  } else if (isWeakMasterKey(key)) {
    out.push({
      id: 'master-key-weak',
      severity: 'high',
      message: `the master key in ${source} is not random (too few distinct bytes, or all printable text): a development or typed value; generate one with: head -c 32 /dev/urandom | base64`,
    });
  }
  return out;
}

export function adminTokenFindings(config: Readonly<Config>): Finding[] {
  const admin = enabledListeners(config).filter((l) => l.groups.includes('admin'));
  if (admin.length === 0) return [];
  const path = join(config.dataDir, 'admin-token');
  let token = config.adminToken;
  let source = 'FAPIAO_ADMIN_TOKEN';
  if (token === undefined) {
    if (!existsSync(path)) {
      return [{ id: 'admin-token-missing', severity: 'medium', message: `no admin token yet (${path}): fapiao init creates it` }];
    }
    token = readFileSync(path, 'utf8').trim();
    source = path;
  }
  return token.length < 32
    ? [{ id: 'admin-token-weak', severity: 'high', message: `the admin token in ${source} is ${token.length} characters: use at least 32 random ones` }]
    : [];
}
