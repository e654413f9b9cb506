// `/v1/webhooks`: a tenant's webhook subscriptions and their delivery log (docs/webhooks.md). Thin adapters over
// WebhookService; served with the `issue` route group (managing where invoices' events go is an issuer's act:
// changes need `invoices:issue`, reads `invoices:read`). Another tenant's endpoint is answered 404.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { ProblemSchema, Text } from '../../../platform/http/schemas.ts';
import { EVENT_TYPE_NAMES } from '../../events/index.ts';
import { auditStampOf, requireScope } from '../../tenants/index.ts';
import type { WebhookService } from '../app/webhook-service.ts';
import type { WebhookDelivery, WebhookEndpoint } from '../storage/webhook-contract.ts';

type Authenticate = (req: FastifyRequest) => Promise<void>;

const security = [{ apiKey: [] }];
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 422: ProblemSchema };

const EventTypes = Type.Array(Type.Union(EVENT_TYPE_NAMES.map((t) => Type.Literal(t))), {
  minItems: 1, maxItems: 20, description: 'Event types delivered to the endpoint (docs/events.md).',
});
const Url = Type.String({
  minLength: 8, maxLength: 2048, pattern: '^[!-~]+$',
  description: 'The endpoint: an https URL in ASCII (international names in punycode), no credentials, no fragment, whose addresses pass the SSRF guard.',
});
const Description = Text(500, { minLength: 0, description: 'Free text for the tenant.' });

const CreateBody = Type.Object({
  url: Url, eventTypes: EventTypes, description: Type.Optional(Description), enabled: Type.Optional(Type.Boolean()),
}, { additionalProperties: false });
const PatchBody = Type.Object({
  url: Type.Optional(Url), eventTypes: Type.Optional(EventTypes), description: Type.Optional(Description), enabled: Type.Optional(Type.Boolean()),
}, { additionalProperties: false, minProperties: 1 });
const IdParams = Type.Object({ id: Type.String({ pattern: '^whe_[0-9a-f]{24}$' }) });
const DeliveryParams = Type.Object({ id: Type.String({ pattern: '^whe_[0-9a-f]{24}$' }), deliveryId: Type.String({ pattern: '^whd_[0-9a-f]{24}$' }) });
const PageQuery = Type.Object({
  cursor: Type.Optional(Type.String({ maxLength: 512, pattern: '^[A-Za-z0-9_-]*$' })),
  limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'Page size (default 50, capped)' })),
}, { additionalProperties: false });

const EndpointSchema = Type.Object({
  id: Type.String(), url: Type.String(), eventTypes: Type.Array(Type.String()), description: Type.String(), enabled: Type.Boolean(),
  disabledReason: Type.Union([Type.String(), Type.Null()], { description: '`gone`: disabled after the endpoint answered 410' }),
  createdAt: Type.String(), updatedAt: Type.String(),
});
const CreatedSchema = Type.Object({
  ...EndpointSchema.properties,
  secret: Type.String({ description: 'The signing secret (`whsec_…`), shown only now.' }),
});
const RotatedSchema = Type.Object({
  secret: Type.String({ description: 'The new signing secret, shown only now.' }),
  previousSecretExpiresAt: Type.String({ description: 'Until then deliveries are signed with both secrets.' }),
});
const DeliverySchema = Type.Object({
  id: Type.String(), eventId: Type.String({ description: 'The `webhook-id` of every attempt' }), eventType: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('dead')]),
  attempts: Type.Integer(), nextAttemptAt: Type.Union([Type.String(), Type.Null()]),
  lastAttemptAt: Type.Union([Type.String(), Type.Null()]), lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]), lastLatencyMs: Type.Union([Type.Integer(), Type.Null()]),
  lastResponse: Type.Union([Type.String(), Type.Null()], { description: 'The first 1 KiB of the last answer' }),
  createdAt: Type.String(), deliveredAt: Type.Union([Type.String(), Type.Null()]),
});

const presentEndpoint = (e: WebhookEndpoint) => {
  const { tenantId: _t, ...rest } = e;
  return rest;
};
const presentDelivery = (d: WebhookDelivery) => {
  const { tenantId: _t, endpointId: _e, ...rest } = d;
  return rest;
};
/** The audit entry's who, from where and for which request (tenants/http/audit-stamp.ts). */
const by = auditStampOf;

