// What the shared repositories need to know about an engine. Everything else is the same Kysely code on both.
import type { Engine } from '../storage.ts';
import { UniqueViolation } from '../storage.ts';

export interface EngineTraits {
  readonly engine: Engine;
  /** The engine's unique-constraint error as a UniqueViolation with the constraint's portable name, else undefined. */
  toUniqueViolation(error: unknown): UniqueViolation | undefined;
}

/** Rethrows a driver error, translated when it is a unique violation (the original is kept as `cause`). */
export function rethrow(traits: EngineTraits, error: unknown): never {
  throw traits.toUniqueViolation(error) ?? error;
}

export { UniqueViolation };
