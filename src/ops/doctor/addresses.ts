// Where a bind address can be reached from (loopback, private, every interface, public) and whether an allowlist
// lets anyone in: the listener-layout, certificate, live and firewall checks all judge exposure by these.
import type { ListenerConfig } from '../../config/config.ts';
import { cidrContains, parseCidr, parseIp } from '../../shared/cidr.ts';

export type HostClass = 'loopback' | 'private' | 'wildcard' | 'public';

const LOOPBACK_BLOCKS = ['127.0.0.0/8', '::1/128'].map((c) => parseCidr(c)!);
// RFC 1918, RFC 6598 (carrier-grade NAT), RFC 3927/4291 link-local, RFC 4193 unique local.
const PRIVATE_BLOCKS = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', 'fc00::/7', 'fe80::/10'].map(
  (c) => parseCidr(c)!,
);

/** Where a bind address can be reached from. Host names other than `localhost` count as public: we cannot tell. */
export function classifyHost(host: string): HostClass {
  if (host === '' || host === '0.0.0.0' || host === '::' || host === '[::]') return 'wildcard';
  if (host === 'localhost') return 'loopback';
  const ip = parseIp(host.replace(/^\[|\]$/g, ''));
  if (!ip) return 'public';
  if (LOOPBACK_BLOCKS.some((c) => cidrContains(c, ip))) return 'loopback';
  if (PRIVATE_BLOCKS.some((c) => cidrContains(c, ip))) return 'private';
  return 'public';
}

/** True when the allowlist lets anyone in: empty, or holding a /0. */
export function allowsEveryone(allow: readonly string[]): boolean {
  return allow.length === 0 || allow.some((a) => parseCidr(a)?.prefix === 0);
}

export function where(l: ListenerConfig): string {
  return `${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port}`;
}
