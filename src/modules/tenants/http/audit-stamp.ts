// Who made a change over HTTP, as its audit entry records it: the API key (`apikey:<id>`) or client certificate
// (`mtls:<fingerprint>`), or the admin token (`admin-api`); the client address (after trusted proxies); and the
// request's id (platform/http/build-server.ts: the caller's checked `X-Request-Id`, or one generated), which the
// entry and the tenant's own events carry so one request is followed from the access log to the audit log.
import type { FastifyRequest } from 'fastify';
import type { AuditStamp } from '../../audit/index.ts';
import type { Authenticated } from '../app/tenant-service.ts';

type RequestLike = Pick<FastifyRequest, 'id' | 'ip'> & { clientIp?: string };

/** The stamp of a tenant's request. */
export function auditStampOf(req: RequestLike, auth: Authenticated): Required<AuditStamp> {
  return { actor: auth.keyId.startsWith('mtls:') ? auth.keyId : `apikey:${auth.keyId}`, ...whereFrom(req) };
}

/** The stamp of an admin API request. */
export function adminStampOf(req: RequestLike): Required<AuditStamp> {
  return { actor: 'admin-api', ...whereFrom(req) };
}

function whereFrom(req: RequestLike): { ip: string; requestId: string } {
  return { ip: req.clientIp ?? req.ip, requestId: req.id };
}
