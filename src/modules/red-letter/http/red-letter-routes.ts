// `/v1/red-letter-requests`: filing confirmation forms (红字发票信息确认单), their moves, and reading them. Thin adapters
// over RedLetterService; writes need `invoices:issue`, reads `invoices:read`. A form is seen by its two parties only:
// to any other tenant it does not exist (404).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { ProblemSchema, Text } from '../../../platform/http/schemas.ts';
import { auditStampOf, requireScope } from '../../tenants/index.ts';
import type { RedLetterService } from '../app/red-letter-service.ts';
import { FORM_STATES, STATE_LABELS } from '../domain/form-states.ts';
import { DEFAULT_REASONS, MAX_REQUEST_LINES } from '../domain/reversal.ts';
import type { FormTransition, RedLetterForm } from '../storage/red-letter-repository.ts';

type Authenticate = (req: FastifyRequest) => Promise<void>;

const security = [{ apiKey: [] }];
const tags = ['red-letter'];
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema };

const FORM_ID_PATTERN = '^[0-9]{13}[0-9a-f]{12}$';
const InvoiceNumber = Type.String({ pattern: '^[0-9]{20}$', description: '20-digit number of the blue invoice' });

export const FileFormSchema = Type.Object({
  invoiceNumber: InvoiceNumber,
  reason: Type.String({ pattern: '^[0-9]{2}$', description: `Reason code, one of the configured list (redLetter.reasons; default ${Object.entries(DEFAULT_REASONS).map(([c, l]) => `${c} ${l}`).join(', ')}); another code is refused with 422 RED_LETTER_REASON_INVALID` }),
  lines: Type.Optional(Type.Array(Type.Object({
    line: Type.Integer({ minimum: 1, maximum: 100000, description: 'The blue line number (lineNo), in the blue invoice\'s order' }),
    quantity: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}(\\.[0-9]{1,13})?$', description: 'Quantity to reverse (positive)' })),
    amount: Type.Optional(Type.String({ pattern: '^[0-9]{1,12}(\\.[0-9]{1,2})?$', description: 'Amount excluding tax to reverse (positive)' })),
  }, { additionalProperties: false }), { maxItems: MAX_REQUEST_LINES, description: 'Absent: reverse all that remains; at least one line when given' })),
}, { additionalProperties: false });
type FileFormBody = Static<typeof FileFormSchema>;

const IdParams = Type.Object({ id: Type.String({ pattern: FORM_ID_PATTERN, description: 'Form number' }) }, { additionalProperties: false });

const ListQuery = Type.Object({
  state: Type.Optional(Type.Enum([...FORM_STATES], { description: 'Only forms in this state' })),
  invoice: Type.Optional(InvoiceNumber),
  direction: Type.Optional(Type.Enum(['filed', 'received'], { description: '`filed` by this tenant, or `received` from the other party' })),
  limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'Page size (default 50, capped)' })),
  cursor: Type.Optional(Text(64, { minLength: 0, description: '`nextCursor` of the previous page' })),
}, { additionalProperties: false });
type ListQueryInput = Static<typeof ListQuery>;

