// Observing the SQL statements a storage engine runs, through Kysely's `log` option: the slow-query log of the server
// (config `slowQueryMs`) and the query-plan test (test/storage/query-plans.test.ts), which explains every statement
// of the hot paths. The parameters are handed over as bound, so an observer that writes them anywhere must treat them
// as personal data (the slow-query log writes the statement only).
import type { LogEvent, Logger } from 'kysely';

export interface ObservedQuery {
  sql: string;
  parameters: readonly unknown[];
  durationMs: number;
  /** The engine's error when the statement failed. */
  error?: unknown;
}

export type QueryObserver = (query: ObservedQuery) => void;

/** Kysely's `log` for an observer; undefined (no logging cost at all) without one. */
export function kyselyLog(observer: QueryObserver | undefined): Logger | undefined {
  if (!observer) return undefined;
  return (event: LogEvent) => {
    observer({
      sql: event.query.sql,
      parameters: event.query.parameters,
      durationMs: event.queryDurationMillis,
      ...(event.level === 'error' ? { error: event.error } : {}),
    });
  };
}
