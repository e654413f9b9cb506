// What the shared repositories need to know about an engine. Everything else is the same Kysely code on both.
import type { Engine } from './storage-engine.ts';
import { UniqueViolation } from './storage-errors.ts';

export interface EngineTraits {
  readonly engine: Engine;
  /** The engine's unique-constraint error as a UniqueViolation with the constraint's portable name, else undefined. */
  toUniqueViolation(error: unknown): UniqueViolation | undefined;
  /**
   * True for the engine's errors that mean the database cannot be written or reached now (a full disk, an I/O error,
   * a lost connection), which the driver turns into STORAGE_UNAVAILABLE (storage-health.ts) before any repository
   * sees them.
   */
  isUnavailable(error: unknown): boolean;
}

/**
 * Rethrows a driver error, translated when it is a unique violation (the original is kept as `cause`). An
 * unavailable database arrives here already as the AppError STORAGE_UNAVAILABLE and passes through unchanged.
 */
export function rethrow(traits: EngineTraits, error: unknown): never {
  throw traits.toUniqueViolation(error) ?? error;
}

export { UniqueViolation };
