// A real webhook receiver on 127.0.0.1 (a free port): records every request and answers as the test says.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers a request; may leave `res` open (a slow endpoint) and end it later. */
export type Responder = (req: Received, res: ServerResponse) => void;

export interface Receiver {
  url: string;
  received: Received[];
  respond: Responder;
  close(): Promise<void>;
}

export const ok: Responder = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');

export async function startReceiver(respond: Responder = ok): Promise<Receiver> {
  const open = new Set<ServerResponse>();
  const r: Receiver = { url: '', received: [], respond, close: async () => undefined };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      r.received.push(got);
      open.add(res);
      res.on('close', () => open.delete(res));
      r.respond(got, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () => new Promise<void>((resolve) => {
    for (const res of open) res.destroy();
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return r;
}

/** Waits (without a time limit of its own: the test runner's timeout applies) until `check` holds. */
export async function until(check: () => boolean | Promise<boolean>, stepMs = 20): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, stepMs));
}
