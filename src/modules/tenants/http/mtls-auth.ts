// Mutual TLS on the partner listener (docs/design.md §5): the client certificate is the credential. The TLS layer
// requires a certificate chaining to the configured client CA (and not on its CRL); then, before any HTTP is read,
// the connection is dropped unless the certificate maps to a tenant and is not on the revoked-fingerprint list.
// A certificate maps to a tenant by its SHA-256 fingerprint (configured per tenant) or, for certificates the client
// CA issued with the tenant id as common name (`fapiao tenant client-cert`), by that subject.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../../../shared/errors.ts';
import type { Authenticated, TenantService } from '../app/tenant-service.ts';

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

/**
 * Drops, right after the handshake, every connection whose certificate maps to no tenant or is revoked, and puts
 * each refusal on the audit record (modules/audit/http/auth-failure.ts): those, and handshakes the TLS layer itself refused for
 * a missing or untrusted certificate. Other handshake failures (scanners, plain HTTP, old protocol versions) are not
 * authentication attempts and are not audited.
 */
export function registerMtlsGate(app: FastifyInstance, policy: MtlsPolicy): void {
  // A handshake the TLS layer refuses destroys the TLS socket and the TCP socket it wraps (`_parent`) before the
  // `tlsClientError` handler runs, and a destroyed socket no longer knows its peer: note the address on arrival.
  const peers = new WeakMap<object, string>();
  app.server.on('connection', (raw: Socket) => {
    if (raw.remoteAddress) peers.set(raw, raw.remoteAddress);
  });
  const peerOf = (socket: TLSSocket) => socket.remoteAddress ?? peers.get((socket as { _parent?: object })._parent ?? socket);

  // Ahead of the HTTP server's own listener: a request sent together with the client's last handshake message
  // (TLS 1.3) would otherwise be parsed and routed before the socket is dropped.
  app.server.prependListener('secureConnection', (socket: TLSSocket) => {
    if (!socket.authorized) {
      socket.destroy();
      return;
    }
    const cert = socket.getPeerCertificate();
    if (tenantOfCertificate(cert, policy)) return;
    const fp = cert?.fingerprint256 ? normaliseFingerprint(cert.fingerprint256) : undefined;
    const revoked = fp !== undefined && policy.revokedFingerprints.some((r) => normaliseFingerprint(r) === fp);
    const where = ipOf(peerOf(socket));
    app.authFailures?.raw({
      target: 'tls', reason: 'bad-certificate', ...where,
      details: { error: revoked ? 'revoked' : 'no-tenant', ...(fp ? { certificate: fp } : {}) },
    });
    countTowardsBan(where.ip);
    socket.destroy();
  });

  app.server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
    const reason = err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'
      ? 'missing'
      : socket.authorizationError || /CERTIFICATE/.test(err.code ?? '') ? 'bad-certificate' : undefined;
    if (!reason) return;
    const error = String(socket.authorizationError || err.code || 'handshake');
    const where = ipOf(peerOf(socket));
    app.authFailures?.raw({ target: 'tls', reason, ...where, details: { error } });
    countTowardsBan(where.ip);
  });

  /** A refused certificate is a failed authentication like a wrong API key: repeated, it bans the address. */
  function countTowardsBan(ip: string | undefined): void {
    if (ip === undefined || !app.abuseControl) return;
    app.abuseControl.recordAuthFailure(ip).catch((err: unknown) => app.log.error({ err }, 'counting a refused certificate failed'));
  }
}

function ipOf(address: string | undefined): { ip?: string } {
  if (!address) return {};
  // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d; the audit record and bans use the IPv4 form.
  return { ip: address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address };
}

/** The request's tenant from its connection's certificate (the gate has already refused unknown ones). */
export function mtlsAuth(tenants: TenantService, policy: MtlsPolicy) {
  return async (req: FastifyRequest): Promise<void> => {
    const socket = req.socket as Partial<TLSSocket>;
    const cert = socket.getPeerCertificate?.() as PeerCert | undefined;
    const tenantId = socket.authorized ? tenantOfCertificate(cert, policy) : undefined;
    const tenant = tenantId ? await tenants.getOrThrow(tenantId).catch(() => undefined) : undefined;
    if (!tenant) {
      req.server.authFailures?.request(req, 'bad-certificate');
      throw new AppError('UNAUTHENTICATED', { detail: 'a client certificate of a known tenant is required' });
    }
    const auth: Authenticated = { tenant, keyId: `mtls:${normaliseFingerprint(cert!.fingerprint256!).slice(0, 16)}`, scopes: ['invoices:issue', 'invoices:read'] };
    req.auth = auth;
  };
}
