// Which master-key provider is active, and for an HSM whether its token answers: the library loads, the PIN logs in
// and every configured HSM key version is there (platform/crypto/master-keys.ts opens them as the server would).
// The PIN is never part of a finding; a PIN file readable by others is one.
import type { Config } from '../../config/config.ts';
import { openMasterKeys } from '../../platform/crypto/master-keys.ts';
import { hsmKeyLabel } from '../../platform/crypto/pkcs11-master-key.ts';
import { AppError } from '../../shared/errors.ts';
import type { Finding } from './findings.ts';
import { permissionFinding } from './secret-checks.ts';

export function keyProviderFindings(config: Readonly<Config>): Finding[] {
  const usesHsm = config.masterKeyProvider === 'pkcs11' || config.hsm.previousVersions.length > 0;
  if (!usesHsm) {
    return [{ id: 'master-key-provider', severity: 'info', message: `master key provider: file (version ${config.masterKeyVersion})` }];
  }
  const out: Finding[] = [];
  if (config.hsm.pinFile) {
    const perm = permissionFinding(config.hsm.pinFile, 'the HSM PIN file', undefined, false);
    if (perm) out.push(perm);
  }
  let opened;
  try {
    opened = openMasterKeys(config);
  } catch (e) {
    const why = e instanceof AppError ? (e.detail ?? e.code) : e instanceof Error ? e.message : String(e);
    out.push({ id: 'master-key-hsm-unavailable', severity: 'high', message: `master key provider: ${config.masterKeyProvider}; the HSM cannot be used: ${why}` });
    return out;
  }
  try {
    const t = opened.token!.describe();
    const hsmVersions = opened.versions.filter((v) => v.provider === 'pkcs11').map((v) => hsmKeyLabel(config.hsm.keyLabel, v.version));
    out.push({
      id: 'master-key-provider',
      severity: 'info',
      message: `master key provider: ${opened.provider} (version ${opened.current.version}); HSM token "${t.tokenLabel}" in slot ${t.slot} ` +
        `(${t.manufacturer} ${t.model}, ${t.module}), keys ${hsmVersions.join(', ')}`,
    });
    for (const v of opened.versions.filter((x) => x.provider === 'pkcs11')) {
      const a = opened.token!.keyAttributes(v.version);
      if (a.extractable || !a.sensitive) {
        out.push({
          id: 'master-key-hsm-extractable',
          severity: 'high',
          message: `the HSM key ${hsmKeyLabel(config.hsm.keyLabel, v.version)} can leave the token (CKA_EXTRACTABLE ${a.extractable}, CKA_SENSITIVE ${a.sensitive}): make a new one with fapiao keys hsm-init`,
        });
      }
    }
  } finally {
    opened.close();
  }
  return out;
}
