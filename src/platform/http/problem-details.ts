// The one boundary where errors become HTTP: RFC 9457 problem+json with a stable `code` from the registry, the JSON
// Pointer of the field at fault, and never a stack. Unknown errors are logged with their cause and answered 500
// INTERNAL with the request id, so an operator can find the log line.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERRORS, type ErrorCode, type FieldError } from '../../shared/errors.ts';
import { isTextRulePattern, MULTI_LINE_TEXT, TEXT_RULE_MESSAGE } from '../../shared/text-rules.ts';
import { httpStatusOf } from './error-status.ts';

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
    status: httpStatusOf(err.code),
    ...(err.detail !== undefined ? { detail: err.detail } : {}),
    code: err.code,
    ...(err.errors ? { errors: err.errors } : {}),
    instance: req.url.split('?')[0] ?? '/',
    requestId: req.id,
  };
}

export function sendProblem(reply: FastifyReply, req: FastifyRequest, err: AppError): FastifyReply {
  if (err.headers) void reply.headers(err.headers);
  return reply.code(httpStatusOf(err.code)).type('application/problem+json').send(JSON.stringify(problemBody(err, req)));
}

interface AjvError {
  instancePath: string;
  schemaPath?: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/**
 * Schema errors of known fields answered with their specific code instead of VALIDATION_FAILED, so the code a client
 * sees does not depend on whether the schema or the domain caught the mistake (docs/errors.md). Keyed by
 * `<request part>:<JSON Pointer, array indices as *> <Ajv keyword>`; a `required` error's pointer names the missing
 * field. A pattern of the text rules (shared/text-rules.ts) is TEXT_INVALID wherever it is.
 */
const SCHEMA_ERROR_CODES: Readonly<Record<string, ErrorCode>> = {
  'body:/lines minItems': 'LINES_EMPTY',
  'body:/lines required': 'LINES_EMPTY',
  'body:/lines/*/taxCode pattern': 'TAX_CODE_INVALID',
  'body:/lines/*/taxRate pattern': 'TAX_RATE_NOT_ALLOWED',
  'body:/lines/*/amount pattern': 'AMOUNT_INVALID',
  'body:/lines/*/tax pattern': 'AMOUNT_INVALID',
  'body:/lines/*/discount pattern': 'AMOUNT_INVALID',
  'body:/lines/*/quantity pattern': 'QUANTITY_INVALID',
  'body:/lines/*/unitPrice pattern': 'QUANTITY_INVALID',
  'body:/buyer/taxId pattern': 'TAX_ID_INVALID',
  'body:/taxId pattern': 'TAX_ID_INVALID',
  'body:/regionCode pattern': 'REGION_CODE_INVALID',
  'querystring:/buyerTaxId pattern': 'TAX_ID_INVALID',
  'querystring:/minTotal pattern': 'AMOUNT_INVALID',
  'querystring:/maxTotal pattern': 'AMOUNT_INVALID',
};

/** Ajv errors → field errors with JSON Pointers relative to the request part (body, querystring, params, headers). */
export function fieldErrors(validation: AjvError[], context: string | undefined): FieldError[] {
  const part = context ?? 'body';
  return collapseAlternatives(validation).map((v) => {
    let path = v.instancePath || '';
    if (v.keyword === 'required' && typeof v.params.missingProperty === 'string') path += `/${v.params.missingProperty}`;
    if (v.keyword === 'additionalProperties' && typeof v.params.additionalProperty === 'string') {
      path += `/${v.params.additionalProperty}`;
    }
    const where = context && context !== 'body' ? `${context}:` : '';
    let code: ErrorCode = SCHEMA_ERROR_CODES[`${part}:${path.replace(/\/[0-9]+(?=\/|$)/g, '/*') || '/'} ${v.keyword}`] ?? 'VALIDATION_FAILED';
    let message = v.keyword === 'additionalProperties' ? 'unknown field' : (v.message ?? 'invalid');
    if (v.keyword === 'pattern' && isTextRulePattern(v.params.pattern)) {
      code = 'TEXT_INVALID';
      message = TEXT_RULE_MESSAGE[v.params.pattern === MULTI_LINE_TEXT.source ? 'multi' : 'single'];
    } else if (code !== 'VALIDATION_FAILED') {
      message = ERRORS[code].title;
    }
    return { path: `${where}${path || '/'}`, code, message };
  });
}

/**
 * Ajv reports a failed `anyOf` as the errors of every alternative plus one for the `anyOf` itself: a value outside a
 * union of literals (`?format=docx`) got one "must be equal to constant" per literal. Each failed alternative set
 * becomes what the caller can act on: one error listing the allowed values when the alternatives are literals; else
 * the errors of the alternatives whose type the value has (a bad string for a "string or null" field); else one error
 * naming the allowed types. Innermost first, so nested unions collapse too.
 */
function collapseAlternatives(errors: AjvError[]): AjvError[] {
  let list = errors;
  const alternatives = errors
    .filter((e) => (e.keyword === 'anyOf' || e.keyword === 'oneOf') && e.schemaPath !== undefined)
    .sort((a, b) => b.schemaPath!.length - a.schemaPath!.length);
  for (const alt of alternatives) {
    const prefix = `${alt.schemaPath!}/`;
    const inAlt = (e: AjvError) => e === alt || (e.schemaPath?.startsWith(prefix) ?? false);
    const branches = new Map<string, AjvError[]>();
    for (const e of list) {
      if (e === alt || !inAlt(e)) continue;
      const branch = e.schemaPath!.slice(prefix.length).split('/')[0]!;
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const own = (e: AjvError) => e.instancePath === alt.instancePath;
    const wrongType = (errs: AjvError[]) => errs.some((e) => e.keyword === 'type' && own(e));
    const literals = [...branches.values()].every((errs) => errs.every((e) => own(e) && ['const', 'enum', 'type'].includes(e.keyword)));
    const allowed: unknown[] = [];
    let someLiteral = false;
    for (const errs of branches.values()) {
      for (const e of errs) {
        if (e.keyword === 'const') allowed.push(e.params.allowedValue);
        if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues)) allowed.push(...(e.params.allowedValues as unknown[]));
      }
      if (errs.some((e) => e.keyword === 'const' || e.keyword === 'enum')) someLiteral = true;
      else if (errs.some((e) => e.keyword === 'type' && e.params.type === 'null')) allowed.push(null);
    }
    let replacement: AjvError[];
    if (literals && someLiteral) {
      const values = allowed.map((v) => JSON.stringify(v)).join(', ');
      replacement = [{ instancePath: alt.instancePath, schemaPath: alt.schemaPath!, keyword: 'enum', params: { allowedValues: allowed }, message: `must be one of ${values}` }];
    } else {
      const matching = [...branches.values()].filter((errs) => !wrongType(errs));
      if (matching.length > 0) {
        replacement = matching.flat();
      } else {
        const types = [...branches.values()].flatMap((errs) => errs.filter((e) => e.keyword === 'type').map((e) => String(e.params.type)));
        replacement = [{ instancePath: alt.instancePath, schemaPath: alt.schemaPath!, keyword: 'type', params: { type: types }, message: `must be ${[...new Set(types)].join(' or ')}` }];
      }
    }
    const at = list.findIndex(inAlt);
    list = [...list.slice(0, at).filter((e) => !inAlt(e)), ...replacement, ...list.slice(at).filter((e) => !inAlt(e))];
  }
  return list;
}

/**
 * The problem for schema errors: when every field error has the same specific code, the problem has that code (and
 * its status, e.g. 422 LINES_EMPTY); otherwise VALIDATION_FAILED (400), each field error keeping its own code.
 */
export function schemaProblem(errors: FieldError[], cause: unknown): AppError {
  const codes = new Set(errors.map((e) => e.code));
  const code = codes.size === 1 ? errors[0]!.code : 'VALIDATION_FAILED';
  return new AppError(code, { errors, cause });
}

/** Maps framework errors (body parsing, limits, validation) to registry errors; undefined for anything unexpected. */
export function translateFrameworkError(err: FastifyError): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err.validation) {
    return schemaProblem(fieldErrors(err.validation, err.validationContext), err);
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

/** Requests refused by load shedding: left out of the access log (shed-report.ts counts and reports them). */
export const SHED_REQUESTS = new WeakSet<object>();

export function registerProblemDetails(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const known = translateFrameworkError(err);
    if (known) {
      if (known.shed) SHED_REQUESTS.add(req);
      else if (httpStatusOf(known.code) >= 500) req.log.error({ err }, 'request failed');
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
