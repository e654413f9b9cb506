// The request target, normalised once, before routing, so that every decision taken on the path — the router, the
// route group of abuse control (public, tenant, exempt), the redirect listener's page-or-API choice — is taken on
// one spelling, and no alias such as `/%76%31/keys` reaches a different decision than `/v1/keys`.
//
// Normalisation (RFC 3986 §6.2.2): the absolute-form `http://host/path` becomes the origin-form `/path` (RFC 9112
// §3.2.2), percent-encoded unreserved characters (ALPHA, DIGIT, `-`, `.`, `_`, `~`) are decoded (§6.2.2.2), other
// escapes get upper-case hex (§6.2.2.1). Reserved escapes stay: `%2F` is data inside a segment, not a separator.
// Dot segments are not removed: the exploit guard refuses `..` and a `.` segment names no route.
//
// Refused, with a problem once abuse control has seen the raw target (it runs exploit signatures on that raw text,
// counts the request and bans like any other): a target that is not a path, has a fragment, a `%` without two hex
// digits or escapes that are not UTF-8 (400 URL_INVALID; Fastify would answer its own FST_ERR_BAD_URL), and a path
// segment longer than MAX_SEGMENT_LENGTH characters once decoded (414 URI_TOO_LONG; Fastify's maxParamLength, 100 by
// default, applied to every segment). A refused target is routed as its escaped text so routing itself never fails.
import type { FastifyRequest } from 'fastify';

/** Characters of a path segment, decoded (Fastify's default maxParamLength, now for every segment). */
export const MAX_SEGMENT_LENGTH = 100;

export type TargetProblem = 'URL_INVALID' | 'URI_TOO_LONG';

export interface RequestTarget {
  /** What is routed, in origin-form. */
  url: string;
  /** Why the target is refused; absent for a good one. */
  problem?: TargetProblem;
}

const UNRESERVED = /^[A-Za-z0-9._~-]$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/** Every byte of the path but unreserved characters and `/` escaped: a routable literal of a refused target. */
function literal(raw: string): string {
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  let out = path.startsWith('/') ? '' : '/';
  for (const byte of Buffer.from(path, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += c === '/' || UNRESERVED.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function refused(raw: string, problem: TargetProblem): RequestTarget {
  return { url: literal(raw), problem };
}

export function normaliseRequestTarget(raw: string, maxSegment = MAX_SEGMENT_LENGTH): RequestTarget {
  let target = raw;
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute) {
    target = target.slice(absolute[0].length);
    if (!target.startsWith('/')) target = `/${target}`;
  }
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  if (!path.startsWith('/') || path.includes('#')) return refused(target, 'URL_INVALID');
  // The common case: nothing to decode and no segment that could be too long.
  if (!path.includes('%') && path.length <= maxSegment) return { url: target };

  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!HEX2.test(hex)) return refused(target, 'URL_INVALID');
    const decoded = String.fromCharCode(parseInt(hex, 16));
    out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
    i += 2;
  }
  // Whole segments are decoded as the router will decode its parameters: malformed UTF-8 (overlong forms, encoded
  // surrogates, truncated sequences) throws here as it would there.
  let tooLong = false;
  for (const segment of out.split('/')) {
    let text: string;
    try {
      text = decodeURIComponent(segment);
    } catch {
      return refused(target, 'URL_INVALID');
    }
    if (text.length > maxSegment) tooLong = true;
  }
  return tooLong ? { url: out + query, problem: 'URI_TOO_LONG' } : { url: out + query };
}

const problems = new WeakMap<object, TargetProblem>();

/**
 * Fastify's `rewriteUrl`: runs on the raw request before routing; Fastify keeps the raw target as `originalUrl`.
 * A refused target is remembered for `requestTargetProblem`.
 */
export function rewriteRequestTarget(raw: { url?: string }): string {
  const t = normaliseRequestTarget(raw.url ?? '/');
  if (t.problem) problems.set(raw, t.problem);
  return t.url;
}

/** Why this request's target is refused, if it is (see rewriteRequestTarget). */
export function requestTargetProblem(req: Pick<FastifyRequest, 'raw'>): TargetProblem | undefined {
  return problems.get(req.raw);
}
