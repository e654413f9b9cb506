// PostgreSQL reports unique_violation as SQLSTATE 23505 with the constraint (or unique index) name, which the
// migrations chose to match UniqueConstraint in storage.ts.
import { UniqueViolation } from '../storage.ts';

export function postgresUniqueViolation(error: unknown): UniqueViolation | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  if (code !== '23505') return undefined;
  return new UniqueViolation(typeof constraint === 'string' ? constraint : 'unknown', { cause: error });
}
