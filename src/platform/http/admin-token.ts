// The admin listener's bearer token (docs/design.md §5): compared in constant time, each refusal audited as a failed
// authentication. One gate for every admin route plugin: each is encapsulated, so each adds it as its own hook.
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../shared/errors.ts';
import { timingSafeEqualString } from '../crypto/api-key-token.ts';

export function adminTokenGate(adminToken: string) {
  return async (req: FastifyRequest): Promise<void> => {
    const m = /^Bearer (\S{1,200})$/.exec(req.headers.authorization ?? '');
    if (!m || !timingSafeEqualString(m[1]!, adminToken)) {
      req.server.authFailures?.request(req, req.headers.authorization ? 'bad-admin-token' : 'missing');
      throw new AppError('UNAUTHENTICATED', { headers: { 'www-authenticate': 'Bearer realm="fapiao-admin"' } });
    }
  };
}
