// Process entry for `fapiao serve`: config → app → listen on every enabled listener; SIGTERM/SIGINT drain and close.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { App } from './app.ts';

export interface Running {
  urls: Map<string, string>;
  stop(): Promise<void>;
}

export async function listen(app: App): Promise<Running> {
  const servers = await app.buildListeners();
  const urls = new Map<string, string>();
  const started: FastifyInstance[] = [];
  try {
    for (const [name, server] of servers) {
      const l = app.config.listeners[name as keyof typeof app.config.listeners];
      await server.listen({ host: l.host, port: l.port });
      started.push(server);
      const addr = server.server.address() as AddressInfo;
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      const url = `https://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${addr.port}`;
      urls.set(name, url);
      if (name === 'api') app.setListeningOrigin(url);
      app.logger.info({ listener: name, url }, 'listening');
    }
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    urls,
    stop() {
      stopping ??= (async () => {
        await Promise.allSettled(started.map((s) => s.close()));
        await app.close();
      })();
      return stopping;
    },
  };
}

/** Stops gracefully on SIGTERM/SIGINT: listeners stop accepting, in-flight requests finish, then storage closes. */
export function handleSignals(running: Running, app: App): void {
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
