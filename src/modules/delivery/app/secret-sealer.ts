// Webhook signing secrets at rest: sealed under the master key like the signing keys (platform/crypto/key-store.ts),
// bound to the tenant and endpoint by the AAD, so a sealed secret copied to another row does not open.
import { openSecret, sealSecret, type MasterKey } from '../../../platform/crypto/key-store.ts';

export interface SecretSealer {
  seal(secret: string, tenantId: string, endpointId: string): string;
  open(sealed: string, tenantId: string, endpointId: string): string;
}

const aad = (tenantId: string, endpointId: string) => `webhook-secret:${tenantId}:${endpointId}`;

export function masterKeySealer(current: { key: MasterKey; version: number }, ring: ReadonlyMap<number, MasterKey>): SecretSealer {
  return {
    seal: (secret, t, e) => sealSecret(current.key, Buffer.from(secret, 'utf8'), aad(t, e), { keyVersion: current.version }),
    open: (sealed, t, e) => Buffer.from(openSecret(ring, sealed, aad(t, e))).toString('utf8'),
  };
}
