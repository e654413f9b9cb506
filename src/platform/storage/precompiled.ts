// Hot point lookups compiled once. Building and compiling a Kysely query walks an operation-node tree on every call
// (about as long as the SQLite lookup itself); the SQL of a point lookup never changes, only its parameters. So the
// query is built once with named placeholder values, compiled, and each call swaps in the real values by position.
// Engine-neutral: the compiled SQL is the dialect's own ($1 on PostgreSQL, ? on SQLite).
import type { CompiledQuery, Compilable, Kysely } from 'kysely';

/** A query compiled once; `run` executes it with the values of its placeholders. */
export interface Precompiled<P extends string, R> {
  run(values: Record<P, unknown>): Promise<R[]>;
}

/**
 * `build` receives one placeholder per name (a unique marker string) and must use each where the value goes.
 * Throws at construction if a placeholder was not used or the compiled parameters hold anything else, so a query
 * whose shape does not fit fails at start-up, not with wrong results.
 */
export function precompile<DB, P extends string, R>(
  db: Kysely<DB>,
  names: readonly P[],
  build: (placeholders: Record<P, string>) => Compilable<R>,
): Precompiled<P, R> {
  const markers = Object.fromEntries(names.map((n) => [n, `\u0000precompiled:${n}\u0000`])) as Record<P, string>;
  const compiled: CompiledQuery<R> = build(markers).compile();
  const byMarker = new Map<unknown, P>(names.map((n) => [markers[n], n]));
  const order = compiled.parameters.map((p) => {
    const name = byMarker.get(p);
    if (name === undefined) throw new Error('precompile: the query has a parameter that is not a placeholder');
    return name;
  });
  for (const n of names) if (!order.includes(n)) throw new Error(`precompile: placeholder ${n} is not used`);
  return {
    async run(values) {
      const parameters = order.map((n) => values[n]);
      const result = await db.executeQuery<R>({ ...compiled, parameters });
      return result.rows;
    },
  };
}
