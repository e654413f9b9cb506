// The api listener speaks TLS 1.2 and 1.3 only, with AEAD + ECDHE suites only (no CBC, CCM or ARIA).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from '../helpers/test-app.ts';

function handshake(port: number, ca: Buffer, opts: tls.ConnectionOptions): Promise<{ protocol: string | null; cipher: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ...opts }, () => {
      const out = { protocol: s.getProtocol(), cipher: s.getCipher().name };
      s.end();
      resolve(out);
    });
    s.on('error', reject);
  });
}

describe('TLS policy of the api listener', () => {
  let t: TestApp;
  let port: number;
  let ca: Buffer;
  before(async () => {
    t = await createTestApp();
    await t.api.listen({ host: '127.0.0.1', port: 0 });
    port = (t.api.server.address() as AddressInfo).port;
    ca = readFileSync(join(t.dataDir, 'tls', 'ca.pem'));
  });
  after(async () => {
    await t.close();
  });

  it('negotiates TLS 1.3 by default and TLS 1.2 with an AEAD suite', async () => {
    assert.equal((await handshake(port, ca, {})).protocol, 'TLSv1.3');
    const v12 = await handshake(port, ca, { maxVersion: 'TLSv1.2' });
    assert.equal(v12.protocol, 'TLSv1.2');
    assert.match(v12.cipher, /^ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20-POLY1305)/);
  });

  it('refuses TLS 1.1 and 1.0', async () => {
    await assert.rejects(handshake(port, ca, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }));
  });

  for (const cipher of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA', 'AES128-GCM-SHA256', 'ECDHE-ECDSA-AES128-CCM', 'ECDHE-ECDSA-ARIA128-GCM-SHA256']) {
    it(`refuses the TLS 1.2 suite ${cipher}`, async () => {
      await assert.rejects(handshake(port, ca, { maxVersion: 'TLSv1.2', ciphers: cipher }));
    });
  }

  it('sends HSTS on every HTTPS response, errors included', async () => {
    for (const url of ['/healthz', '/nope', '/v1/invoices']) {
      const res = await t.api.inject({ method: 'GET', url });
      assert.equal(res.headers['strict-transport-security'], 'max-age=63072000; includeSubDomains', url);
    }
  });
});
