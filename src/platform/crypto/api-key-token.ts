// API keys and admin tokens. An API key is shown once and stored only as a hash (docs/design.md §4, invariant 10):
//   fp_live_<id>_<secret>     id: 12 chars Crockford base32 (lowercase, no i l o u), ~60 bits, the lookup key
//                             secret: 32 chars base62, ~190 bits of CSPRNG output
// The prefix `fp_live_<id>` is not secret: it is what lists, logs and audit entries show. The key carries ~190 bits
// of entropy, so a single fast hash (SHA-256) is the right storage form; a slow password hash would only cost CPU on
// every request (the reasoning of GitHub's and Stripe's token formats). Underscores separate fields because neither
// alphabet contains one, and the whole key is one "word" for double-click copy and secret scanners.
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

const BASE32 = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford, lowercase
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const API_KEY_PREFIX = 'fp_live_';
const ID_LENGTH = 12;
const SECRET_LENGTH = 32;
const API_KEY_RE = /^fp_live_([0-9abcdefghjkmnpqrstvwxyz]{12})_([0-9A-Za-z]{32})$/;

/** `length` characters drawn uniformly from `alphabet` (randomInt rejects the modulo bias). */
function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

export interface GeneratedApiKey {
  /** Public identifier, 12 chars: the database lookup key. */
  id: string;
  /** The full key: give it to the client once, never store it. */
  secret: string;
  /** `fp_live_<id>`: safe to show and log. */
  prefix: string;
  /** Hex SHA-256 of the full key: what is stored. */
  hash: string;
}

export function generateApiKey(): GeneratedApiKey {
  const id = randomString(BASE32, ID_LENGTH);
  const secret = `${API_KEY_PREFIX}${id}_${randomString(BASE62, SECRET_LENGTH)}`;
  return { id, secret, prefix: `${API_KEY_PREFIX}${id}`, hash: hashApiKey(secret) };
}

export interface ParsedApiKey {
  id: string;
  prefix: string;
}

/** The id and prefix of a well-formed key, or undefined. Does not check that the key is valid: look up and compare. */
export function parseApiKey(secret: string): ParsedApiKey | undefined {
  const m = typeof secret === 'string' ? API_KEY_RE.exec(secret) : null;
  if (!m) return undefined;
  const id = m[1]!;
  return { id, prefix: `${API_KEY_PREFIX}${id}` };
}

/** Hex SHA-256 of the whole key string. */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Checks a presented key against a stored hash in constant time. */
export function verifyApiKey(secret: string, storedHash: string): boolean {
  return parseApiKey(secret) !== undefined && timingSafeEqualString(hashApiKey(secret), storedHash);
}

/** An admin bearer token: `fp_admin_` + 32 random bytes base64url (256 bits). */
export function generateAdminToken(): string {
  return `fp_admin_${randomBytes(32).toString('base64url')}`;
}

/**
 * Constant-time string equality. Both sides are hashed first so that neither the length nor the position of the
 * first difference leaks through timing (timingSafeEqual itself throws on unequal lengths).
 */
export function timingSafeEqualString(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}
