// Bearer API keys for tenant routes. Unknown, revoked, expired and malformed keys all get the same 401 answer, so
// the response says nothing about which keys exist.
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../errors.ts';
import type { Authenticated, TenantService } from '../../services/tenant-service.ts';

declare module 'fastify' {
  interface FastifyRequest {
    auth?: Authenticated;
  }
}

const UNAUTHENTICATED = () => new AppError('UNAUTHENTICATED', { headers: { 'www-authenticate': 'Bearer realm="fapiao"' } });

export function apiKeyAuth(tenants: TenantService) {
  return async (req: FastifyRequest): Promise<void> => {
    const header = req.headers.authorization;
    const m = header ? /^Bearer ([\x21-\x7e]{1,200})$/.exec(header) : null;
    const auth = m ? await tenants.authenticate(m[1]!) : undefined;
    if (!auth) throw UNAUTHENTICATED();
    req.auth = auth;
  };
}

export function requireScope(req: FastifyRequest, scope: string): Authenticated {
  const auth = req.auth;
  if (!auth) throw UNAUTHENTICATED();
  if (!auth.scopes.includes(scope)) throw new AppError('FORBIDDEN', { detail: `the API key lacks the scope ${scope}` });
  return auth;
}
