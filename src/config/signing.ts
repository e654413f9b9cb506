// Invoice signatures (shared/signing.ts, docs/architecture.md "What is signed"): the algorithm of tenants that name
// none. A tenant's own setting (admin API, `fapiao tenant update --signing-algorithm`) takes precedence.
import { SIGNING_ALGORITHMS } from '../shared/signing.ts';
import { oneOf, section } from './read.ts';

export const SIGNING_SCHEMA = section(
  {
    algorithm: oneOf(SIGNING_ALGORITHMS, {
      default: 'SM2',
      env: 'FAPIAO_SIGNING_ALGORITHM',
      description:
        'Algorithm of invoice signatures for tenants without their own (`signingAlgorithm`): `SM2` (GB/T 32918 with SM3), or the international profile for invoices that leave China (UBL): `ECDSA-P256` (with SHA-256, DER) or `Ed25519`. One active key per algorithm, made on first use; GET /v1/keys publishes each with its algorithm. OFD package signatures stay SM2 (GB/T 38540).',
    }),
  },
  { title: 'Signing', description: 'Invoice signatures (docs/architecture.md "What is signed").' },
);
