// The signature algorithms of invoices. SM2 (GB/T 32918, with SM3) is the default and the only one the Chinese
// platform knows; ECDSA over P-256 (FIPS 186-5, with SHA-256) and Ed25519 (RFC 8032) are the international profile,
// for invoices that leave China (UBL), chosen per server (config `signing.algorithm`) or per tenant. Whatever the
// algorithm, the signed message is the same (`${qrBase},${hash}`, the hash SM3 over the canonical body); see
// docs/architecture.md "What is signed".

/** The algorithm of a signing key (`signing_keys.alg`, config `signing.algorithm`, a tenant's `signingAlgorithm`). */
export const SIGNING_ALGORITHMS = ['SM2', 'ECDSA-P256', 'Ed25519'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** The signature scheme an invoice's `signature.alg` names, per key algorithm. */
export const SIGNATURE_ALG = {
  SM2: 'SM2-SM3',
  'ECDSA-P256': 'ECDSA-P256-SHA256',
  Ed25519: 'Ed25519',
} as const satisfies Record<SigningAlgorithm, string>;
export type SignatureAlg = (typeof SIGNATURE_ALG)[SigningAlgorithm];

const KEY_ALG_OF = new Map<string, SigningAlgorithm>(SIGNING_ALGORITHMS.map((a) => [SIGNATURE_ALG[a], a]));

/** The key algorithm of a signature scheme name, or undefined for a name no key of ours signs with. */
export function keyAlgorithmOf(signatureAlg: string): SigningAlgorithm | undefined {
  return KEY_ALG_OF.get(signatureAlg);
}

export function isSigningAlgorithm(value: unknown): value is SigningAlgorithm {
  return typeof value === 'string' && (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}
