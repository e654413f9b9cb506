// PostgreSQL reports unique_violation as SQLSTATE 23505 with the constraint (or unique index) name, which the
// migrations chose to match UniqueConstraint in storage.ts.
import { UniqueViolation } from '../storage-errors.ts';

export function postgresUniqueViolation(error: unknown): UniqueViolation | undefined {
  if (!(error instanceof Error)) return undefined;
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  if (code !== '23505') return undefined;
  return new UniqueViolation(typeof constraint === 'string' ? constraint : 'unknown', { cause: error });
}

/**
 * SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) that say the server cannot serve or store
 * now, not that the statement is wrong: class 08 connection exception; class 53 insufficient resources (53100
 * disk_full, 53200 out_of_memory, 53300 too_many_connections, …); 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
 * cannot_connect_now (starting up, or a standby in recovery), 57P05 idle_session_timeout; class 58 system error (58030
 * io_error); 25006 read_only_sql_transaction (a primary demoted by a failover, or default_transaction_read_only).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|58)...$|^57P0[1235]$|^25006$/;

/** Socket errors of node:net that pg passes through: the server is down, unreachable or dropped the connection. */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * pg's own errors for a lost connection carry no code, only these messages (pg/lib/client.js, pg-pool/index.js): the
 * socket ended during a query, a connect or an idle wait, or the client already failed.
 */
const PG_CONNECTION_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)/;

export function isPostgresUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  // Socket codes first: EPIPE has the shape of a SQLSTATE.
  if (typeof code === 'string') return SOCKET_ERRORS.has(code) || UNAVAILABLE_SQLSTATE.test(code);
  return PG_CONNECTION_MESSAGES.test(error.message);
}
