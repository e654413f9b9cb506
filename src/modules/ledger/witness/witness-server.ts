// The witness over HTTP (https://c2sp.org/tlog-witness "HTTP Interface"), on node:http or node:https:
//   POST /add-checkpoint             old size, proof lines, blank line, checkpoint → cosignature line(s)
//   GET  /<hex SHA-256(origin)>/checkpoint   the latest cosigned checkpoint of that log ("Monitor Retrieval")
// The submission and monitoring prefixes are both the server root. Keep-alive is on (the spec asks for it);
// bodies are capped and slow requests cut off, so a client cannot hold the witness.
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type WitnessConfig, Witness } from './witness.ts';
import { WitnessError, witnessProblem } from './witness-errors.ts';

export interface WitnessServerOptions extends WitnessConfig {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port, reported in `url`. */
  port?: number;
  /** PEM key and certificate: serve HTTPS instead of HTTP. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Largest request body; default 64 KiB (63 proof lines and a checkpoint with dozens of signatures fit easily). */
  maxBodyBytes?: number;
  /** Milliseconds a request may take to arrive; default 10 000. */
  requestTimeoutMs?: number;
}

export interface RunningWitness {
  /** Submission and monitoring prefix, e.g. http://127.0.0.1:39211 */
  url: string;
  port: number;
  name: string;
  /** The witness's cosignature/v1 verifier key, for the log's configuration. */
  verifierKey: string;
  witness: Witness;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 64 * 1024;

function sendProblem(res: ServerResponse, err: WitnessError, instance: string): void {
  if (err.code === 'WITNESS_SIZE_CONFLICT' && err.knownSize !== undefined) {
    // tlog-witness: "The response body MUST consist of the tree size of the latest cosigned checkpoint in decimal,
    // followed by a newline … Content-Type of text/x.tlog.size."
    res.writeHead(409, { 'content-type': 'text/x.tlog.size', 'cache-control': 'no-store' });
    res.end(`${err.knownSize}\n`);
    return;
  }
  res.writeHead(err.status, { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...err.headers });
  res.end(JSON.stringify(witnessProblem(err, instance)));
}

async function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new WitnessError('PAYLOAD_TOO_LARGE', { headers: { connection: 'close' } });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new WitnessError('PAYLOAD_TOO_LARGE', { headers: { connection: 'close' } });
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function originHash(origin: string): string {
  return createHash('sha256').update(origin, 'utf8').digest('hex');
}

/** Opens the witness (state directory, keys) and listens; resolves once it accepts connections. */
export async function startWitness(options: WitnessServerOptions): Promise<RunningWitness> {
  const witness = Witness.open(options);
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const byOriginHash = new Map(witness.origins().map((o) => [originHash(o), o]));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (path === '/add-checkpoint') {
        if (req.method !== 'POST') throw new WitnessError('METHOD_NOT_ALLOWED', { headers: { allow: 'POST' } });
        const body = await readBody(req, limit);
        const lines = await witness.addCheckpoint(body);
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.end(lines);
        return;
      }
      const m = /^\/([0-9a-f]{64})\/checkpoint$/.exec(path);
      if (m) {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new WitnessError('METHOD_NOT_ALLOWED', { headers: { allow: 'GET, HEAD' } });
        const origin = byOriginHash.get(m[1]!);
        const checkpoint = origin === undefined ? undefined : witness.latestCheckpoint(origin);
        if (checkpoint === undefined) throw new WitnessError('NOT_FOUND', { detail: 'the witness has cosigned no checkpoint of that log' });
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
        res.end(req.method === 'HEAD' ? undefined : checkpoint);
        return;
      }
      throw new WitnessError('NOT_FOUND');
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof WitnessError) {
        sendProblem(res, err, path);
        if (err.code === 'PAYLOAD_TOO_LARGE') req.resume();
        return;
      }
      options.logger?.warn({ err }, 'witness request failed');
      sendProblem(res, new WitnessError('INTERNAL'), path);
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    void handle(req, res);
  };
  const server: Server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener) : createHttpServer(listener);
  server.requestTimeout = options.requestTimeoutMs ?? 10_000;
  server.headersTimeout = Math.min(server.requestTimeout, 10_000);
  server.keepAliveTimeout = 5_000;

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await witness.close();
    throw err;
  }
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    name: witness.name,
    verifierKey: witness.verifierKey,
    witness,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await witness.close();
      })();
      return closing;
    },
  };
}
