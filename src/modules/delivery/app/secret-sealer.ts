// Webhook signing secrets at rest: sealed under the master key like the signing keys (platform/crypto/key-store.ts),
// bound to the tenant and endpoint by the AAD, so a sealed secret copied to another row does not open.
import { openSecret, sealSecret, type MasterKey } from '../../../platform/crypto/key-store.ts';

export interface SecretSealer {
  seal(secret: string, tenantId: string, endpointId: string): string;
  open(sealed: string, tenantId: string, endpointId: string): string;
}

/** The label a webhook secret is sealed with; master-key rotation (modules/keys) reseals under it. */
export const webhookSecretLabel = (tenantId: string, endpointId: string): string => `webhook-secret:${tenantId}:${endpointId}`;
const aad = webhookSecretLabel;

/** Opened secrets kept per sealer, so a master key in an HSM is asked once per endpoint secret, not per delivery. */
const CACHE_ENTRIES = 1024;

export function masterKeySealer(current: { key: MasterKey; version: number }, ring: ReadonlyMap<number, MasterKey>): SecretSealer {
  const opened = new Map<string, string>();
  return {
    seal: (secret, t, e) => sealSecret(current.key, Buffer.from(secret, 'utf8'), aad(t, e), { keyVersion: current.version }),
    open: (sealed, t, e) => {
      // The sealed text with its label is the key: a rotated or resealed secret is a new entry.
      const id = `${aad(t, e)}|${sealed}`;
      let secret = opened.get(id);
      if (secret === undefined) {
        secret = Buffer.from(openSecret(ring, sealed, aad(t, e))).toString('utf8');
        if (opened.size >= CACHE_ENTRIES) opened.delete(opened.keys().next().value!);
        opened.set(id, secret);
      }
      return secret;
    },
  };
}
