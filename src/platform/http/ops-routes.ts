// Health and metrics (the metrics listener by default): process up, database ready, Prometheus text.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.ts';

export function healthRoutes(services: { ready: () => Promise<void> }) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
    app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
      try {
        await services.ready();
        return { status: 'ready' };
      } catch {
        return reply.code(503).send({ status: 'unavailable' });
      }
    });
  };
}

export function metricsRoutes(services: { metrics: Pick<Metrics, 'registry'> }) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      const body = await services.metrics.registry.metrics();
      return reply.type(services.metrics.registry.contentType).send(body);
    });
  };
}
