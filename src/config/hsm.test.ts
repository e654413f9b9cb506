// The master-key provider settings: the HSM settings are complete when an HSM key is configured, a version names one
// key whichever provider holds it, and errors name the setting, never the PIN.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { ConfigError, loadConfig } from './config.ts';

const cwd = tmpdir();
const HSM = { FAPIAO_HSM_MODULE: '/usr/lib/softhsm/libsofthsm2.so', FAPIAO_HSM_TOKEN_LABEL: 'fapiao', FAPIAO_HSM_PIN: '4711-secret' };
const refused = (env: Record<string, string>, setting: string) =>
  assert.throws(() => loadConfig(env, cwd), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.setting, setting);
    assert.doesNotMatch(e.message, /4711-secret/);
    return true;
  });

describe('master-key provider settings', () => {
  it('defaults to the file provider with no HSM settings', () => {
    const c = loadConfig({}, cwd);
    assert.equal(c.masterKeyProvider, 'file');
    assert.deepEqual(c.hsm, { keyLabel: 'fapiao-master', previousVersions: [] });
  });

  it('reads the pkcs11 provider from the environment, the PIN only from there', () => {
    const c = loadConfig({ ...HSM, FAPIAO_MASTER_KEY_PROVIDER: 'pkcs11', FAPIAO_HSM_PREVIOUS_VERSIONS: '3, 4' }, cwd);
    assert.equal(c.masterKeyProvider, 'pkcs11');
    assert.equal(c.hsm.pin, '4711-secret');
    assert.deepEqual(c.hsm.previousVersions, [3, 4]);
  });

  it('refuses an incomplete HSM configuration, naming the setting', () => {
    refused({ FAPIAO_MASTER_KEY_PROVIDER: 'pkcs11' }, 'hsm.module');
    refused({ ...HSM, FAPIAO_HSM_TOKEN_LABEL: '', FAPIAO_MASTER_KEY_PROVIDER: 'pkcs11' }, 'hsm.slot');
    refused({ ...HSM, FAPIAO_HSM_SLOT: '0', FAPIAO_MASTER_KEY_PROVIDER: 'pkcs11' }, 'FAPIAO_HSM_SLOT');
    refused({ ...HSM, FAPIAO_HSM_PIN: '', FAPIAO_HSM_PREVIOUS_VERSIONS: '2' }, 'hsm.pinFile');
  });

  it('refuses a version named by two keys', () => {
    const key = randomBytes(32).toString('base64');
    // A setting given by its environment variable is reported under the variable's name.
    refused({ ...HSM, FAPIAO_MASTER_KEY_PROVIDER: 'pkcs11', FAPIAO_MASTER_KEY_VERSION: '2', FAPIAO_MASTER_KEY_PREVIOUS: `2:${key}` }, 'FAPIAO_MASTER_KEY_PREVIOUS');
    refused({ ...HSM, FAPIAO_MASTER_KEY_PREVIOUS: `2:${key}`, FAPIAO_HSM_PREVIOUS_VERSIONS: '2' }, 'FAPIAO_HSM_PREVIOUS_VERSIONS');
    refused({ ...HSM, FAPIAO_HSM_PREVIOUS_VERSIONS: '1' }, 'FAPIAO_HSM_PREVIOUS_VERSIONS');
    refused({ ...HSM, FAPIAO_MASTER_KEY_PROVIDER: 'pkcs11', FAPIAO_MASTER_KEY: key }, 'FAPIAO_MASTER_KEY');
  });
});
