// Gives every authentication check of a listener one way to put its refusal on the audit record
// (modules/audit/app/auth-failure-audit.ts), with the listener's name, the route and the client address filled in. A decorator
// on the listener's root instance, so route plugins reach it through `req.server` without being handed it, and
// instances built without it (the OpenAPI describer) simply record nothing.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthFailure, AuthFailureAudit, AuthFailureReason } from '../app/auth-failure-audit.ts';

export interface AuthFailureRecorder {
  /** A refusal seen before or outside HTTP (a TLS handshake): the caller names target and address. */
  raw(failure: Omit<AuthFailure, 'listener'>): void;
  request(req: FastifyRequest, reason: AuthFailureReason): void;
  /** A presented bearer token that is no valid API key; classified (unknown, revoked, expired) off the request path. */
  apiKey(req: FastifyRequest, token: string): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    authFailures?: AuthFailureRecorder;
  }
}

function where(req: FastifyRequest) {
  // The route pattern, not the URL: a URL may carry an invoice number or a query string worth nothing to the record.
  return { target: `${req.method} ${req.routeOptions.url ?? 'unmatched'}`, ip: req.clientIp ?? req.ip, requestId: req.id };
}

export function registerAuthFailureAudit(app: FastifyInstance, listener: string, audit: AuthFailureAudit): void {
  const recorder: AuthFailureRecorder = {
    raw: (f) => audit.record({ ...f, listener }),
    request: (req, reason) => audit.record({ ...where(req), listener, reason }),
    apiKey: (req, token) => audit.recordApiKey({ ...where(req), listener }, token),
  };
  app.decorate('authFailures', recorder);
}