export function webhookRoutes(services: { webhooks: WebhookService }, authenticate: Authenticate) {
  const hooks = services.webhooks;
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', authenticate);
    const tags = ['webhooks'];

    app.post<{ Body: Static<typeof CreateBody> }>('/v1/webhooks', {
      schema: { summary: 'Subscribe a webhook endpoint', tags, security, body: CreateBody, response: { 201: CreatedSchema, ...errors } },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      const { endpoint, secret } = await hooks.create(auth.tenant.id, req.body, by(req, auth));
      return reply.code(201).header('location', `/v1/webhooks/${endpoint.id}`).header('cache-control', 'no-store')
        .send({ ...presentEndpoint(endpoint), secret });
    });

    app.get('/v1/webhooks', {
      schema: { summary: 'List webhook endpoints', tags, security, response: { 200: Type.Object({ items: Type.Array(EndpointSchema) }), ...errors } },
    }, async (req) => {
      const auth = requireScope(req, 'invoices:read');
      return { items: (await hooks.list(auth.tenant.id)).map(presentEndpoint) };
    });

    app.get<{ Params: Static<typeof IdParams> }>('/v1/webhooks/:id', {
      schema: { summary: 'Get a webhook endpoint', tags, security, params: IdParams, response: { 200: EndpointSchema, ...errors } },
    }, async (req) => {
      const auth = requireScope(req, 'invoices:read');
      return presentEndpoint(await hooks.get(auth.tenant.id, req.params.id));
    });

    app.patch<{ Params: Static<typeof IdParams>; Body: Static<typeof PatchBody> }>('/v1/webhooks/:id', {
      schema: { summary: 'Change a webhook endpoint', tags, security, params: IdParams, body: PatchBody, response: { 200: EndpointSchema, ...errors } },
    }, async (req) => {
      const auth = requireScope(req, 'invoices:issue');
      return presentEndpoint(await hooks.update(auth.tenant.id, req.params.id, req.body, by(req, auth)));
    });

    app.delete<{ Params: Static<typeof IdParams> }>('/v1/webhooks/:id', {
      schema: { summary: 'Delete a webhook endpoint and its delivery log', tags, security, params: IdParams, response: { 204: Type.Null(), ...errors } },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      await hooks.remove(auth.tenant.id, req.params.id, by(req, auth));
      return reply.code(204).send();
    });

    app.post<{ Params: Static<typeof IdParams> }>('/v1/webhooks/:id/rotate-secret', {
      schema: {
        summary: 'Rotate the signing secret', description: 'The previous secret keeps signing (beside the new one) for 24 hours.',
        tags, security, params: IdParams, response: { 200: RotatedSchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      return reply.header('cache-control', 'no-store').send(await hooks.rotateSecret(auth.tenant.id, req.params.id, by(req, auth)));
    });

    app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof PageQuery> }>('/v1/webhooks/:id/deliveries', {
      schema: {
        summary: 'List the deliveries of a webhook endpoint, newest first', tags, security, params: IdParams, querystring: PageQuery,
        response: { 200: Type.Object({ items: Type.Array(DeliverySchema), next: Type.Optional(Type.String({ description: 'Pass as `cursor` for the next page' })) }), ...errors },
      },
    }, async (req) => {
      const auth = requireScope(req, 'invoices:read');
      const page = await hooks.deliveries(auth.tenant.id, req.params.id, req.query.cursor, req.query.limit === undefined ? undefined : Number(req.query.limit));
      return { items: page.items.map(presentDelivery), ...(page.next ? { next: page.next } : {}) };
    });

    app.post<{ Params: Static<typeof IdParams> }>('/v1/webhooks/:id/test', {
      schema: {
        summary: 'Send a test event (`webhook.test`) to the endpoint',
        description: 'Delivered, signed and logged like any event, whatever types the endpoint subscribed to.',
        tags, security, params: IdParams, response: { 202: DeliverySchema, ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      return reply.code(202).send(presentDelivery(await hooks.sendTest(auth.tenant.id, req.params.id, by(req, auth))));
    });

    const ReplayBody = Type.Object({
      from: Type.String({ format: 'date-time', description: 'Events written at or after this time' }),
      to: Type.String({ format: 'date-time', description: 'and before this one' }),
    }, { additionalProperties: false });
    app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof ReplayBody> }>('/v1/webhooks/:id/replay', {
      schema: {
        summary: 'Replay the events of a time range to the endpoint (same ids and bytes)',
        description: 'Every event of the tenant written in [from, to) of a type the endpoint subscribes to is delivered again; at most 10,000 a call (`truncated`).',
        tags, security, params: IdParams, body: ReplayBody,
        response: { 202: Type.Object({ replayed: Type.Integer(), truncated: Type.Boolean() }), ...errors },
      },
    }, async (req, reply) => {
      const auth = requireScope(req, 'invoices:issue');
      return reply.code(202).send(await hooks.replay(auth.tenant.id, req.params.id, req.body.from, req.body.to, by(req, auth)));
    });

    for (const verb of ['redeliver', 'retry']) {
      app.post<{ Params: Static<typeof DeliveryParams> }>(`/v1/webhooks/:id/deliveries/:deliveryId/${verb}`, {
        schema: {
          summary: verb === 'redeliver' ? 'Deliver again (same bytes, same webhook-id)' : 'Deliver again (alias of redeliver)',
          tags, security, params: DeliveryParams, response: { 202: DeliverySchema, ...errors },
        },
      }, async (req, reply) => {
        const auth = requireScope(req, 'invoices:issue');
        return reply.code(202).send(presentDelivery(await hooks.redeliver(auth.tenant.id, req.params.id, req.params.deliveryId, by(req, auth))));
      });
    }
  };
}
