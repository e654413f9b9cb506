// One compilation of each distinct route schema per process. Every listener is its own Fastify instance with its own
// Ajv and serializer factory, and the listeners share route groups (`api` and `partner` both serve issue and query), so
// the same schemas were compiled once per listener: at start-up, most of the time spent in Fastify. Here a validator
// or serializer is kept by the schema's JSON text (plus the compiler's options), so a second listener, or a check
// outside a route (schema-check.ts), reuses the function the first one compiled. The JSON text is what the compilers
// read: Ajv and fast-json-stringify see the schema's own enumerable keys, never TypeBox's symbol keys. A validator is
// compiled when it is first used rather than when its route is registered (Ajv's compilation of ≈ 40 distinct schemas
// was the largest part of a start after loading the modules), and so is a serializer; the server compiles the rest
// right after it listens.
import type { FastifyServerOptions } from 'fastify';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';

/** The compile method of an Ajv instance, as @fastify/ajv-compiler calls it. */
interface AjvLike {
  compile(schema: unknown): unknown;
}

/** An Ajv validate function, as Fastify and schema-check.ts use it. */
type Validate = ((this: unknown, data: unknown, context?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown; schema?: unknown };

const validators = new Map<string, Validate>();
/** Validators and serializers handed out and not compiled yet, in the order they were asked for. */
const deferred = new Set<() => void>();

/**
 * A validator that compiles on its first use: the call, or Fastify reading `schemaEnv` (which it does before every
 * call) or `errors`. Until then it costs nothing; compileDeferredSchemas() compiles what is left.
 */
function compileOnUse(compile: () => Validate): Validate {
  let compiled: Validate | undefined;
  const real = (): Validate => {
    if (compiled === undefined) {
      compiled = compile();
      deferred.delete(real);
    }
    return compiled;
  };
  deferred.add(real);
  const validate = function (this: unknown, data: unknown, context?: unknown) {
    return context === undefined ? real().call(this, data) : real().call(this, data, context);
  } as Validate;
  Object.defineProperties(validate, {
    errors: { get: () => real().errors, set: (v: unknown) => { real().errors = v; } },
    schemaEnv: { get: () => real().schemaEnv },
    schema: { get: () => real().schema },
  });
  return validate;
}

/**
 * Compiles every validator and serializer not used yet. The server calls it once its listeners listen, one at a time
 * between other work (`slice`), so that a first request rarely waits for one; tests call it to see every schema compile.
 */
export async function compileDeferredSchemas(slice: () => Promise<void> = async () => undefined): Promise<void> {
  for (const next of deferred) {
    next();
    await slice();
  }
}

/**
 * The `onCreate` hook of Fastify's `ajv` option (and of @fastify/ajv-compiler's): the Ajv instance it is given
 * compiles a schema only when no instance with the same options has compiled the same schema yet, and then only when
 * the validator is first used (compileOnUse). Fastify keeps its own handling of the schemas (header names lower-cased
 * before compiling, and so on), which a custom validator compiler would turn off.
 */
export function shareCompiledValidators(customOptions: object): (ajv: AjvLike) => void {
  const prefix = `${JSON.stringify(customOptions)}\u0000`;
  return (ajv) => {
    const compile = ajv.compile.bind(ajv);
    ajv.compile = (schema: unknown) => {
      const key = prefix + JSON.stringify(schema);
      let validate = validators.get(key);
      if (validate === undefined) {
        validate = compileOnUse(() => compile(schema) as Validate);
        validators.set(key, validate);
      }
      return validate;
    };
  };
}

type BuildSerializer = ReturnType<typeof SerializerSelector>;
type SerializerCompiler = ReturnType<BuildSerializer>;

const serializers = new Map<string, ReturnType<SerializerCompiler>>();

/**
 * Fastify's default serializer factory (fast-json-stringify), keeping each serializer by the schema, the external
 * schemas and the options it was built with: the same function serves every listener that answers with that schema.
 */
const buildSharedSerializer: BuildSerializer = (externalSchemas, serializerOpts) => {
  const compile = SerializerSelector()(externalSchemas, serializerOpts);
  const prefix = `${JSON.stringify(externalSchemas ?? {})}\u0000${JSON.stringify(serializerOpts ?? {})}\u0000`;
  return (route) => {
    const key = prefix + JSON.stringify(route.schema);
    let serialize = serializers.get(key);
    if (serialize === undefined) {
      // Compiled when first used, as the validators are.
      let compiled: ReturnType<SerializerCompiler> | undefined;
      const real = () => {
        if (compiled === undefined) {
          compiled = compile(route);
          deferred.delete(real);
        }
        return compiled;
      };
      deferred.add(real);
      serialize = (doc) => real()(doc);
      serializers.set(key, serialize);
    }
    return serialize;
  };
};

/** The `schemaController` option of a serving instance: validators as Fastify builds them, serializers shared. */
export const SHARED_SCHEMA_CONTROLLER = {
  compilersFactory: { buildSerializer: buildSharedSerializer },
} as unknown as NonNullable<FastifyServerOptions['schemaController']>;
