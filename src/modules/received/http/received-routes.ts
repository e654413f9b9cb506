// `/v1/received-invoices`: the invoices addressed to the key's tenant by other tenants of this server, and the
// tenant's own accounting status of each (入账, 用途勾选). Thin adapters over ReceivedService. Reads need
// `invoices:read`; a change of status needs `invoices:issue`, the write scope of the tenant's invoices (the buyer's
// red-letter moves need it too). The buyer's personal data in the invoice is masked unless the key has `pii:read`:
// such a key is answered from the stored masked form, nothing decrypted (ReceivedService's `masked` view).
// To anyone but the buyer tenant a received invoice does not exist (404).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { ProblemSchema, Text } from '../../../platform/http/schemas.ts';
import { auditStampOf, requireScope, type Authenticated } from '../../tenants/index.ts';
import type { ReceivedInvoice, ReceivedService, ReceivedView } from '../app/received-service.ts';

type Authenticate = (req: FastifyRequest) => Promise<void>;

const security = [{ apiKey: [] }];
const tags = ['received-invoices'];
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema };

const NumberParams = Type.Object(
  { number: Type.String({ pattern: '^[0-9]{20}$', description: '20-digit invoice number' }) },
  { additionalProperties: false },
);
const DateString = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD' });
const Decimal = (description: string) =>
  Type.String({ pattern: '^-?[0-9]{1,15}(\\.[0-9]{1,13})?$', maxLength: 32, description, examples: ['113.00'] });
const Flag = (description: string) => Type.Enum(['true', 'false'], { description });

const ListQuery = Type.Object({
  issuedFrom: Type.Optional(DateString),
  issuedTo: Type.Optional(DateString),
  sellerTaxId: Type.Optional(Type.String({ pattern: '^[0-9A-Z]{15,20}$', description: 'Only invoices of this seller' })),
  status: Type.Optional(Type.Enum(['normal', 'red-flushed-partial', 'red-flushed'])),
  booked: Type.Optional(Flag('Only booked (true) or not booked (false) invoices')),
  deductionSelected: Type.Optional(Flag('Only invoices selected (true) or not selected (false) for deduction')),
  minTotal: Type.Optional(Decimal('Smallest total with tax')),
  maxTotal: Type.Optional(Decimal('Largest total with tax')),
  updatedSince: Type.Optional(Type.String({ format: 'date-time', description: 'Only invoices whose status (red-flushed), or your own status of them (booked, selected), changed at or after this time' })),
  limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'Page size (default 50, capped)' })),
  cursor: Type.Optional(Text(512, { minLength: 0, description: '`nextCursor` of the previous page' })),
}, { additionalProperties: false });
type ListQueryInput = Static<typeof ListQuery>;

export const ReceivedChangeSchema = Type.Object({
  booked: Type.Optional(Type.Boolean({ description: '入账: true books the invoice, false undoes it' })),
  deductionSelected: Type.Optional(Type.Boolean({ description: '用途勾选: true selects the invoice for deduction, false undoes it' })),
}, { additionalProperties: false, minProperties: 1 });
type ReceivedChangeBody = Static<typeof ReceivedChangeSchema>;

const StatusSchema = Type.Object({
  booked: Type.Boolean(),
  bookedAt: Type.Optional(Type.String()),
  deductionSelected: Type.Boolean(),
  deductionSelectedAt: Type.Optional(Type.String()),
});
export const ReceivedInvoiceSchema = Type.Object({
  number: Type.String(),
  type: Type.String(),
  kind: Type.String(),
  status: Type.String(),
  issueDate: Type.String(),
  seller: Type.Object({}, { additionalProperties: true }),
  buyer: Type.Object({}, { additionalProperties: true }),
  totals: Type.Object({ amount: Type.String(), tax: Type.String(), total: Type.String(), totalInCapitals: Type.String() }),
  received: StatusSchema,
}, { additionalProperties: true, description: 'The invoice as issued (GET /v1/invoices/{number} shape) with `received`, the buyer\'s own status' });

