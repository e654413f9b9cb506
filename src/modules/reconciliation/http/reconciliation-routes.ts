// `/v1/statements…` and `/v1/reconciliations…` (route group `query`, scope `invoices:read`): thin adapters over
// StatementService and ReconciliationService. An upload (CSV or JSON Lines) reaches the use case as the request's
// byte stream, never parsed or buffered whole here. A reconciliation is seen by its tenant only (404 otherwise).
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { AppError } from '../../../shared/errors.ts';
import { ProblemSchema, Text } from '../../../platform/http/schemas.ts';
import { auditStampOf, requireScope } from '../../tenants/index.ts';
import type { ReconciliationService } from '../app/reconciliation-service.ts';
import type { StatementService } from '../app/statement-service.ts';
import { RESULT_FILTERS } from '../domain/matching.ts';
import { parseRange } from '../domain/period.ts';
import type { UploadFormat } from '../domain/erp-rows.ts';
import { RESULT_CSV_HEADER, presentReconciliation, presentResult, resultCsv, statementCsv } from './present.ts';

type Authenticate = (req: FastifyRequest) => Promise<void>;
interface Services { statements: StatementService; reconciliations: ReconciliationService }

const security = [{ apiKey: [] }];
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 406: ProblemSchema, 413: ProblemSchema, 415: ProblemSchema, 422: ProblemSchema };

const DateText = (description: string) => Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description });
const PeriodText = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}$', description: 'A natural month YYYY-MM (issue dates in UTC+8)' });
const RangeQuery = {
  from: Type.Optional(DateText('First issue date included (UTC+8), with `to`')),
  to: Type.Optional(DateText('Last issue date included (UTC+8), with `from`')),
  period: Type.Optional(PeriodText),
};
const StatementQuery = Type.Object({
  ...RangeQuery,
  format: Type.Optional(Type.Enum(['json', 'csv'], { description: 'csv, or send `Accept: text/csv`' })),
}, { additionalProperties: false });
const UploadQuery = Type.Object(RangeQuery, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ pattern: '^rc_[0-9]{13}[0-9a-f]{12}$', description: 'Reconciliation id' }) }, { additionalProperties: false });
const ResultsQuery = Type.Object({
  outcome: Type.Optional(Type.Enum([...RESULT_FILTERS], { description: 'Only results with this outcome, or this difference' })),
  limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'Page size (default 100, capped)' })),
  cursor: Type.Optional(Text(64, { description: '`nextCursor` of the previous page' })),
  format: Type.Optional(Type.Enum(['json', 'csv'], { description: 'csv (every result, no paging), or send `Accept: text/csv`' })),
}, { additionalProperties: false });
type ResultsQueryInput = Static<typeof ResultsQuery>;

