// Answers for requests Node's HTTP parser refuses before Fastify sees them (Fastify's `clientErrorHandler`): headers
// not complete within the headers timeout (slowloris) → 408, headers over maxHeaderSize → 431, a request target with
// bytes no URL has → 400 URL_INVALID, anything else unparsable → 400, each as RFC 9457 problem+json with a stable
// code. Fastify's default answers plain JSON and destroys the socket right after writing, which can discard the
// answer before it leaves; ending the socket lets it be sent first. These are no requests: abuse control never sees
// them, and the connection is closed after the answer.
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { AppError, type ErrorCode } from '../../errors.ts';
import { PROBLEM_TYPE_BASE } from './problem-details.ts';

function codeOf(err: { code?: string }): ErrorCode {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'REQUEST_TIMEOUT';
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  // A byte the parser does not take in a request target (a control character, raw non-ASCII): the same refusal as
  // an undecodable escape (request-target.ts).
  if (err.code === 'HPE_INVALID_URL') return 'URL_INVALID';
  return 'VALIDATION_FAILED';
}

export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e = new AppError(codeOf(err), codeOf(err) === 'VALIDATION_FAILED' ? { detail: 'the request is malformed' } : {});
  const body = JSON.stringify({
    type: `${PROBLEM_TYPE_BASE}${e.code.toLowerCase().replaceAll('_', '-')}`, title: e.title, status: e.status, detail: e.detail, code: e.code,
  });
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\nContent-Type: application/problem+json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  // Whatever happens to the answer, the socket does not outlive a short grace period.
  setTimeout(() => socket.destroy(), 1000).unref();
}
