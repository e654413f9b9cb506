// Where the master key lives: the file provider (the 32-byte key in `<dataDir>/master.key` or FAPIAO_MASTER_KEY, the
// embedded default) or an HSM over PKCS#11 (platform/crypto/pkcs11-master-key.ts). The rules the schema cannot say:
// the HSM settings are complete when any HSM key is configured, and a version names one key only, whichever provider
// holds it. Errors name the setting, never the PIN.
import { Type, type Static, type TObject } from 'typebox';
import type { Config } from './config.ts';
import { int, list, oneOf, section, text, type SettingNames } from './read.ts';

const VERSION_PATTERN = '^[1-9][0-9]{0,9}$';

export const HSM_SETTINGS = {
  masterKeyProvider: oneOf(['file', 'pkcs11'], {
    default: 'file',
    env: 'FAPIAO_MASTER_KEY_PROVIDER',
    group: 'Keys and secrets',
    description:
      'Where the current master key (version `masterKeyVersion`) lives: `file` (`masterKey` or `<dataDir>/master.key`) or ' +
      '`pkcs11`, an AES-256 key inside an HSM that never leaves it (settings under `hsm`, [operations.md](operations.md#keys-in-an-hsm)).',
  }),
  hsm: section(
    {
      module: Type.Optional(text({
        env: 'FAPIAO_HSM_MODULE',
        description: 'Path of the PKCS#11 library, e.g. `/usr/lib/softhsm/libsofthsm2.so`.',
      })),
      slot: Type.Optional(int(0, 4_294_967_295, {
        env: 'FAPIAO_HSM_SLOT',
        defaultText: 'none: `tokenLabel` chooses',
        description: 'Slot ID of the token; give this or `tokenLabel`.',
      })),
      tokenLabel: Type.Optional(text({
        env: 'FAPIAO_HSM_TOKEN_LABEL',
        defaultText: 'none: `slot` chooses',
        description: 'Label of the token (the slot holding it is found at start-up); give this or `slot`.',
      })),
      pinFile: Type.Optional(text({
        env: 'FAPIAO_HSM_PIN_FILE',
        description: 'File holding the user PIN (trailing newline ignored); or the environment variable FAPIAO_HSM_PIN.',
      })),
      pin: Type.Optional(text({
        env: 'FAPIAO_HSM_PIN',
        envOnly: true,
        description: 'The user PIN. Environment only: a file value is ignored. Never logged.',
      })),
      keyLabel: text({
        default: 'fapiao-master',
        env: 'FAPIAO_HSM_KEY_LABEL',
        pattern: '^[A-Za-z0-9._-]{1,48}$',
        rule: 'must be 1 to 48 letters, digits, dots, underscores or hyphens',
        description: 'Key objects are labelled `<keyLabel>-v<version>`, one per master-key version.',
      }),
      previousVersions: list(Type.String({ pattern: VERSION_PATTERN, rule: 'entries must be positive integers' }), {
        default: [],
        env: 'FAPIAO_HSM_PREVIOUS_VERSIONS',
        envList: true,
        description:
          'Earlier master-key versions held by the HSM, kept configured until `fapiao keys rotate-master` has moved ' +
          'what they wrap (like `masterKeyPrevious` for file keys).',
      }),
    },
    { title: 'HSM (PKCS#11)', description: 'The master key in a hardware security module: used when `masterKeyProvider` is `pkcs11` or `hsm.previousVersions` is set.' },
  ),
};

export type HsmSettings = Pick<Config, 'masterKeyProvider' | 'hsm'>;

type HsmFile = Static<TObject<typeof HSM_SETTINGS>>;

/** The HSM settings with their cross-field rules (`keys`: the file-key settings already read). */
export function hsmSettings(v: HsmFile, keys: Pick<Config, 'masterKey' | 'masterKeyVersion' | 'previousMasterKeys'>, names: SettingNames): HsmSettings {
  const h = v.hsm;
  const previousVersions = h.previousVersions.map(Number);
  const hsm: Config['hsm'] = {
    ...(h.module ? { module: h.module } : {}),
    ...(h.slot !== undefined ? { slot: h.slot } : {}),
    ...(h.tokenLabel ? { tokenLabel: h.tokenLabel } : {}),
    ...(h.pinFile ? { pinFile: h.pinFile } : {}),
    ...(h.pin ? { pin: h.pin } : {}),
    keyLabel: h.keyLabel,
    previousVersions,
  };
  const used = v.masterKeyProvider === 'pkcs11' || previousVersions.length > 0;
  if (used) {
    if (!hsm.module) throw names.report('hsm.module', 'is required when masterKeyProvider is pkcs11 or hsm.previousVersions is set');
    if ((hsm.slot === undefined) === (hsm.tokenLabel === undefined)) throw names.report('hsm.slot', 'give exactly one of hsm.slot and hsm.tokenLabel');
    if (!hsm.pin && !hsm.pinFile) throw names.report('hsm.pinFile', 'the PIN is required: hsm.pinFile or FAPIAO_HSM_PIN');
  }
  if (v.masterKeyProvider === 'pkcs11' && keys.masterKey !== undefined) {
    throw names.report('masterKey', 'is the file provider\'s key: with masterKeyProvider pkcs11 list it in masterKeyPrevious as <version>:<key>');
  }
  const taken = new Set(keys.previousMasterKeys.map((k) => k.version));
  if (v.masterKeyProvider === 'file') taken.add(keys.masterKeyVersion);
  else if (taken.has(keys.masterKeyVersion)) throw names.report('masterKeyVersion', 'names a key in masterKeyPrevious; each version is one key');
  const hsmVersions = new Set(v.masterKeyProvider === 'pkcs11' ? [keys.masterKeyVersion] : []);
  for (const ver of previousVersions) {
    if (taken.has(ver) || hsmVersions.has(ver)) {
      throw names.report('hsm.previousVersions', 'each version may appear once, differ from masterKeyVersion and from masterKeyPrevious');
    }
    hsmVersions.add(ver);
  }
  return { masterKeyProvider: v.masterKeyProvider, hsm };
}
