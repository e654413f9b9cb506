// The algorithm a tenant's invoices are signed with (the international profile: ECDSA-P256 or Ed25519 for invoices
// that leave China; shared/signing.ts). NULL = the server's, config `signing.algorithm` (SM2 by default), which is
// what every existing tenant keeps. signing_keys.alg (0001) already names each key's algorithm; one key per
// algorithm is active. Append-only: never edit this once released.
import type { Kysely, Migration } from 'kysely';

export function tenantSigningAlgorithm(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('tenants').addColumn('signing_algorithm', 'text').execute();
    },
  };
}
