// The configured master keys, opened once at start-up: the current one (from its provider) and every earlier version
// still configured, as one ring by version. Versions are unique across providers (config/hsm.ts checks it), so an
// envelope's version alone says which key, in which provider, opens it, and `keys rotate-master` moves sealed
// secrets from a file key to an HSM key, between HSM key versions, or back, without a provider column anywhere.
import { readFileSync } from 'node:fs';
import { AppError } from '../../shared/errors.ts';
import { loadOrCreateMasterKey, MASTER_KEY_BYTES, type MasterKey } from './key-store.ts';
import { Pkcs11Token } from './pkcs11-master-key.ts';

export type MasterKeyProvider = 'file' | 'pkcs11';

/** The settings this reads (a subset of Config). */
export interface MasterKeySettings {
  dataDir: string;
  masterKey?: string;
  masterKeyVersion: number;
  previousMasterKeys: readonly { version: number; key: string }[];
  masterKeyProvider: MasterKeyProvider;
  hsm: {
    module?: string; slot?: number; tokenLabel?: string; pinFile?: string; pin?: string; keyLabel: string; previousVersions: readonly number[];
  };
}

export interface OpenedMasterKeys {
  /** The provider of the current key. */
  provider: MasterKeyProvider;
  current: { key: MasterKey; version: number };
  /** Every configured version, the current one included. */
  ring: ReadonlyMap<number, MasterKey>;
  /** Each configured version and the provider holding it, current first. */
  versions: { version: number; provider: MasterKeyProvider }[];
  /** The open HSM session, when any configured key is in an HSM. */
  token?: Pkcs11Token;
  /** Closes the HSM session (nothing for file keys). */
  close(): void;
}

/** The user PIN from FAPIAO_HSM_PIN or the PIN file; the error names the setting, never the PIN. */
export function readHsmPin(hsm: MasterKeySettings['hsm']): string {
  if (hsm.pin) return hsm.pin;
  if (!hsm.pinFile) throw new AppError('CONFIG_INVALID', { detail: 'hsm.pinFile: the PIN is required (hsm.pinFile or FAPIAO_HSM_PIN)' });
  let text: string;
  try {
    text = readFileSync(hsm.pinFile, 'utf8');
  } catch (e) {
    throw new AppError('CONFIG_INVALID', { detail: `hsm.pinFile: ${hsm.pinFile} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
  }
  const pin = text.replace(/\r?\n$/, '');
  if (pin === '') throw new AppError('CONFIG_INVALID', { detail: `hsm.pinFile: ${hsm.pinFile} is empty` });
  return pin;
}

/** A logged-in session on the configured token. */
export function openHsmToken(s: MasterKeySettings): Pkcs11Token {
  const { module, slot, tokenLabel, keyLabel } = s.hsm;
  if (!module) throw new AppError('CONFIG_INVALID', { detail: 'hsm.module is required for the pkcs11 master-key provider' });
  const token = new Pkcs11Token({ module, keyLabel, pin: readHsmPin(s.hsm), ...(slot !== undefined ? { slot } : {}), ...(tokenLabel ? { tokenLabel } : {}) });
  try {
    token.open();
  } catch (e) {
    token.close();
    throw e;
  }
  return token;
}

/**
 * Opens every configured master key. The file provider's current key is made on first use (`<dataDir>/master.key`);
 * an HSM key must exist in the token (`fapiao keys hsm-init`), else a CONFIG_INVALID/MASTER_KEY_UNAVAILABLE error
 * names what is missing.
 */
export function openMasterKeys(s: MasterKeySettings): OpenedMasterKeys {
  const usesHsm = s.masterKeyProvider === 'pkcs11' || s.hsm.previousVersions.length > 0;
  const token = usesHsm ? openHsmToken(s) : undefined;
  try {
    const ring = new Map<number, MasterKey>();
    const versions: OpenedMasterKeys['versions'] = [];
    const current: MasterKey = s.masterKeyProvider === 'pkcs11'
      ? token!.masterKey(s.masterKeyVersion)
      : loadOrCreateMasterKey(s.dataDir, s.masterKey);
    ring.set(s.masterKeyVersion, current);
    versions.push({ version: s.masterKeyVersion, provider: s.masterKeyProvider });
    for (const p of s.previousMasterKeys) {
      const key = new Uint8Array(Buffer.from(p.key, 'base64'));
      if (key.length !== MASTER_KEY_BYTES) throw new AppError('CONFIG_INVALID', { detail: `previous master key version ${p.version} is not 32 bytes` });
      ring.set(p.version, key);
      versions.push({ version: p.version, provider: 'file' });
    }
    for (const v of s.hsm.previousVersions) {
      ring.set(v, token!.masterKey(v));
      versions.push({ version: v, provider: 'pkcs11' });
    }
    return {
      provider: s.masterKeyProvider, current: { key: current, version: s.masterKeyVersion }, ring, versions,
      ...(token ? { token } : {}),
      close: () => token?.close(),
    };
  } catch (e) {
    token?.close();
    throw e;
  }
}
