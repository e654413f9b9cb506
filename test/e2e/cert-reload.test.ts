// SIGHUP reloads certificates without dropping connections (issue: production takes certificate and key paths and
// reloads them on SIGHUP).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { spawnServer, type Spawned } from '../helpers/spawn-server.ts';
import { createServerCert } from '../../src/platform/crypto/dev-certs.ts';

function open(port: number, ca: Buffer): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', ca }, () => resolve(s));
    s.on('error', reject);
  });
}

function get(sock: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    const onData = (d: Buffer) => {
      data += d.toString();
      if (/\r\n\r\n/.test(data) && /content-length: (\d+)/i.test(data)) {
        const len = Number(/content-length: (\d+)/i.exec(data)![1]);
        if (data.length - data.indexOf('\r\n\r\n') - 4 >= len) {
          sock.off('data', onData);
          resolve(data);
        }
      }
    };
    sock.on('data', onData);
    sock.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

describe('certificate reload on SIGHUP', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-reload-'));
  let s: Spawned;
  before(async () => {
    s = await spawnServer(dataDir);
  });
  after(async () => {
    await s?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the new certificate to new connections and keeps old ones open', async () => {
    const port = Number(new URL(s.url).port);
    const ca = readFileSync(join(dataDir, 'tls', 'ca.pem'));
    const before = await open(port, ca);
    const oldFingerprint = before.getPeerCertificate().fingerprint256;

    const renewed = await createServerCert(
      { certPem: ca.toString(), keyPem: readFileSync(join(dataDir, 'tls', 'ca.key'), 'utf8') },
      ['localhost', '127.0.0.1'],
    );
    writeFileSync(join(dataDir, 'tls', 'server.pem'), renewed.certPem);
    writeFileSync(join(dataDir, 'tls', 'server.key'), renewed.keyPem);
    const reloaded = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (s.output.some((l) => l.includes('certificates reloaded'))) {
          clearInterval(timer);
          resolve();
        }
      }, 50);
    });
    s.proc.kill('SIGHUP');
    await reloaded;

    const after = await open(port, ca);
    assert.notEqual(after.getPeerCertificate().fingerprint256, oldFingerprint);
    after.end();
    assert.match(await get(before, '/v1/keys'), /^HTTP\/1\.1 200/, 'the connection opened before the reload still works');
    before.end();
  });
});