const Money = Type.String({ description: 'Decimal string' });
const SumsSchema = { count: Type.Integer(), amount: Money, tax: Money, total: Money };
const StatementSchema = Type.Object({
  from: Type.String(), to: Type.String(), period: Type.Optional(Type.String()), currency: Type.Literal('CNY'),
  totals: Type.Object(SumsSchema),
  byType: Type.Array(Type.Object({ type: Type.String(), label: Type.String(), ...SumsSchema })),
  byStatus: Type.Array(Type.Object({ type: Type.String(), category: Type.String(), label: Type.String(), ...SumsSchema })),
  byRate: Type.Array(Type.Object({ type: Type.String(), kind: Type.String(), rate: Type.String(), exemption: Type.Optional(Type.String()), lines: Type.Integer(), ...SumsSchema })),
  quota: Type.Array(Type.Object({ period: Type.String(), quota: Type.Union([Money, Type.Null()]), used: Money, remaining: Type.Union([Money, Type.Null()]) })),
  quotaUsedInRange: Money,
});
const SideSchema = Type.Object({ count: Type.Integer(), amount: Money, tax: Money });
const MonthlySchema = Type.Object({
  period: Type.String(), from: Type.String(), to: Type.String(), closed: Type.Boolean(),
  seller: Type.Object({ taxId: Type.String(), name: Type.String() }),
  rates: Type.Array(Type.Object({ type: Type.String(), label: Type.String(), rate: Type.String(), exemption: Type.Optional(Type.String()), blue: SideSchema, red: SideSchema })),
  totals: Type.Array(Type.Object({ type: Type.String(), label: Type.String(), blue: SideSchema, red: SideSchema })),
  digest: Type.String(),
  ledger: Type.Object({
    invoices: Type.Integer(), firstIndex: Type.Union([Type.Integer(), Type.Null()]), lastIndex: Type.Union([Type.Integer(), Type.Null()]),
    checkpoint: Type.Union([Type.Object({ treeSize: Type.Integer(), rootHash: Type.String(), note: Type.String(), covers: Type.Boolean() }), Type.Null()]),
  }),
});
const TotalsSchema = Type.Object({
  rows: Type.Integer(), matched: Type.Integer(), mismatch: Type.Integer(), amountMismatch: Type.Integer(), taxMismatch: Type.Integer(),
  dateMismatch: Type.Integer(), buyerMismatch: Type.Integer(), missingOurs: Type.Integer(), missingTheirs: Type.Integer(), duplicate: Type.Integer(), malformed: Type.Integer(),
});
const ReconciliationSchema = Type.Object({
  id: Type.String(), status: Type.Enum(['receiving', 'queued', 'running', 'done', 'failed']), format: Type.String(),
  from: Type.Optional(Type.String()), to: Type.Optional(Type.String()), rows: Type.Integer(), malformed: Type.Integer(),
  progress: Type.Object({ phase: Type.String(), done: Type.Integer(), total: Type.Integer(), percent: Type.Integer() }),
  totals: Type.Optional(TotalsSchema), error: Type.Optional(Type.String()),
  createdAt: Type.String(), updatedAt: Type.String(), finishedAt: Type.Optional(Type.String()),
});
const Party = Type.Object({
  externalId: Type.Optional(Type.String()), number: Type.Optional(Type.String()), date: Type.Optional(Type.String()),
  amount: Type.Optional(Money), tax: Type.Optional(Money), buyerTaxId: Type.Optional(Type.String()),
});
const ResultSchema = Type.Object({
  line: Type.Optional(Type.Integer()), outcome: Type.String(), differences: Type.Array(Type.String()),
  theirs: Type.Optional(Party), ours: Type.Optional(Party), error: Type.Optional(Type.String()), field: Type.Optional(Type.String()),
});

/** Media types of an upload, and the format each is read as. */
const UPLOAD_TYPES: Record<string, UploadFormat> = {
  'text/csv': 'csv', 'application/x-ndjson': 'jsonl', 'application/jsonl': 'jsonl', 'application/jsonlines': 'jsonl', 'application/x-jsonlines': 'jsonl',
};

function wantsCsv(req: FastifyRequest, format: string | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  const accept = req.headers.accept ?? '';
  return /(^|,)\s*text\/csv\s*(;|,|$)/i.test(accept);
}

function csv(reply: FastifyReply, name: string) {
  return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}.csv"`);
}

/** The audit entry's who, from where and for which request (tenants/http/audit-stamp.ts). */
const actorOf = auditStampOf;