/** The audit entry's who, from where and for which request (tenants/http/audit-stamp.ts). */
const actorOf = auditStampOf;

/** Full buyer personal data only for keys with the `pii:read` scope; everyone else gets the masked view. */
const viewOf = (auth: Authenticated): ReceivedView => (auth.scopes.includes('pii:read') ? 'full' : 'masked');

/** The invoice, already in the view of the key (viewOf), with the buyer's status. */
export function presentReceived(r: ReceivedInvoice): Record<string, unknown> {
  return { ...r.invoice, received: r.status };
}

/** `GET /v1/received-invoices` and `GET /v1/received-invoices/{number}` (route group `query`). */
export function receivedReadRoutes(services: { received: ReceivedService }, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);

    app.get<{ Querystring: ListQueryInput }>('/v1/received-invoices', {
      schema: {
        summary: 'List received invoices (发票归集)',
        description: 'Invoices other tenants of this server issued to your tax ID, newest first, with your status (booked, selected for deduction). Filters combine with AND; pages follow `nextCursor`.',
        tags, security, querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(ReceivedInvoiceSchema), nextCursor: Type.Optional(Type.String()) }), ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      const q = req.query;
      const page = await services.received.list(auth.tenant, {
        ...(q.issuedFrom === undefined ? {} : { issuedFrom: q.issuedFrom }),
        ...(q.issuedTo === undefined ? {} : { issuedTo: q.issuedTo }),
        ...(q.sellerTaxId === undefined ? {} : { sellerTaxId: q.sellerTaxId }),
        ...(q.status === undefined ? {} : { status: q.status }),
        ...(q.booked === undefined ? {} : { booked: q.booked === 'true' }),
        ...(q.deductionSelected === undefined ? {} : { deductionSelected: q.deductionSelected === 'true' }),
        ...(q.minTotal === undefined ? {} : { minTotal: q.minTotal }),
        ...(q.maxTotal === undefined ? {} : { maxTotal: q.maxTotal }),
        ...(q.updatedSince === undefined ? {} : { updatedSince: q.updatedSince }),
        ...(q.cursor === undefined || q.cursor === '' ? {} : { cursor: q.cursor }),
        ...(q.limit === undefined ? {} : { limit: Number(q.limit) }),
      }, viewOf(auth));
      return reply.type('application/json; charset=utf-8').send(JSON.stringify({
        items: page.items.map((r) => presentReceived(r)),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      }));
    });

    app.get<{ Params: { number: string } }>('/v1/received-invoices/:number', {
      schema: {
        summary: 'Get one received invoice with your status',
        tags, security, params: NumberParams,
        response: { 200: ReceivedInvoiceSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      const r = await services.received.get(auth.tenant, req.params.number, viewOf(auth));
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(presentReceived(r)));
    });
  };
}

/** `PATCH /v1/received-invoices/{number}` (route group `issue`). */
export function receivedWriteRoutes(services: { received: ReceivedService }, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);

    app.patch<{ Params: { number: string }; Body: ReceivedChangeBody }>('/v1/received-invoices/:number', {
      schema: {
        summary: 'Book a received invoice or select it for deduction (入账, 用途勾选)',
        description: 'Each flag that changes is audited and announced to you (`received-invoice.booked`, `.unbooked`, `.deduction-selected`, `.deduction-unselected`). A seller\'s red-letter form against an invoice you booked or selected awaits your confirmation (02); otherwise it needs none (01).',
        tags, security, params: NumberParams, body: ReceivedChangeSchema,
        response: { 200: ReceivedInvoiceSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      const r = await services.received.update(auth.tenant, req.params.number, {
        ...(req.body.booked === undefined ? {} : { booked: req.body.booked }),
        ...(req.body.deductionSelected === undefined ? {} : { deductionSelected: req.body.deductionSelected }),
      }, actorOf(req, auth), viewOf(auth));
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(presentReceived(r)));
    });
  };
}
