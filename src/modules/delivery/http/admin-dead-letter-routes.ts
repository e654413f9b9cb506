// `GET /admin/v1/dead-letters` (admin listener, admin token): webhook deliveries dead-lettered across tenants, newest
// first, so an operator sees failing integrations without asking each tenant. Redelivery stays the tenant's act.
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { ProblemSchema } from '../../../platform/http/schemas.ts';
import { adminTokenGate } from '../../../platform/http/admin-token.ts';
import type { WebhookService } from '../app/webhook-service.ts';

const Query = Type.Object({
  tenantId: Type.Optional(Type.String({ pattern: '^t_[0-9a-f]{16}$' })),
  limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: 'At most this many (default 100, capped)' })),
}, { additionalProperties: false });
const DeadLetter = Type.Object({
  tenantId: Type.String(), id: Type.String(), endpointId: Type.String(), eventId: Type.String(), eventType: Type.String(),
  attempts: Type.Integer(), lastAttemptAt: Type.Union([Type.String(), Type.Null()]),
  lastStatusCode: Type.Union([Type.Integer(), Type.Null()]), lastError: Type.Union([Type.String(), Type.Null()]), createdAt: Type.String(),
});

export function adminDeadLetterRoutes(services: { webhooks: WebhookService }, adminToken: string) {
  return async function (app: FastifyInstance): Promise<void> {
    app.addHook('onRequest', adminTokenGate(adminToken));
    app.get<{ Querystring: Static<typeof Query> }>('/admin/v1/dead-letters', {
      schema: {
        summary: 'Dead-lettered webhook deliveries of every tenant, newest first',
        tags: ['admin'], security: [{ adminToken: [] }], querystring: Query,
        response: { 200: Type.Object({ items: Type.Array(DeadLetter) }), 400: ProblemSchema, 401: ProblemSchema },
      },
    }, async (req) => {
      const rows = await services.webhooks.deadLetters(req.query.limit ? Number(req.query.limit) : 100, req.query.tenantId);
      return {
        items: rows.map((d) => ({
          tenantId: d.tenantId, id: d.id, endpointId: d.endpointId, eventId: d.eventId, eventType: d.eventType, attempts: d.attempts,
          lastAttemptAt: d.lastAttemptAt, lastStatusCode: d.lastStatusCode, lastError: d.lastError, createdAt: d.createdAt,
        })),
      };
    });
  };
}
