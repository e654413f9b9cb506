// Public routes (no API key): 查验 and the published signing keys.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { VerifyResult, VerifyService } from '../app/verify-service.ts';
import type { KeyService } from '../../keys/index.ts';
import type { LogKeyService } from '../../ledger/index.ts';
import { ProblemSchema } from '../../../platform/http/schemas.ts';
import { VerifySchema, type VerifyBody } from './verify-schemas.ts';
import { SIGNATURE_ALG, SIGNING_ALGORITHMS } from '../../../shared/signing.ts';

const Status = (what: string) => Type.Union([Type.Literal('active'), Type.Literal('retired')], {
  description: `\`active\`: ${what}; \`retired\`: replaced by a rotation, still published so that what it signed verifies`,
});

/** One published invoice signing key (KeyService.list). */
const SigningKeySchema = Type.Object({
  keyId: Type.String({
    description: 'The id an invoice names in `signature.keyId`: the algorithm\'s prefix `sm2-`, `p256-` (ECDSA-P256) or `ed25519-`, then 16 hex digits of a hash of `publicKey` (SM3 for SM2, SHA-256 otherwise)',
    examples: ['sm2-26deabb021edcec3', 'p256-e58439cc793e9060', 'ed25519-c8d9e8ff6ba6a444'],
  }),
  alg: Type.Union(SIGNING_ALGORITHMS.map((a) => Type.Literal(a)), {
    description: 'The key\'s algorithm (config `signing.algorithm`, a tenant\'s `signingAlgorithm`); the invoices it signs name the scheme in `signature.alg`: ' +
      SIGNING_ALGORITHMS.map((a) => `\`${a}\` → \`${SIGNATURE_ALG[a]}\``).join(', '),
  }),
  publicKey: Type.String({ description: 'hex: the uncompressed point 04‖x‖y (SM2, ECDSA-P256: 130 digits) or the 32-byte key (Ed25519: 64 digits)' }),
  spki: Type.String({ description: 'base64 of the DER SubjectPublicKeyInfo (RFC 5480 for SM2 and ECDSA-P256, RFC 8410 for Ed25519): a PEM public key once wrapped' }),
  createdAt: Type.String({ format: 'date-time' }),
  status: Status('signs new invoices of its algorithm (one active key per algorithm)'),
});

/** One verifier key of the ledger's checkpoints (LogKeyService.list). */
const LogKeySchema = Type.Object({
  verifierKey: Type.String({ description: 'signed-note verifier key: `<name>+<hex key ID>+<base64(type ‖ key)>`' }),
  alg: Type.Union([Type.Literal('ed25519'), Type.Literal('sm2')], {
    description: '`ed25519` (always), `sm2` (an SM2-SM3 signature line when `ledger.sm2Signature` is on)',
  }),
  createdAt: Type.String({ format: 'date-time' }),
  status: Status('signs new checkpoints'),
});

export function publicRoutes(services: { verify: VerifyService; keys: KeyService; ledgerKeys: LogKeyService }) {
  // The service answers the same object while the row and its ledger membership are unchanged: serialised once.
  const bodies = new WeakMap<VerifyResult, string>();
  const bodyOf = (result: VerifyResult): string => {
    let body = bodies.get(result);
    if (body === undefined) {
      body = JSON.stringify(result);
      bodies.set(result, body);
    }
    return body;
  };
  return async function (app: FastifyInstance): Promise<void> {
    app.post<{ Body: VerifyBody }>('/v1/verify', {
      schema: {
        summary: 'Verify an invoice (发票查验)',
        description:
          'Number + issue date + total with tax. Any mismatch answers `not-found`, never which field was wrong. ' +
          '`tampered` means the stored invoice no longer matches its own signature. Limited per client address per ' +
          'minute and per invoice number per day (UTC+8), counting every check that names the number: past either ' +
          'limit the answer is 429 `RATE_LIMITED` with `Retry-After`. For an authentic invoice, `ledger` says where it is in ' +
          'the public ledger: `integrated` with its leaf index and the newest checkpoint\'s tree size and base64 root ' +
          '(the signed note at `checkpointUrl`), or `pending` with the index before the next checkpoint.',
        tags: ['public'],
        body: VerifySchema,
        response: {
          200: Type.Object({
            result: Type.Union([Type.Literal('authentic'), Type.Literal('not-found'), Type.Literal('tampered')]),
            invoice: Type.Optional(Type.Object({}, { additionalProperties: true })),
            signature: Type.Optional(Type.Object({
              alg: Type.String({ description: 'The scheme the invoice names: `SM2-SM3`, `ECDSA-P256-SHA256` or `Ed25519` (GET /v1/keys `alg`)' }),
              keyId: Type.String({ description: 'The key in GET /v1/keys' }),
              valid: Type.Boolean(),
            })),
            ledger: Type.Optional(Type.Object({
              status: Type.Union([Type.Literal('integrated'), Type.Literal('pending')]),
              leafIndex: Type.Integer({ minimum: 0 }),
              treeSize: Type.Optional(Type.Integer({ minimum: 1 })),
              rootHash: Type.Optional(Type.String({ description: 'base64 SHA-256 root of the checkpoint' })),
              checkpointUrl: Type.String(),
            })),
          }, { additionalProperties: true }),
          400: ProblemSchema,
          429: ProblemSchema,
        },
      },
      // Before body parsing and validation, so malformed requests are counted too.
      onRequest: async (req) => services.verify.admitClient(req.clientIp ?? req.ip),
    }, async (req, reply) => {
      const result = await services.verify.verify(req.body);
      return reply.header('cache-control', 'no-store').type('application/json; charset=utf-8').send(bodyOf(result));
    });

    app.get('/v1/keys', {
      schema: {
        summary: 'Public signing keys',
        description:
          'The invoice signing keys by keyId, every algorithm the server signs with (SM2, ECDSA-P256, Ed25519: config ' +
          '`signing.algorithm` and each tenant\'s `signingAlgorithm`), retired keys included (an invoice names its key in ' +
          '`signature.keyId`). `alg` names the key\'s algorithm: `SM2` (signatures `SM2-SM3`: SM3 and the user ID ' +
          '1234567812345678, DER), `ECDSA-P256` (`ECDSA-P256-SHA256`: SHA-256, DER) or `Ed25519` (`Ed25519`: RFC 8032, ' +
          '64 bytes); pick the key by `signature.keyId` and check that its `alg` is the one of `signature.alg`. `publicKey`: ' +
          'hex, the uncompressed point 04‖x‖y for SM2 and ECDSA-P256, the 32-byte key for Ed25519. `spki`: base64 of the ' +
          'DER SubjectPublicKeyInfo (RFC 5480, RFC 8410), which is a PEM public key for OpenSSL once wrapped. The signed ' +
          'message is the UTF-8 text `<QR base>,<hash>` (docs/architecture.md "What is signed"). `ledger`: the verifier ' +
          'keys of the ledger\'s checkpoints (signed-note format `<name>+<hex key ID>+<base64(type ‖ key)>`).',
        tags: ['public'],
        response: {
          200: Type.Object({
            keys: Type.Array(SigningKeySchema),
            ledger: Type.Array(LogKeySchema),
          }),
        },
      },
    }, async () => ({ keys: await services.keys.list(), ledger: await services.ledgerKeys.list() }));
  };
}