export function reconciliationRoutes(services: Services, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);
    // The upload's body is handed on as the request stream: read and stored a batch of lines at a time.
    app.addContentTypeParser(Object.keys(UPLOAD_TYPES), (_req, payload, done) => done(null, payload));

    app.get<{ Querystring: Static<typeof StatementQuery> }>('/v1/statements', {
      schema: {
        summary: 'Statement (对账单) of issued invoices',
        description: 'Counts and sums (amount excluding tax, tax, total) of the invoices issued in a month (`period`) or between two issue dates (`from`, `to`, both included), by type, by kind and status, and by tax rate (from the lines), with the issuing quota of each month touched. JSON, or CSV (`format=csv` or `Accept: text/csv`).',
        tags: ['statements'], security, querystring: StatementQuery,
        response: { 200: StatementSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      const { format, ...range } = req.query;
      const statement = await services.statements.statement(auth.tenant, parseRange(range));
      if (wantsCsv(req, format)) return csv(reply, `statement-${statement.from}-${statement.to}`).send(statementCsv(statement));
      return reply.send(statement);
    });

    app.get<{ Params: { period: string } }>('/v1/statements/monthly/:period', {
      schema: {
        summary: 'Monthly summary (月度汇总) for the monthly confirmation',
        description: 'Blue and red invoices of the month: counts, amounts and tax per type and tax rate; `closed` once the month is over (the figures, and their `digest`, no longer change); the ledger indices of the month\'s invoices and the newest checkpoint, for an auditor\'s inclusion proofs.',
        tags: ['statements'], security, params: Type.Object({ period: PeriodText }, { additionalProperties: false }),
        response: { 200: MonthlySchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      return reply.send(await services.statements.monthly(auth.tenant, req.params.period));
    });

    app.post<{ Querystring: Static<typeof UploadQuery> }>('/v1/reconciliations', {
      schema: {
        summary: 'Upload the ERP\'s invoice list for reconciliation (对账)',
        description: 'Body `text/csv` (a header line naming `number` or `externalId`, `date`, `amount`, `tax`, optionally `buyerTaxId`) or JSON Lines (`application/x-ndjson`, one object per line with the same members). Streamed and stored; answered 202 with the reconciliation, which runs in the background. `period` or `from`/`to` set the range whose invoices missing from the upload are reported; by default the range of the rows\' dates.',
        tags: ['reconciliations'], security, querystring: UploadQuery,
        response: { 202: ReconciliationSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const format = UPLOAD_TYPES[type];
      if (format === undefined || !(req.body instanceof Readable)) {
        throw new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: `an upload is ${Object.keys(UPLOAD_TYPES).join(', ')}` });
      }
      const q = req.query;
      const range = q.period === undefined && q.from === undefined && q.to === undefined ? undefined : parseRange(q);
      const r = await services.reconciliations.upload(auth.tenant, req.body, { format, ...(range ? { range } : {}), by: actorOf(req, auth) });
      return reply.code(202).header('location', `/v1/reconciliations/${r.id}`).send(presentReconciliation(r));
    });

    app.get<{ Params: { id: string } }>('/v1/reconciliations/:id', {
      schema: {
        summary: 'A reconciliation: status, progress and totals',
        tags: ['reconciliations'], security, params: IdParams,
        response: { 200: ReconciliationSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      return reply.send(presentReconciliation(await services.reconciliations.get(auth.tenant, req.params.id)));
    });

    app.get<{ Params: { id: string }; Querystring: ResultsQueryInput }>('/v1/reconciliations/:id/results', {
      schema: {
        summary: 'Results of a reconciliation',
        description: 'One result per uploaded line (in line order: matched, mismatch with its differences, missing-ours, duplicate, malformed with its error and field), then each invoice of the range missing from the upload (missing-theirs). Pages follow `nextCursor`; CSV (`format=csv` or `Accept: text/csv`) has every result.',
        tags: ['reconciliations'], security, params: IdParams, querystring: ResultsQuery,
        response: { 200: Type.Object({ items: Type.Array(ResultSchema), nextCursor: Type.Optional(Type.String()) }), ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      const q = req.query;
      const filter = q.outcome;
      if (wantsCsv(req, q.format)) {
        const rows = services.reconciliations.allResults(auth.tenant, req.params.id, filter);
        // The first step checks the id (404 before any byte of CSV is sent).
        const first = await rows.next();
        async function* lines() {
          yield RESULT_CSV_HEADER;
          if (first.done) return;
          yield resultCsv(first.value);
          for await (const r of rows) yield resultCsv(r);
        }
        return csv(reply, req.params.id).send(Readable.from(lines()));
      }
      const page = await services.reconciliations.results(auth.tenant, req.params.id, {
        ...(filter ? { filter } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
        ...(q.limit !== undefined ? { limit: Number(q.limit) } : {}),
      });
      return reply.send({ items: page.items.map(presentResult), ...(page.next ? { nextCursor: page.next } : {}) });
    });
  };
}
