// The one boundary where errors become HTTP: RFC 9457 problem+json with a stable `code` from the registry, the JSON
// Pointer of the field at fault, and never a stack. Unknown errors are logged with their cause and answered 500
// INTERNAL with the request id, so an operator can find the log line.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERRORS, type ErrorCode, type FieldError } from '../../errors.ts';

export const PROBLEM_TYPE_BASE = 'https://fapiao.dev/problems/';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: ErrorCode;
  errors?: FieldError[];
  instance: string;
  requestId: string;
}

export function problemBody(err: AppError, req: FastifyRequest): ProblemBody {
  return {
    // Extension members first, so that none can shadow a standard member.
    ...err.extensions,
    type: `${PROBLEM_TYPE_BASE}${err.code.toLowerCase().replaceAll('_', '-')}`,
    title: err.title,
    status: err.status,
    ...(err.detail !== undefined ? { detail: err.detail } : {}),
    code: err.code,
    ...(err.errors ? { errors: err.errors } : {}),
    instance: req.url.split('?')[0] ?? '/',
    requestId: req.id,
  };
}

export function sendProblem(reply: FastifyReply, req: FastifyRequest, err: AppError): FastifyReply {
  if (err.headers) void reply.headers(err.headers);
  return reply.code(err.status).type('application/problem+json').send(JSON.stringify(problemBody(err, req)));
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Ajv errors → field errors with JSON Pointers relative to the request part (body, querystring, params, headers). */
export function fieldErrors(validation: AjvError[], context: string | undefined): FieldError[] {
  return validation.map((v) => {
    let path = v.instancePath || '';
    if (v.keyword === 'required' && typeof v.params.missingProperty === 'string') path += `/${v.params.missingProperty}`;
    if (v.keyword === 'additionalProperties' && typeof v.params.additionalProperty === 'string') {
      path += `/${v.params.additionalProperty}`;
    }
    const where = context && context !== 'body' ? `${context}:` : '';
    const message = v.keyword === 'additionalProperties' ? 'unknown field' : (v.message ?? 'invalid');
    return { path: `${where}${path || '/'}`, code: 'VALIDATION_FAILED' as const, message };
  });
}

/** Maps framework errors (body parsing, limits, validation) to registry errors; undefined for anything unexpected. */
export function translateFrameworkError(err: FastifyError): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err.validation) {
    return new AppError('VALIDATION_FAILED', { errors: fieldErrors(err.validation, err.validationContext), cause: err });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', { cause: err });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', { cause: err });
    // Raised by the router; request-target.ts refuses such targets first, these are the fallback (frameworkErrors).
    case 'FST_ERR_BAD_URL':
      return new AppError('URL_INVALID', { cause: err });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('URI_TOO_LONG', { cause: err });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('MALFORMED_JSON', { cause: err });
    default:
      break;
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new AppError('MALFORMED_JSON', { cause: err });
  }
  if (err.statusCode === 404) return new AppError('NOT_FOUND', { cause: err });
  if (err.statusCode === 405) return new AppError('METHOD_NOT_ALLOWED', { cause: err });
  if (err.statusCode === 408) return new AppError('REQUEST_TIMEOUT', { cause: err });
  if (err.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE', { cause: err });
  if (err.statusCode === 414) return new AppError('URI_TOO_LONG', { cause: err });
  if (err.statusCode === 431) return new AppError('HEADERS_TOO_LARGE', { cause: err });
  if (err.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', { cause: err });
  if (err.statusCode === 429) return new AppError('RATE_LIMITED', { cause: err });
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return new AppError('VALIDATION_FAILED', { detail: 'the request is malformed', cause: err });
  }
  return undefined;
}

export function registerProblemDetails(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const known = translateFrameworkError(err);
    if (known) {
      if (known.status >= 500) req.log.error({ err }, 'request failed');
      return sendProblem(reply, req, known);
    }
    req.log.error({ err }, 'unexpected error');
    return sendProblem(reply, req, new AppError('INTERNAL', { detail: `see the server log for request ${req.id}` }));
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, req, new AppError('NOT_FOUND')));
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}
