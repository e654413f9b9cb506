// Standard Webhooks signatures (https://www.standardwebhooks.com/, "Signature scheme"): the signed content is
// `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 under the base64-decoded part of the `whsec_` secret,
// sent as `v1,<base64>`; several signatures are space-separated (during a secret rotation both are sent, so a
// receiver holding either verifies).
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';

/** A new secret: 24 random bytes (the specification asks for 24 to 64), base64 after `whsec_`. */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`;
}

export function signPayload(secret: string, id: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
}

/** The `webhook-signature` header value: one signature per secret, space-separated. */
export function signatureHeader(secrets: readonly string[], id: string, timestampSec: number, body: string): string {
  return secrets.map((s) => signPayload(s, id, timestampSec, body)).join(' ');
}
