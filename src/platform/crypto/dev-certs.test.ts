import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createDevPki, createClientCert, type DevPki } from './dev-certs.ts';

interface Outcome {
  authorized: boolean;
  error?: string;
  serverSawClient?: { authorized: boolean; cn: unknown };
}

/** Starts a TLS server on 127.0.0.1:0, connects once with `client`, closes everything, reports what happened. */
async function handshake(serverOpts: tls.TlsOptions, client: tls.ConnectionOptions): Promise<Outcome> {
  let serverSawClient: Outcome['serverSawClient'];
  const server = tls.createServer(serverOpts, (socket) => {
    serverSawClient = { authorized: socket.authorized, cn: socket.getPeerCertificate().subject?.CN };
    socket.end('hi');
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<Outcome>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ...client });
      socket.on('secureConnect', () => {
        socket.on('data', () => undefined);
        socket.on('end', () => resolve({ authorized: socket.authorized, serverSawClient }));
      });
      socket.on('error', (e) => resolve({ authorized: false, error: e.message }));
      socket.on('close', () => resolve({ authorized: false, error: 'closed before the end', serverSawClient }));
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

void describe('development PKI', () => {
  let pki: DevPki;
  void before(async () => {
    pki = await createDevPki();
  });

  void it('makes a 10-year CA and a 397-day server certificate with SANs', () => {
    const ca = new X509Certificate(pki.ca.certPem);
    const server = new X509Certificate(pki.server.certPem);
    assert.ok(ca.ca);
    assert.ok(!server.ca);
    assert.ok(server.verify(ca.publicKey));
    assert.ok(server.checkIssued(ca));
    const days = (c: X509Certificate): number => (Date.parse(c.validTo) - Date.parse(c.validFrom)) / 86_400_000;
    assert.ok(days(ca) >= 3650);
    assert.equal(Math.round(days(server)), 397);
    assert.match(server.subjectAltName ?? '', /DNS:localhost/);
    assert.match(server.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.match(server.subjectAltName ?? '', /IP Address:(0:0:0:0:0:0:0:1|::1)/i);
    assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(createPrivateKey(pki.server.keyPem).asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.match(pki.server.keyPem, /^-----BEGIN PRIVATE KEY-----/);
  });

  void it('TLS: a client trusting the CA connects to localhost and 127.0.0.1; one that does not is refused', async () => {
    const serverOpts = { cert: pki.server.certPem, key: pki.server.keyPem };
    const byName = await handshake(serverOpts, { ca: pki.ca.certPem, servername: 'localhost' });
    assert.equal(byName.error, undefined);
    assert.ok(byName.authorized);
    const byIp = await handshake(serverOpts, { ca: pki.ca.certPem });
    assert.ok(byIp.authorized, byIp.error);
    const wrongName = await handshake(serverOpts, { ca: pki.ca.certPem, servername: 'example.com' });
    assert.match(wrongName.error ?? '', /altnames|Hostname/i);
    const untrusted = await handshake(serverOpts, { servername: 'localhost' });
    assert.ok(untrusted.error);
  });

  void it('mutual TLS: a client certificate from the CA is accepted and names the client', async () => {
    const client = await createClientCert(pki.ca, 'tenant-acme');
    const cert = new X509Certificate(client.certPem);
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.ok(cert.checkIssued(new X509Certificate(pki.ca.certPem)));
    const serverOpts = { cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: true };
    const ok = await handshake(serverOpts, { ca: pki.ca.certPem, servername: 'localhost', cert: client.certPem, key: client.keyPem });
    assert.ok(ok.authorized, ok.error);
    assert.deepEqual(ok.serverSawClient, { authorized: true, cn: 'tenant-acme' });
    const other = await createDevPki();
    const foreign = await createClientCert(other.ca, 'intruder');
    const refused = await handshake(serverOpts, { ca: pki.ca.certPem, servername: 'localhost', cert: foreign.certPem, key: foreign.keyPem });
    assert.equal(refused.serverSawClient, undefined);
  });
});
