// The ledger over HTTP (docs/ledger.md "Serving"):
// - route group `public`: the log in the C2SP tlog-tiles layout at the listener's root — `GET /checkpoint`,
//   `GET /tile/<L>/<N>[.p/<W>]`, `GET /tile/entries/<N>[.p/<W>]` — so any tlog-tiles client can read it, and JSON
//   views `GET /v1/ledger/checkpoint` and `GET /v1/ledger/consistency?from=&to=`;
// - route group `query` (API key): `GET /v1/ledger/proof/{number}`, the inclusion proof of one of the tenant's own
//   invoices (another tenant's number is INVOICE_NOT_FOUND; one not yet integrated is 202 with Retry-After).
// Tiles and bundles are immutable once served at a width (tiles only grow at their end), so they are cached for a
// year; the checkpoint changes at most every second.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { AppError } from '../../../shared/errors.ts';
import { ProblemSchema } from '../../../platform/http/schemas.ts';
import { requireScope } from '../../tenants/index.ts';
import type { LedgerService } from '../app/ledger-service.ts';
import { parseTilePath } from '../domain/tile-path.ts';

type Authenticate = (req: FastifyRequest) => Promise<void>;

const IMMUTABLE = 'public, max-age=31536000, immutable';
const CHECKPOINT_CACHE = 'public, max-age=1';
/** Seconds a client waits for an invoice to be integrated: about one checkpoint interval. */
const RETRY_AFTER_SEC = 1;

const CheckpointSchema = Type.Object({
  treeSize: Type.Integer({ minimum: 0 }),
  rootHash: Type.String({ description: 'Base64 SHA-256 root (RFC 9162)' }),
  checkpoint: Type.String({ description: 'The signed checkpoint (C2SP tlog-checkpoint, signed-note)' }),
});

const SIZE = Type.String({ pattern: '^(0|[1-9][0-9]{0,15})$', description: 'A tree size (decimal)' });
const ConsistencyQuery = Type.Object({ from: SIZE, to: SIZE }, { additionalProperties: false });

const ProofParams = Type.Object(
  { number: Type.String({ pattern: '^[0-9]{20}$', description: '20-digit invoice number' }) },
  { additionalProperties: false },
);

const binary = Type.String({ description: 'application/octet-stream' });

// The characters a tile path can hold; anything else is a 400, a path in the right alphabet naming no stored tile a 404.
const TileParams = Type.Object(
  { '*': Type.String({ pattern: '^[0-9a-z./]{1,100}$', description: '`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`' }) },
  { additionalProperties: false },
);

export function ledgerPublicRoutes(services: { ledger: LedgerService }) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/checkpoint', {
      schema: {
        summary: 'The latest signed checkpoint of the ledger (C2SP tlog-checkpoint)',
        tags: ['ledger'],
        response: { 200: Type.String({ description: 'text/plain; charset=utf-8' }), 404: ProblemSchema },
      },
    }, async (_req, reply) => {
      const c = await services.ledger.checkpoint();
      if (!c) throw new AppError('NOT_FOUND', { detail: 'no checkpoint yet' });
      return reply.header('cache-control', CHECKPOINT_CACHE).type('text/plain; charset=utf-8').send(c.checkpoint);
    });

    app.get<{ Params: { '*': string } }>('/tile/*', {
      schema: {
        summary: 'A Merkle tile or entry bundle (C2SP tlog-tiles)',
        description: '`/tile/<L>/<N>[.p/<W>]`: W hashes of 32 bytes of tree level 8·L; `/tile/entries/<N>[.p/<W>]`: entries as a big-endian uint16 length and the entry bytes. `<N>` in groups of three digits, all but the last prefixed with `x`.',
        tags: ['ledger'],
        params: TileParams,
        response: { 200: binary, 400: ProblemSchema, 404: ProblemSchema },
      },
    }, async (req, reply) => {
      const parsed = parseTilePath(`tile/${req.params['*']}`);
      if (!parsed) throw new AppError('NOT_FOUND', { detail: 'not a tile path' });
      const data = parsed.kind === 'tile'
        ? await services.ledger.tile(parsed.level, parsed.index, parsed.width)
        : await services.ledger.bundle(parsed.index, parsed.width);
      if (!data) throw new AppError('NOT_FOUND', { detail: 'no such tile in the published tree' });
      return sendBinary(reply, data);
    });

    app.get('/v1/ledger/checkpoint', {
      schema: {
        summary: 'The latest checkpoint, as JSON',
        tags: ['ledger'],
        response: { 200: CheckpointSchema, 404: ProblemSchema },
      },
    }, async (_req, reply) => {
      const c = await services.ledger.checkpoint();
      if (!c) throw new AppError('NOT_FOUND', { detail: 'no checkpoint yet' });
      return reply.header('cache-control', CHECKPOINT_CACHE).send(c);
    });

    app.get<{ Querystring: Static<typeof ConsistencyQuery> }>('/v1/ledger/consistency', {
      schema: {
        summary: 'A consistency proof between two tree sizes (RFC 9162 §2.1.4)',
        description: '1 ≤ from ≤ to ≤ the size of the latest checkpoint, which the answer includes.',
        tags: ['ledger'],
        querystring: ConsistencyQuery,
        response: {
          200: Type.Object({ from: Type.Integer(), to: Type.Integer(), consistencyProof: Type.Array(Type.String()), checkpoint: CheckpointSchema }),
          400: ProblemSchema,
        },
      },
    }, async (req, reply) => {
      const r = await services.ledger.consistency(Number(req.query.from), Number(req.query.to));
      return reply.header('cache-control', 'no-store').send(r);
    });
  };
}

export function ledgerProofRoutes(services: { ledger: LedgerService }, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);
    app.get<{ Params: Static<typeof ProofParams> }>('/v1/ledger/proof/:number', {
      schema: {
        summary: 'The inclusion proof of an invoice in the ledger (RFC 9162 §2.1.3)',
        description: 'Against the latest checkpoint. 202 with Retry-After while the invoice is not yet integrated (at most a few seconds after issue).',
        tags: ['ledger'],
        security: [{ apiKey: [] }],
        params: ProofParams,
        response: {
          200: Type.Object({
            number: Type.String(), leafIndex: Type.Integer(), leafHash: Type.String(), leafEntry: Type.String(),
            inclusionProof: Type.Array(Type.String()), ...CheckpointSchema.properties,
          }),
          202: Type.Object({ status: Type.Literal('pending'), leafIndex: Type.Integer() }),
          400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema,
        },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      const r = await services.ledger.proof(auth.tenant.id, req.params.number);
      if (r.status === 'pending') {
        return reply.code(202).header('retry-after', String(RETRY_AFTER_SEC)).header('cache-control', 'no-store').send({ status: 'pending', leafIndex: r.leafIndex });
      }
      return reply.header('cache-control', 'no-store').send(r.proof);
    });
  };
}

function sendBinary(reply: FastifyReply, data: Uint8Array) {
  return reply.header('cache-control', IMMUTABLE).type('application/octet-stream').send(Buffer.from(data));
}
