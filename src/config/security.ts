// Secret-bearing and retention settings: the master key with its version and the earlier keys still configured, the
// algorithm of new data keys for personal data at rest, and how long audit entries are kept. Errors name the setting,
// never a key.
import type { Config } from './config.ts';
import { ConfigError, int, isObject, str, stringList, type Env, type Json } from './read.ts';

export type KeySettings = Pick<Config, 'masterKey' | 'masterKeyVersion' | 'previousMasterKeys' | 'fields'>;

export function keySettings(file: Json, env: Env): KeySettings {
  const masterKey = env.FAPIAO_MASTER_KEY || str(file.masterKey, 'masterKey');
  if (masterKey !== undefined && Buffer.from(masterKey, 'base64').length !== 32) {
    throw new ConfigError('FAPIAO_MASTER_KEY', 'must be the base64 of 32 bytes');
  }
  const masterKeyVersion = int(env.FAPIAO_MASTER_KEY_VERSION ?? file.masterKeyVersion, 'masterKeyVersion', 1, 2_147_483_647) ?? 1;
  const previousMasterKeys = masterKeyList(env.FAPIAO_MASTER_KEY_PREVIOUS, file.masterKeyPrevious, masterKeyVersion);
  const fields = isObject(file.fields) ? file.fields : {};
  const algorithm = env.FAPIAO_FIELD_ALGORITHM || str(fields.algorithm, 'fields.algorithm') || 'aes-256-gcm';
  if (algorithm !== 'aes-256-gcm' && algorithm !== 'sm4-gcm') {
    throw new ConfigError(env.FAPIAO_FIELD_ALGORITHM ? 'FAPIAO_FIELD_ALGORITHM' : 'fields.algorithm', 'must be aes-256-gcm or sm4-gcm');
  }
  return {
    ...(masterKey ? { masterKey } : {}),
    masterKeyVersion,
    previousMasterKeys,
    fields: { algorithm },
  };
}

/**
 * Earlier master keys: `<version>:<base64>` entries, comma-separated in FAPIAO_MASTER_KEY_PREVIOUS or an array in
 * `masterKeyPrevious`. Versions are unique and differ from the current one. Errors name the setting, never a key.
 */
function masterKeyList(envValue: string | undefined, fileValue: unknown, current: number): { version: number; key: string }[] {
  const setting = envValue ? 'FAPIAO_MASTER_KEY_PREVIOUS' : 'masterKeyPrevious';
  const entries = envValue ? envValue.split(',').map((e) => e.trim()).filter((e) => e !== '') : stringList(fileValue, setting) ?? [];
  const seen = new Set<number>([current]);
  return entries.map((entry) => {
    const m = /^([1-9][0-9]{0,9}):([A-Za-z0-9+/]+={0,2})$/.exec(entry);
    if (!m || Buffer.from(m[2]!, 'base64').length !== 32) throw new ConfigError(setting, 'entries must be <version>:<base64 of 32 bytes>');
    const version = Number(m[1]);
    if (version > 2_147_483_647) throw new ConfigError(setting, 'versions must be at most 2147483647');
    if (seen.has(version)) throw new ConfigError(setting, 'each version may appear once and must differ from masterKeyVersion');
    seen.add(version);
    return { version, key: m[2]! };
  });
}

export function auditSettings(file: Json, env: Env): Config['audit'] {
  const audit = isObject(file.audit) ? file.audit : {};
  return {
    // The floor is AUDIT_MIN_RETENTION_DAYS of storage.ts (the purge refuses younger cutoffs whatever is set here).
    retentionDays: int(env.FAPIAO_AUDIT_RETENTION_DAYS ?? audit.retentionDays, 'audit.retentionDays', 180, 36_500) ?? 180,
  };
}
