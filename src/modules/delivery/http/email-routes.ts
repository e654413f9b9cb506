// E-mail delivery of invoices (docs/email.md): `POST /v1/invoices/{number}/send` and the tenant's settings with the
// `issue` route group (sending is an issuer's act: scope `invoices:issue`), `GET /v1/invoices/{number}/deliveries`
// with `query` (`invoices:read`). The recipient is the buyer's personal data: shown masked unless the key has
// `pii:read`. Another tenant's invoice is answered 404.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { ProblemSchema } from '../../../platform/http/schemas.ts';
import { maskParty } from '../../invoicing/index.ts';
import { auditStampOf, requireScope, type Authenticated } from '../../tenants/index.ts';
import { ATTACHMENT_FORMATS, EMAIL_LANGS } from '../domain/email-template.ts';
import type { EmailDeliveryView, EmailService } from '../app/email-service.ts';

type Authenticate = (req: FastifyRequest) => Promise<void>;

const security = [{ apiKey: [] }];
const tags = ['e-mail'];
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 422: ProblemSchema, 503: ProblemSchema };

const NumberParams = Type.Object({ number: Type.String({ pattern: '^[0-9]{20}$', description: '20-digit invoice number' }) }, { additionalProperties: false });
const Formats = Type.Array(Type.Union(ATTACHMENT_FORMATS.map((f) => Type.Literal(f))), {
  minItems: 0, maxItems: 3, description: 'Attachments: the invoice as `pdf`, `ofd` and/or `xml`, byte-equal to `GET /v1/invoices/{number}?format=…`.',
});
const Lang = Type.Union(EMAIL_LANGS.map((l) => Type.Literal(l)), { description: 'Language of subject and body: `zh` (default) or `en`.' });
const SendBody = Type.Object({
  to: Type.Optional(Type.String({ format: 'email', maxLength: 254, description: 'Default: the invoice\'s buyer e-mail.' })),
  formats: Type.Optional(Formats),
  lang: Type.Optional(Lang),
}, { additionalProperties: false });
const SettingsBody = Type.Object({
  autoSend: Type.Optional(Type.Boolean({ description: 'Send every newly issued invoice with a buyer e-mail to it.' })),
  formats: Type.Optional(Formats),
  lang: Type.Optional(Lang),
}, { additionalProperties: false, minProperties: 1 });

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const DeliverySchema = Type.Object({
  id: Type.String(), number: Type.String(),
  to: Nullable(Type.String({ description: 'Masked unless the API key has `pii:read`' })),
  formats: Type.Array(Type.String()), lang: Type.String(),
  source: Type.String({ description: '`request` (POST …/send) or `auto` (sent on issue)' }),
  eventId: Type.String({ description: 'The `invoice.email-queued` event' }),
  status: Type.Union([Type.Literal('queued'), Type.Literal('failed'), Type.Literal('sent'), Type.Literal('dead')], {
    description: '`queued`: not yet attempted; `failed`: the last attempt failed, another is scheduled; `sent`: the SMTP server accepted it; `dead`: given up after the last attempt',
  }),
  attempts: Type.Integer(), nextAttemptAt: Nullable(Type.String()), lastAttemptAt: Nullable(Type.String()),
  lastReplyCode: Type.Union([Type.Integer(), Type.Null()], { description: 'The SMTP reply code of the last attempt' }),
  lastReply: Nullable(Type.String({ description: 'The SMTP server\'s last reply (the accepted reply once sent), addresses removed' })),
  messageId: Nullable(Type.String({ description: 'The Message-ID the server accepted' })),
  createdAt: Type.String(), sentAt: Nullable(Type.String()),
});
const SettingsSchema = Type.Object({ autoSend: Type.Boolean(), formats: Type.Array(Type.String()), lang: Type.String() });

/** The audit entry's who, from where and for which request (tenants/http/audit-stamp.ts). */
const by = auditStampOf;

function present(d: EmailDeliveryView, auth: Authenticated) {
  const { tenantId: _t, recipient: _r, ...rest } = d;
  const to = d.to === null || auth.scopes.includes('pii:read') ? d.to : maskParty({ name: '', email: d.to }).email ?? null;
  return { ...rest, to };
}

/** `POST /v1/invoices/{number}/send`, `GET/PATCH /v1/email-settings` (route group `issue`). */
export function emailWriteRoutes(services: { email: EmailService }, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);

    app.post<{ Params: Static<typeof NumberParams>; Body: Static<typeof SendBody> }>('/v1/invoices/:number/send', {
      schema: {
        summary: 'E-mail an invoice (again)',
        description: 'Queues one message with the chosen attachments (default: the tenant\'s settings) to `to` or the invoice\'s buyer e-mail; `GET /v1/invoices/{number}/deliveries` shows whether the SMTP server accepted it.',
        tags, security, params: NumberParams, body: SendBody, response: { 202: DeliverySchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      const d = await services.email.send(auth.tenant.id, req.params.number, req.body ?? {}, by(req, auth));
      return reply.code(202).header('location', `/v1/invoices/${req.params.number}/deliveries`).send(present(d, auth));
    });

    app.get('/v1/email-settings', {
      schema: { summary: 'The tenant\'s e-mail delivery settings', tags, security, response: { 200: SettingsSchema, ...errors } },
    }, async (req) => {
      const auth = requireScope(req, 'invoices:read');
      return services.email.settings(auth.tenant.id);
    });

    app.patch<{ Body: Static<typeof SettingsBody> }>('/v1/email-settings', {
      schema: { summary: 'Change the tenant\'s e-mail delivery settings', tags, security, body: SettingsBody, response: { 200: SettingsSchema, ...errors } },
    }, async (req) => {
      const auth = requireScope(req, 'invoices:issue');
      return services.email.updateSettings(auth.tenant.id, req.body, by(req, auth));
    });
  };
}

/** `GET /v1/invoices/{number}/deliveries` (route group `query`). */
export function emailReadRoutes(services: { email: EmailService }, authenticate: Authenticate) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);

    app.get<{ Params: Static<typeof NumberParams> }>('/v1/invoices/:number/deliveries', {
      schema: {
        summary: 'The e-mail deliveries of an invoice, newest first',
        tags, security, params: NumberParams, response: { 200: Type.Object({ items: Type.Array(DeliverySchema) }), ...errors },
      },
    }, async (req) => {
      const auth = requireScope(req, 'invoices:read');
      return { items: (await services.email.deliveries(auth.tenant.id, req.params.number)).map((d) => present(d, auth)) };
    });
  };
}
