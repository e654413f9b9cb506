// GET /verify: the 查验 page (src/modules/verification/http/verify-page.ts), on the public group. The page is a constant; the QR payload in
// `?qr=` is read by the page's script in the browser, never echoed by the server.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isAppError } from '../../../shared/errors.ts';
import type { VerifyService } from '../app/verify-service.ts';
import { VERIFY_LIMITED_HEADERS, VERIFY_LIMITED_HTML, VERIFY_PAGE_HEADERS, VERIFY_PAGE_HTML } from './verify-page.ts';

const PAGE = Buffer.from(VERIFY_PAGE_HTML, 'utf8');
const LIMITED = Buffer.from(VERIFY_LIMITED_HTML, 'utf8');

const wantsHtml = (req: FastifyRequest): boolean => /\btext\/html\b/.test(req.headers.accept ?? '');

export function verifyPageRoutes(services: { verify: VerifyService }) {
  return async function (app: FastifyInstance): Promise<void> {
    app.get('/verify', { schema: { hide: true } }, async (req, reply) => {
      try {
        // The page load counts against the same per-address budget as the checks it makes.
        await services.verify.admitClient(req.clientIp ?? req.ip);
      } catch (err) {
        // A person in a browser gets a readable page; scripts get problem+json from the error handler.
        if (isAppError(err) && err.code === 'RATE_LIMITED' && wantsHtml(req)) {
          return reply.code(429).headers({ ...VERIFY_LIMITED_HEADERS, ...err.headers }).send(LIMITED);
        }
        throw err;
      }
      return reply.headers(VERIFY_PAGE_HEADERS).send(PAGE);
    });
  };
}
