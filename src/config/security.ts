// Secret-bearing and retention settings: the master key with its version and the earlier keys still configured, the
// algorithm of new data keys for personal data at rest, and how long audit entries are kept. Their schema, and the
// rules it cannot say (a key is the base64 of 32 bytes; earlier versions are unique and differ from the current one).
// Errors name the setting, never a key.
import { Type, type Static, type TObject } from 'typebox';
import type { Config } from './config.ts';
import { int, list, oneOf, section, text, type SettingNames } from './read.ts';

const MAX_VERSION = 2_147_483_647;

export const KEY_SETTINGS = {
  masterKey: Type.Optional(
    text({
      env: 'FAPIAO_MASTER_KEY',
      group: 'Keys and secrets',
      rule: 'must be the base64 of 32 bytes',
      defaultText: '`<dataDir>/master.key`, made by `init`',
      description: 'Base64 of the 32-byte master key that seals signing keys and tenant data keys.',
    }),
  ),
  masterKeyVersion: int(1, MAX_VERSION, {
    default: 1,
    env: 'FAPIAO_MASTER_KEY_VERSION',
    envReportsPath: true,
    group: 'Keys and secrets',
    description: 'Version of the current master key; every key it wraps records it.',
  }),
  masterKeyPrevious: list(
    Type.String({ pattern: '^([1-9][0-9]{0,9}):([A-Za-z0-9+/]+={0,2})$', rule: 'entries must be <version>:<base64 of 32 bytes>' }),
    {
      default: [],
      env: 'FAPIAO_MASTER_KEY_PREVIOUS',
      envList: true,
      group: 'Keys and secrets',
      description:
        'Earlier master keys, `<version>:<base64>` entries, kept configured until ' +
        '`fapiao keys rotate-master` has re-wrapped the keys still under them, and longer to open old backups ' +
        '([operations.md](operations.md#key-rotation)). Each key is the base64 of 32 bytes; versions are unique and ' +
        'differ from `masterKeyVersion`.',
    },
  ),
  fields: section(
    {
      algorithm: oneOf(['aes-256-gcm', 'sm4-gcm'], {
        default: 'aes-256-gcm',
        env: 'FAPIAO_FIELD_ALGORITHM',
        description: 'Algorithm of new data keys (a tenant\'s first, or a rotation); existing keys keep theirs. `sm4-gcm`: 国密.',
      }),
    },
    { title: 'Personal data at rest', description: 'Buyer personal data is encrypted under per-tenant data keys wrapped by the master key.' },
  ),
};

export const AUDIT_SCHEMA = section(
  {
    // The floor is AUDIT_MIN_RETENTION_DAYS of modules/audit/storage/audit-contract.ts (the purge refuses younger cutoffs whatever is set here).
    retentionDays: int(180, 36_500, {
      default: 180,
      env: 'FAPIAO_AUDIT_RETENTION_DAYS',
      envReportsPath: true,
      description: 'Days audit entries are kept before `fapiao audit purge --expired` may delete them; never below 180.',
    }),
  },
  { title: 'Audit log' },
);

export type KeySettings = Pick<Config, 'masterKey' | 'masterKeyVersion' | 'previousMasterKeys' | 'fields'>;

type KeyFile = Static<TObject<typeof KEY_SETTINGS>>;

/** The key settings from the validated file, with the rules on keys. */
export function keySettings(v: KeyFile, names: SettingNames): KeySettings {
  const { masterKey, masterKeyVersion } = v;
  if (masterKey !== undefined && Buffer.from(masterKey, 'base64').length !== 32) {
    throw names.report('masterKey', 'must be the base64 of 32 bytes');
  }
  return {
    ...(masterKey ? { masterKey } : {}),
    masterKeyVersion,
    previousMasterKeys: masterKeyList(v.masterKeyPrevious, masterKeyVersion, names),
    fields: { algorithm: v.fields.algorithm },
  };
}

/**
 * Earlier master keys: `<version>:<base64>` entries (their form checked by the schema). Each key is 32 bytes;
 * versions are unique and differ from the current one. Errors name the setting, never a key.
 */
function masterKeyList(entries: string[], current: number, names: SettingNames): { version: number; key: string }[] {
  const seen = new Set<number>([current]);
  return entries.map((entry) => {
    const [v, key] = entry.split(':') as [string, string];
    if (Buffer.from(key, 'base64').length !== 32) throw names.report('masterKeyPrevious', 'entries must be <version>:<base64 of 32 bytes>');
    const version = Number(v);
    if (version > MAX_VERSION) throw names.report('masterKeyPrevious', `versions must be at most ${MAX_VERSION}`);
    if (seen.has(version)) throw names.report('masterKeyPrevious', 'each version may appear once and must differ from masterKeyVersion');
    seen.add(version);
    return { version, key };
  });
}

export function auditSettings(v: Static<typeof AUDIT_SCHEMA>): Config['audit'] {
  return { retentionDays: v.retentionDays };
}
