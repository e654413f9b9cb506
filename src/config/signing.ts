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
    sm2BaseMul: oneOf(['openssl', 'table'] as const, {
      default: 'openssl',
      env: 'FAPIAO_SM2_BASE_MUL',
      description:
        'How an SM2 signature computes k·G: `openssl`, Node\'s SM2 curve (OpenSSL\'s constant-time ladder), or `table`, a precomputed table of the base point (`platform/crypto/sm2-base-mul.ts`), about 2.4× faster per signature but not constant-time: it reads the table at the secret nonce\'s digits, which another process sharing the CPU\'s caches could observe, and one nonce gives away the key. `table` only on a host where nothing untrusted shares the CPU.',
    }),
  },
  { title: 'Signing', description: 'Invoice signatures (docs/architecture.md "What is signed").' },
);
