// Tenant routes: issue, fetch and search invoices. Thin adapters over InvoiceService.
import { ProblemSchema } from '../../../platform/http/schemas.ts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { InvoiceService } from '../app/invoice-service.ts';
import { auditStampOf, requireScope } from '../../tenants/index.ts';
import {
  GetInvoiceQuery, InvoiceResponseSchema, IssueInvoiceSchema, NumberParams, SearchQuery,
  type IssueInvoiceBody, type SearchQueryInput,
} from './invoice-schemas.ts';
import { renderInvoiceResponse, type ProofSource, type RenderContext } from './render-invoice.ts';
import type { DocumentOptionsSource, OfdSigner } from '../../documents/index.ts';
import { ISSUED_STATUS, presentIssue, type PresentOptions, type ShownInvoice } from './present.ts';
import type { Authenticated } from '../../tenants/index.ts';

/** API key on `api`, client certificate on `partner`: either sets `req.auth` or throws UNAUTHENTICATED. */
type Authenticate = (req: FastifyRequest) => Promise<void>;

const security = [{ apiKey: [] }];
/** Full buyer personal data only for keys with the `pii:read` scope; everyone else sees it masked. */
const viewOf = (auth: Authenticated): PresentOptions => ({ fullPii: auth.scopes.includes('pii:read') });

/** The audit entry's who, from where and for which request (tenants/http/audit-stamp.ts). */
const actorOf = auditStampOf;

const errors = { 400: ProblemSchema, 401: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema };

/** `POST /v1/invoices` (route group `issue`). */
export function issueRoutes(services: { invoices: InvoiceService; metrics: { invoicesIssued: { inc(labels: { type: string }): void } } }, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);

    app.post<{ Body: IssueInvoiceBody; Headers: { 'idempotency-key'?: string } }>('/v1/invoices', {
      schema: {
        summary: 'Issue an invoice',
        description: 'The buyer\'s personal data is masked in the answer unless the API key has the `pii:read` scope.',
        tags: ['invoices'],
        security,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ description: 'Replays answer the original response' })) }),
        body: IssueInvoiceSchema,
        response: { 201: InvoiceResponseSchema, 200: InvoiceResponseSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      const key = req.headers['idempotency-key'];
      const result = await services.invoices.issue(auth.tenant, req.body, {
        ...(key !== undefined ? { idempotencyKey: key } : {}), replayStatus: ISSUED_STATUS, by: actorOf(req, auth),
      });
      const answer = presentIssue(result, viewOf(auth));
      if (answer.replayed) void reply.header('idempotent-replayed', 'true');
      else services.metrics.invoicesIssued.inc({ type: req.body.type });
      return reply
        .code(answer.status)
        .header('location', `/v1/invoices/${result.number}`)
        .type('application/json; charset=utf-8')
        .send(answer.body);
    });

  };
}

/** `GET /v1/invoices` and `GET /v1/invoices/{number}` (route group `query`). */
export function queryRoutes(services: { invoices: InvoiceService; ledger?: ProofSource; ofdSigner?: OfdSigner; documentSettings?: DocumentOptionsSource; renderCache?: { render: NonNullable<RenderContext['render']> } }, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);

    app.get<{ Params: { number: string }; Querystring: { format?: string; buyerDetails?: 'true' | 'false'; sellerDetails?: 'true' | 'false' } }>('/v1/invoices/:number', {
      schema: {
        summary: 'Get one invoice as JSON, XML, PDF, OFD or UBL',
        description: 'Choose the representation with ?format= or the Accept header. The buyer\'s personal data is masked unless the API key has the `pii:read` scope. Once the invoice is in the ledger, the XML (and the XML the PDF, OFD and UBL embed) carries its inclusion proof against the newest checkpoint (`<LedgerProof>`), so `fapiao verify FILE` checks it offline; the bytes, and the ETag, then change with each checkpoint.',
        tags: ['invoices'],
        security,
        params: NumberParams,
        querystring: GetInvoiceQuery,
        response: { 200: InvoiceResponseSchema, ...errors, 406: ProblemSchema },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      // A key without pii:read is answered from the stored masked form: nothing is decrypted for it.
      const shown: ShownInvoice = viewOf(auth).fullPii
        ? { fullPii: true, invoice: await services.invoices.get(auth.tenant.id, req.params.number) }
        : { fullPii: false, invoice: await services.invoices.getMasked(auth.tenant.id, req.params.number) };
      const flag = (v: 'true' | 'false' | undefined) => (v === undefined ? undefined : v === 'true');
      const buyerDetails = flag(req.query.buyerDetails), sellerDetails = flag(req.query.sellerDetails);
      const settings = services.documentSettings;
      const options = settings && (() => settings.renderOptions(auth.tenant.id, {
        ...(buyerDetails === undefined ? {} : { buyerDetails }), ...(sellerDetails === undefined ? {} : { sellerDetails }),
      }));
      return renderInvoiceResponse(reply, shown, req.query.format, req.headers.accept, {
        ledger: { source: services.ledger, tenantId: auth.tenant.id },
        ...(services.ofdSigner ? { ofdSigner: services.ofdSigner } : {}),
        ...(options ? { options } : {}),
        ...(services.renderCache ? { render: services.renderCache.render } : {}),
      });
    });

    app.get<{ Querystring: SearchQueryInput }>('/v1/invoices', {
      schema: {
        summary: 'Search invoices',
        description: 'Filters combine with AND; pages follow `nextCursor`. buyerPhone, buyerEmail and buyerTaxId match through keyed blind indexes (the values are encrypted at rest). The buyer\'s personal data is masked unless the API key has the `pii:read` scope.',
        tags: ['invoices'],
        security,
        querystring: SearchQuery,
        response: {
          200: Type.Object({ items: Type.Array(InvoiceResponseSchema), nextCursor: Type.Optional(Type.String()) }),
          ...errors,
        },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      const { limit, ...filters } = req.query;
      const query = { ...filters, ...(limit ? { limit: Number(limit) } : {}) };
      const page = viewOf(auth).fullPii
        ? await services.invoices.search(auth.tenant.id, query)
        : await services.invoices.searchMasked(auth.tenant.id, query);
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(page));
    });
  };
}
