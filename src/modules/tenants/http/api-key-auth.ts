// Bearer API keys for tenant routes. Unknown, revoked, expired and malformed keys all get the same 401 answer, so
// the response says nothing about which keys exist. Each refusal is audited (modules/audit/http/auth-failure.ts); why a
// well-formed key failed is looked up only after the answer is sent.
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../../shared/errors.ts';
import type { Authenticated, TenantService } from '../app/tenant-service.ts';

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
    // A malformed credential takes the same path as an unknown key (hash, cache, database look-up) rather than being
    // refused early, so the time to the 401 does not tell an attacker which of the two a guess was.
    const auth = header ? await tenants.authenticate(m ? m[1]! : header) : undefined;
    if (!auth) {
      if (m) req.server.authFailures?.apiKey(req, m[1]!);
      else req.server.authFailures?.request(req, header ? 'malformed' : 'missing');
      throw UNAUTHENTICATED();
    }
    req.auth = auth;
  };
}

export function requireScope(req: FastifyRequest, scope: string): Authenticated {
  const auth = req.auth;
  if (!auth) throw UNAUTHENTICATED();
  if (!auth.scopes.includes(scope)) throw new AppError('FORBIDDEN', { detail: `the API key lacks the scope ${scope}` });
  return auth;
}
