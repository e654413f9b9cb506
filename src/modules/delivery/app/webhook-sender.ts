// One HTTP POST of a webhook delivery, with the SSRF guard (domain/target-guard.ts) applied to every address the
// target resolves to, at connection time: Node connects to the address our `lookup` returned, so a second DNS answer
// cannot swap in another one. Redirects are not followed (node:http never does; a 3xx is a failed attempt). Separate
// timeouts bound the connection (TCP + TLS) and the whole answer; at most RESPONSE_SNIPPET bytes of the answer are
// read and kept.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { CidrSet } from '../../../shared/cidr.ts';
import { refusedTarget } from '../domain/target-guard.ts';

export const RESPONSE_SNIPPET = 1024;

export interface SendOptions {
  allowedTargets: CidrSet;
  allowHttp: boolean;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  userAgent: string;
}

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What came back: a status (any, 2xx or not) or an error that stopped the attempt (no status). */
export interface SendResult {
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  response: string | null;
}

export class TargetRefused extends Error {
  constructor(readonly reason: string, readonly address: string) {
    super(`target refused: ${reason}`);
  }
}

/** Why `url` cannot be a webhook target at all (scheme, credentials, a refused address literal), or undefined. */
export function urlProblem(url: string, opts: Pick<SendOptions, 'allowHttp' | 'allowedTargets'>): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (u.protocol !== 'https:' && !(opts.allowHttp && u.protocol === 'http:')) return 'the URL must be https';
  if (u.username !== '' || u.password !== '') return 'the URL may not carry credentials';
  if (u.hash !== '') return 'the URL may not have a fragment';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const refused = refusedTarget(host, opts.allowedTargets);
    if (refused) return `the address is ${refused}`;
  } else if (host === 'localhost' || host.endsWith('.localhost')) {
    const refused = refusedTarget('127.0.0.1', opts.allowedTargets);
    if (refused) return 'the address is loopback';
  }
  return undefined;
}

function guardedLookup(allowed: CidrSet): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      // Every answer must pass: a name resolving to one public and one private address is refused.
      for (const a of addresses) {
        const refused = refusedTarget(a.address, allowed);
        if (refused) return callback(new TargetRefused(refused, a.address), '', 0);
      }
      const first = addresses[0];
      if (!first) return callback(new Error('no address'), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, first.address, first.family);
    });
  };
}

export function sendWebhook(req: SendRequest, opts: SendOptions, now: () => number = Date.now): Promise<SendResult> {
  const started = now();
  const problem = urlProblem(req.url, opts);
  if (problem) return Promise.resolve({ statusCode: null, error: `refused: ${problem}`, latencyMs: 0, response: null });
  const u = new URL(req.url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<SendResult>((resolve) => {
    let done = false;
    let latencyMs = 0;
    const finish = (r: Omit<SendResult, 'latencyMs'>) => {
      if (done) return;
      done = true;
      clearTimeout(total);
      clearTimeout(connect);
      resolve({ ...r, latencyMs: latencyMs || now() - started });
    };
    const r = send(u, {
      method: 'POST',
      agent: false,
      lookup: guardedLookup(opts.allowedTargets),
      headers: {
        ...req.headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(req.body)),
        'user-agent': opts.userAgent,
      },
    });
    const connect = setTimeout(() => r.destroy(new Error(`connect timeout after ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
    const total = setTimeout(() => r.destroy(new Error(`no complete answer within ${opts.responseTimeoutMs} ms`)), opts.responseTimeoutMs);
    r.on('socket', (socket) => {
      const connected = () => clearTimeout(connect);
      if (!socket.connecting) connected();
      socket.once(u.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
    });
    r.on('error', (err) => {
      const msg = err instanceof TargetRefused ? `refused: the address is ${err.reason}` : err.message;
      finish({ statusCode: null, error: msg.slice(0, 500), response: null });
    });
    r.on('response', (res: IncomingMessage) => {
      latencyMs = now() - started;
      const chunks: Buffer[] = [];
      let size = 0;
      const end = () => finish({
        statusCode: res.statusCode ?? null, error: null,
        response: size > 0 ? Buffer.concat(chunks).subarray(0, RESPONSE_SNIPPET).toString('utf8') : null,
      });
      res.on('data', (c: Buffer) => {
        if (size < RESPONSE_SNIPPET) chunks.push(c);
        size += c.length;
        if (size >= RESPONSE_SNIPPET) {
          end();
          res.destroy();
        }
      });
      res.on('end', end);
      res.on('error', end);
      res.on('close', end);
    });
    r.end(req.body);
  });
}
