// Answers for requests Node's HTTP parser refuses before Fastify sees them (Fastify's `clientErrorHandler`): headers
// not complete within the headers timeout (slowloris) → 408, headers over maxHeaderSize → 431, a request target with
// bytes no URL has → 400 URL_INVALID, anything else unparsable → 400, each as RFC 9457 problem+json with a stable
// code. Fastify's default answers plain JSON and destroys the socket right after writing, which can discard the
// answer before it leaves; ending the socket lets it be sent first. These are no requests: abuse control never sees
// them, and the connection is closed after the answer.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AppError, type ErrorCode } from '../../shared/errors.ts';
import { PROBLEM_TYPE_BASE } from './problem-details.ts';
import { httpStatusOf } from './error-status.ts';

function codeOf(err: { code?: string }): ErrorCode {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'REQUEST_TIMEOUT';
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  // A byte the parser does not take in a request target (a control character, raw non-ASCII): the same refusal as
  // an undecodable escape (request-target.ts).
  if (err.code === 'HPE_INVALID_URL') return 'URL_INVALID';
  return 'VALIDATION_FAILED';
}

/** The problem body of an answer written below Fastify (no request id: there is no request). */
function rawProblemBody(e: AppError): string {
  return JSON.stringify({
    type: `${PROBLEM_TYPE_BASE}${e.code.toLowerCase().replaceAll('_', '-')}`, title: e.title, status: httpStatusOf(e.code), detail: e.detail, code: e.code,
  });
}

/** Writes a whole problem+json answer on a raw socket and closes it; the socket does not outlive a short grace. */
function endWithProblem(socket: Duplex, e: AppError): void {
  const body = rawProblemBody(e);
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${httpStatusOf(e.code)} ${STATUS_CODES[httpStatusOf(e.code)]}\r\nContent-Type: application/problem+json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  setTimeout(() => socket.destroy(), 1000).unref();
}

export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  endWithProblem(socket, new AppError(codeOf(err), codeOf(err) === 'VALIDATION_FAILED' ? { detail: 'the request is malformed' } : {}));
}

/**
 * What Node would otherwise answer by itself, outside Fastify, with an empty body or not at all:
 * - `CONNECT` (RFC 9110 §9.3.6) is a tunnel request Node hands to a 'connect' listener and, without one, drops the
 *   connection; no listener of ours is a proxy, so it is 405 like every method abuse control refuses;
 * - `Expect` with anything but `100-continue` (RFC 9110 §10.1.1) goes to 'checkExpectation', else an empty 417.
 */
export function answerBelowFastify(server: Server): void {
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    endWithProblem(socket, new AppError('METHOD_NOT_ALLOWED', { detail: 'CONNECT: this server is not a proxy', headers: {} }));
  });
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const e = new AppError('EXPECTATION_FAILED', { detail: 'only "Expect: 100-continue" is understood' });
    res.writeHead(httpStatusOf(e.code), { 'content-type': 'application/problem+json', connection: 'close' });
    res.end(rawProblemBody(e));
  });
}
