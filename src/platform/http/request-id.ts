// What a caller's X-Request-Id may be to become the request's id: the id is written to every log line of the request,
// answered in the response header and problem bodies, stored on the request's audit entries and in the envelope of
// the requesting tenant's events (docs/operations.md "Logs"). So it is short, of a plain charset that cannot break a
// log line, a header or a JSON or CLI display (no controls, spaces, quotes, backslashes or non-ASCII), cannot hold an
// e-mail address (no `@`), and is never one of our secrets by mistake (an API key, the admin token or a webhook
// signing secret copied into the header by a misconfigured client or proxy). Anything else is replaced by an id of
// ours and never stored.
import { randomUUID } from 'node:crypto';

/** The charset and length of an accepted id (also the `requestId` query parameter of the admin audit search). */
export const REQUEST_ID_PATTERN = '^[A-Za-z0-9._~:/+=-]{1,128}$';
export const REQUEST_ID_MAX_LENGTH = 128;
const REQUEST_ID = new RegExp(REQUEST_ID_PATTERN);
/** The prefixes of our secrets (platform/crypto/api-key-token.ts, modules/delivery/domain/signature.ts). */
const SECRET_MARKERS = /fp_live_|fp_admin_|whsec_/i;

/** Whether a caller's value may be used as the request's id. */
export function acceptableRequestId(given: unknown): given is string {
  return typeof given === 'string' && REQUEST_ID.test(given) && !SECRET_MARKERS.test(given);
}

/** The request's id: the caller's `X-Request-Id` when acceptable, else a fresh UUID. */
export function requestIdOf(given: string | string[] | undefined): string {
  return acceptableRequestId(given) ? given : randomUUID();
}