const Money = Type.String({ description: 'Decimal string' });
const TransitionSchema = Type.Object({
  from: Type.String(), to: Type.String(), action: Type.String(), party: Type.String(), actor: Type.String(), at: Type.String(),
});
export const FormSchema = Type.Object({
  id: Type.String(),
  invoiceNumber: Type.String(),
  reason: Type.String(),
  reasonLabel: Type.String(),
  state: Type.String(),
  stateLabel: Type.String(),
  filedBy: Type.Enum(['seller', 'buyer']),
  direction: Type.Enum(['filed', 'received']),
  lines: Type.Array(Type.Object({ line: Type.Integer(), amount: Money, tax: Money, quantity: Type.Optional(Type.String()) })),
  totals: Type.Object({ amount: Money, tax: Money, total: Money }),
  expiresAt: Type.Optional(Type.String()),
  redInvoiceNumber: Type.Optional(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  history: Type.Optional(Type.Array(TransitionSchema)),
});

/** The audit entry's who, from where and for which request (tenants/http/audit-stamp.ts). */
const actorOf = auditStampOf;

/** A form as its parties see it (no tenant ids; `direction` from the asking tenant's side). */
export function presentForm(form: RedLetterForm, tenantId: string, history?: FormTransition[], reasonLabel: (code: string) => string = (c) => DEFAULT_REASONS[c] ?? c): Static<typeof FormSchema> {
  return {
    id: form.id,
    invoiceNumber: form.blueNumber,
    reason: form.reason,
    reasonLabel: reasonLabel(form.reason),
    state: form.state,
    stateLabel: STATE_LABELS[form.state],
    filedBy: form.filedBy,
    direction: form.filerTenantId === tenantId ? 'filed' : 'received',
    lines: form.claims.map((c) => ({ line: c.lineNo, amount: c.amount, tax: c.tax, ...(c.quantity === undefined ? {} : { quantity: c.quantity }) })),
    totals: { amount: form.amount, tax: form.tax, total: form.total },
    ...(form.expiresAt === undefined ? {} : { expiresAt: form.expiresAt }),
    ...(form.redNumber === undefined ? {} : { redInvoiceNumber: form.redNumber }),
    createdAt: form.createdAt,
    updatedAt: form.updatedAt,
    ...(history ? { history } : {}),
  };
}

/** `POST /v1/red-letter-requests` and the moves (route group `issue`). */
export function redLetterWriteRoutes(services: { redLetter: RedLetterService }, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);

    app.post<{ Body: FileFormBody; Headers: { 'idempotency-key'?: string } }>('/v1/red-letter-requests', {
      schema: {
        summary: 'File a red-letter confirmation form (红字发票信息确认单)',
        description: 'Against one of your invoices (you are the seller) or one addressed to your tax ID (you are the buyer). Without `lines`, all that remains unreversed. Filing the same form again, or with the same Idempotency-Key, answers the existing form (200).',
        tags, security,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ pattern: '^[\\x21-\\x7e]{1,255}$', description: 'The same key answers the form it filed' })) }),
        body: FileFormSchema,
        response: { 201: FormSchema, 200: FormSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      const key = req.headers['idempotency-key'];
      const { outcome, form } = await services.redLetter.file(auth.tenant, req.body, { ...(key === undefined ? {} : { idempotencyKey: key }), by: actorOf(req, auth) });
      return reply.code(outcome === 'created' ? 201 : 200).header('location', `/v1/red-letter-requests/${form.id}`).send(presentForm(form, auth.tenant.id, undefined, (c) => services.redLetter.reasonLabel(c)));
    });

    for (const action of ['confirm', 'reject', 'revoke'] as const) {
      app.post<{ Params: { id: string } }>(`/v1/red-letter-requests/:id/${action}`, {
        schema: {
          summary: `${action[0]!.toUpperCase()}${action.slice(1)} a red-letter confirmation form`,
          description: action === 'revoke'
            ? 'By the party that filed it: while it awaits the other party (08), or after confirmation until the red invoice exists (09). A refusal names the current state.'
            : 'By the party that did not file it, within 72 hours of filing. A refusal names the current state.',
          tags, security, params: IdParams,
          response: { 200: FormSchema, ...errors },
        },
      }, async (req, reply) => {
        const auth = requireScope(req, 'invoices:issue');
        const form = await services.redLetter[action](auth.tenant, req.params.id, actorOf(req, auth));
        return reply.send(presentForm(form, auth.tenant.id, undefined, (c) => services.redLetter.reasonLabel(c)));
      });
    }
  };
}

/** `GET /v1/red-letter-requests` and `GET /v1/red-letter-requests/{id}` (route group `query`). */
export function redLetterReadRoutes(services: { redLetter: RedLetterService }, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);

    app.get<{ Querystring: ListQueryInput }>('/v1/red-letter-requests', {
      schema: {
        summary: 'List red-letter confirmation forms',
        description: 'Forms you filed and forms filed for you to answer, newest first; pages follow `nextCursor`.',
        tags, security, querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(FormSchema), nextCursor: Type.Optional(Type.String()) }), ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      const q = req.query;
      const page = await services.redLetter.list(auth.tenant, {
        ...(q.state === undefined ? {} : { state: q.state }),
        ...(q.invoice === undefined ? {} : { invoiceNumber: q.invoice }),
        ...(q.direction === undefined ? {} : { direction: q.direction }),
        ...(q.cursor === undefined || q.cursor === '' ? {} : { cursor: q.cursor }),
        ...(q.limit === undefined ? {} : { limit: Number(q.limit) }),
      });
      return reply.send({ items: page.items.map((f) => presentForm(f, auth.tenant.id, undefined, (c) => services.redLetter.reasonLabel(c))), ...(page.next ? { nextCursor: page.next } : {}) });
    });

    app.get<{ Params: { id: string } }>('/v1/red-letter-requests/:id', {
      schema: {
        summary: 'Get a red-letter confirmation form with its history',
        tags, security, params: IdParams,
        response: { 200: FormSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:read');
      const { form, history } = await services.redLetter.get(auth.tenant, req.params.id);
      return reply.send(presentForm(form, auth.tenant.id, history, (c) => services.redLetter.reasonLabel(c)));
    });
  };
}
