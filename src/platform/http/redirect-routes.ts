// The plaintext listener. Browser pages get 301 to HTTPS (with HSTS, for browsers that remember it); API paths are
// refused, not redirected, so a client leaking plaintext calls is noticed instead of silently followed
// (OWASP ASVS 5.0 V4.1.2).
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../shared/errors.ts';

// On the normalised target (platform/http/request-target.ts), so `/%76%31/keys` is the API path it stands for. Any case:
// `/V1/…` is an API call gone wrong, not a page.
const API_PATH = /^\/(v\d+|admin)(\/|$)/i;

export function redirectRoutes(httpsOrigin: () => string) {
  return async function (app: FastifyInstance): Promise<void> {
    app.route({
      method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      url: '/*',
      schema: { hide: true },
      handler: async (req, reply) => {
        const path = req.url;
        if (API_PATH.test(path) || (req.method !== 'GET' && req.method !== 'HEAD')) throw new AppError('HTTPS_REQUIRED');
        return reply
          .code(301)
          .header('location', `${httpsOrigin()}${path}`)
          .header('strict-transport-security', 'max-age=63072000; includeSubDomains')
          .send();
      },
    });
  };
}
