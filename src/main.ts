// Process entry for `fapiao serve`: config → container → start its lifecycle → listen on every enabled listener;
// SIGTERM/SIGINT stop the lifecycle in reverse order, the listeners first.
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { ServerContainer } from './container.ts';
import { enabledListeners } from './config/config.ts';
import { certificateNotAfter, TLS_CIPHERS } from './platform/http/build-server.ts';
import { compileDeferredSchemas } from './platform/http/schema-compilers.ts';
import { readTls } from './ops/setup.ts';

export interface Running {
  urls: Map<string, string>;
  servers: Map<string, FastifyInstance>;
  stop(): Promise<void>;
}

/** `built`: called once the listeners are built, before the first one listens (and logs), e.g. to end a progress line. */
export async function listen(app: ServerContainer, opts: { built?: () => void } = {}): Promise<Running> {
  await app.start();
  const servers = await app.buildListeners();
  opts.built?.();
  const urls = new Map<string, string>();
  const started: FastifyInstance[] = [];
  try {
    for (const [name, server] of servers) {
      const l = enabledListeners(app.config).find((x) => x.name === name)!;
      await server.listen({ host: l.host, port: l.port });
      started.push(server);
      const addr = server.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      const url = `${l.tls ? 'https' : 'http'}://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${addr.port}`;
      urls.set(name, url);
      if (name === 'api') app.setListeningOrigin(url);
      app.logger.info({ listener: name, url }, 'listening');
    }
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
  // Registered last, so stopped first: readiness false and every answer closing its connection for
  // http.shutdownDelayMs (platform/http/leaving.ts), then no new requests, those in flight finish, then the jobs and
  // storage stop.
  await app.lifecycle.add({
    name: 'listeners',
    stop: async () => {
      app.services.leaving.begin();
      const delay = app.config.http.shutdownDelayMs;
      if (delay > 0) {
        app.logger.info({ delayMs: delay }, 'readiness off; serving with Connection: close until the listeners close');
        await sleep(delay);
      }
      await Promise.allSettled(started.map((s) => s.close()));
    },
  });
  app.logger.info({ listeners: Object.fromEntries(urls) }, 'ready');
  // The route validators and serializers no request has used yet, one per turn of the event loop: requests go first.
  compileDeferredSchemas(() => new Promise((resolve) => setImmediate(resolve))).catch((err: unknown) => {
    app.logger.error({ err }, 'a route schema does not compile; its route answers 500 until fixed');
  });
  return { urls, servers, stop: () => app.close() };
}

/**
 * SIGHUP re-reads every TLS listener's certificate and key: new handshakes use them, connections already open keep
 * theirs, so a renewed certificate goes live without dropping anyone.
 */
export function reloadCertificates(app: ServerContainer, running: Running): string[] {
  const reloaded: string[] = [];
  for (const [name, server] of running.servers) {
    const l = enabledListeners(app.config).find((x) => x.name === name);
    if (!l?.tls) continue;
    try {
      const { key, cert } = readTls(app.config, l);
      (server.server as unknown as { setSecureContext(o: object): void }).setSecureContext({
        key, cert, minVersion: 'TLSv1.2', ciphers: TLS_CIPHERS, honorCipherOrder: true,
      });
      reloaded.push(name);
      const notAfter = certificateNotAfter(cert);
      if (notAfter !== undefined) app.services.metrics.certificateExpiry.set({ listener: name }, notAfter);
    } catch (err) {
      // A half-written or mismatched pair must not take the listener down: keep serving the old certificate.
      app.logger.error({ listener: name, err }, 'certificate reload failed; keeping the current certificate');
    }
  }
  app.logger.info({ listeners: reloaded }, 'certificates reloaded');
  return reloaded;
}

/** Stops gracefully on SIGTERM/SIGINT: listeners stop accepting, in-flight requests finish, then storage closes. */
export function handleSignals(running: Running, app: ServerContainer): void {
  process.on('SIGHUP', () => reloadCertificates(app, running));
  const onSignal = (signal: string) => {
    app.logger.info({ signal }, 'shutting down');
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        app.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
}
