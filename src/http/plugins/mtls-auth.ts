// Mutual TLS on the partner listener (DESIGN.md §5): the client certificate is the credential. The TLS layer
// requires a certificate chaining to the configured client CA (and not on its CRL); then, before any HTTP is read,
// the connection is dropped unless the certificate maps to a tenant and is not on the revoked-fingerprint list.
// A certificate maps to a tenant by its SHA-256 fingerprint (configured per tenant) or, for certificates the client
// CA issued with the tenant id as common name (`fapiao tenant client-cert`), by that subject.
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.ts';
import type { Authenticated, TenantService } from '../../services/tenant-service.ts';

export interface MtlsClient {
  tenantId: string;
  /** SHA-256 fingerprint, `AB:CD:…` or plain hex, any case. */
  fingerprint256?: string;
}

export interface MtlsPolicy {
  clients: readonly MtlsClient[];
  revokedFingerprints: readonly string[];
  /** Accept a certificate whose subject CN is a tenant id (`t_…`), as `fapiao tenant client-cert` issues them. */
  tenantFromSubject: boolean;
}

export function normaliseFingerprint(fp: string): string {
  return fp.replaceAll(':', '').toUpperCase();
}

interface PeerCert {
  fingerprint256?: string;
  subject?: { CN?: string | string[] };
}

/** The tenant a verified peer certificate belongs to, or undefined (unknown or revoked). */
export function tenantOfCertificate(cert: PeerCert | undefined, policy: MtlsPolicy): string | undefined {
  if (!cert?.fingerprint256) return undefined;
  const fp = normaliseFingerprint(cert.fingerprint256);
  if (policy.revokedFingerprints.some((r) => normaliseFingerprint(r) === fp)) return undefined;
  const mapped = policy.clients.find((c) => c.fingerprint256 && normaliseFingerprint(c.fingerprint256) === fp);
  if (mapped) return mapped.tenantId;
  const cn = Array.isArray(cert.subject?.CN) ? cert.subject.CN[0] : cert.subject?.CN;
  if (policy.tenantFromSubject && cn && /^t_[0-9a-f]{16}$/.test(cn)) return cn;
  return undefined;
}

/** Drops, right after the handshake, every connection whose certificate maps to no tenant or is revoked. */
export function registerMtlsGate(app: FastifyInstance, policy: MtlsPolicy): void {
  app.server.on('secureConnection', (socket: TLSSocket) => {
    if (!socket.authorized || !tenantOfCertificate(socket.getPeerCertificate(), policy)) socket.destroy();
  });
}

/** The request's tenant from its connection's certificate (the gate has already refused unknown ones). */
export function mtlsAuth(tenants: TenantService, policy: MtlsPolicy) {
  return async (req: FastifyRequest): Promise<void> => {
    const socket = req.socket as Partial<TLSSocket>;
    const cert = socket.getPeerCertificate?.() as PeerCert | undefined;
    const tenantId = socket.authorized ? tenantOfCertificate(cert, policy) : undefined;
    const tenant = tenantId ? await tenants.getOrThrow(tenantId).catch(() => undefined) : undefined;
    if (!tenant) throw new AppError('UNAUTHENTICATED', { detail: 'a client certificate of a known tenant is required' });
    const auth: Authenticated = { tenant, keyId: `mtls:${normaliseFingerprint(cert!.fingerprint256!).slice(0, 16)}`, scopes: ['invoices:issue', 'invoices:read'] };
    req.auth = auth;
  };
}
