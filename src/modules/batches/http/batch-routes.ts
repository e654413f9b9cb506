// /v1/invoice-batches (route group `issue`, scope `invoices:issue` for every route): thin adapters over BatchService.
// The body is a JSON array, or JSON Lines (application/x-ndjson, parsed here as text so a malformed line is that
// item's problem, not the request's); its limit fits a full batch (config `batches.maxBodyBytes`).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProblemSchema } from '../../../platform/http/schemas.ts';
import { httpStatusOf } from '../../../platform/http/error-status.ts';
import { isErrorCode } from '../../../platform/http/problem-details.ts';
import { auditStampOf, requireScope } from '../../tenants/index.ts';
import { jsonArrayItems, parseJsonLines } from '../app/batch-input.ts';
import type { BatchService, BatchView } from '../app/batch-service.ts';
import type { ItemProblem } from '../domain/problem.ts';
import type { Batch, BatchCounts, BatchItem } from '../storage/batch-repository.ts';
import {
  BatchAcceptedSchema, BatchBodySchema, BatchItemsQuery, BatchListQuery, BatchListSchema, BatchParams, BatchViewSchema,
} from './batch-schemas.ts';

type Authenticate = (req: FastifyRequest) => Promise<void>;

const security = [{ apiKey: [] }];
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 413: ProblemSchema, 415: ProblemSchema, 422: ProblemSchema };
const NDJSON = 'application/x-ndjson';

/** The audit entry's who, from where and for which request (tenants/http/audit-stamp.ts). */
const actorOf = auditStampOf;

const withStatus = (p: ItemProblem) => ({ status: isErrorCode(p.code) ? httpStatusOf(p.code) : 500, ...p });
const progress = (b: Batch, c: BatchCounts) => ({ total: b.total, ...c });
const presentBatch = (b: Batch & { counts: BatchCounts }) => ({
  id: b.id, status: b.state, format: b.format, createdAt: b.createdAt, ...(b.completedAt ? { completedAt: b.completedAt } : {}),
  progress: progress(b, b.counts),
});
const presentItem = (i: BatchItem) => ({
  index: i.index, ...(i.line !== undefined ? { line: i.line } : {}), ...(i.externalId !== undefined ? { externalId: i.externalId } : {}),
  status: i.state, ...(i.number !== undefined ? { number: i.number } : {}), ...(i.problem ? { problem: withStatus(i.problem) } : {}),
});
const json = (body: unknown) => JSON.stringify(body);

export function batchRoutes(services: { batches: BatchService }, authenticate: Authenticate, opts: { maxBodyBytes: number }) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);
    // JSON Lines as text: each line is parsed on its own (batch-input.ts).
    app.addContentTypeParser(NDJSON, { parseAs: 'string', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));

    app.post('/v1/invoice-batches', {
      bodyLimit: opts.maxBodyBytes,
      // Items are checked one by one by the service (each gets its own problem); the schema is for the description.
      validatorCompiler: () => () => true,
      schema: {
        summary: 'Issue a batch of invoices',
        description: 'Every item is checked first with the rules of POST /v1/invoices and must carry an externalId. Answers 202 with the batch id and the problems of refused items; valid items are issued in the background (GET the Location for progress). Resubmitting the same externalIds issues nothing twice.',
        tags: ['batches'],
        security,
        body: BatchBodySchema,
        response: { 202: BatchAcceptedSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      const ndjson = typeof req.body === 'string';
      const items = ndjson ? parseJsonLines(req.body as string) : jsonArrayItems(req.body);
      const result = await services.batches.submit(auth.tenant, items, { format: ndjson ? 'ndjson' : 'json', by: actorOf(req, auth) });
      return reply.code(202).header('location', `/v1/invoice-batches/${result.batch.id}`).type('application/json; charset=utf-8').send(json({
        id: result.batch.id, status: result.batch.state, total: result.batch.total, accepted: result.accepted, invalid: result.invalid,
        problems: result.problems.map((p) => ({ ...p, problem: withStatus(p.problem) })),
      }));
    });

    app.get<{ Params: { id: string }; Querystring: { cursor?: string; limit?: string } }>('/v1/invoice-batches/:id', {
      schema: {
        summary: 'Progress and per-item results of a batch',
        description: 'Counts of pending, issued, failed and invalid items, and a page of items in order (number, or problem); pages follow `nextCursor`.',
        tags: ['batches'], security, params: BatchParams, querystring: BatchItemsQuery,
        response: { 200: BatchViewSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      const { cursor, limit } = req.query;
      const view: BatchView = await services.batches.get(auth.tenant.id, req.params.id, { ...(cursor ? { cursor } : {}), ...(limit ? { limit: Number(limit) } : {}) });
      return reply.type('application/json; charset=utf-8').send(json({
        ...presentBatch(view), items: view.items.map(presentItem), ...(view.nextCursor ? { nextCursor: view.nextCursor } : {}),
      }));
    });

    app.get<{ Querystring: { cursor?: string; limit?: string } }>('/v1/invoice-batches', {
      schema: {
        summary: 'List batches', description: 'Newest first; pages follow `nextCursor`.',
        tags: ['batches'], security, querystring: BatchListQuery, response: { 200: BatchListSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      const { cursor, limit } = req.query;
      const page = await services.batches.list(auth.tenant.id, { ...(cursor ? { cursor } : {}), ...(limit ? { limit: Number(limit) } : {}) });
      return reply.type('application/json; charset=utf-8').send(json({ items: page.items.map(presentBatch), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) }));
    });
  };
}
