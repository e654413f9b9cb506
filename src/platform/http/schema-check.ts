// A request schema checked outside a route: the same Ajv build as Fastify's (its own compiler, @fastify/ajv-compiler,
// with the options of build-server.ts), and the same translation of its errors (problem-details.ts). Batch issuance
// checks each item of a batch with the schema of POST /v1/invoices this way, so an item is refused with exactly the
// codes and fields the single request would get, and the batch goes on with the others.
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { AppError } from '../../shared/errors.ts';
import { fieldErrors, schemaProblem } from './problem-details.ts';
import { shareCompiledValidators } from './schema-compilers.ts';

/** Fastify's Ajv options for every route (build-server.ts). */
export const AJV_OPTIONS = { removeAdditional: false, coerceTypes: false, allErrors: true, useDefaults: false } as const;

type AjvValidate = ((value: unknown) => boolean) & { errors?: Parameters<typeof fieldErrors>[0] | null };

/** Compiles `schema` as the body of a route; the check answers the schema's problem, or undefined for a valid value. */
export function compileBodyCheck(schema: object): (value: unknown) => AppError | undefined {
  // The validator the route's body already compiled, or compiled now and then shared with the route (schema-compilers.ts).
  const build = AjvCompiler()({}, { customOptions: { ...AJV_OPTIONS }, onCreate: shareCompiledValidators(AJV_OPTIONS) });
  const validate = build({ schema, method: 'POST', url: '/', httpPart: 'body' }) as unknown as AjvValidate;
  return (value) => {
    if (validate(value)) return undefined;
    return schemaProblem(fieldErrors(validate.errors ?? [], 'body'), undefined);
  };
}
