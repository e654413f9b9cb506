// The client's address, as far as it can be trusted. Forwarding headers are honoured only when the TCP peer is a
// configured proxy: anyone can send `X-Forwarded-For`, so reading it from an untrusted peer would let a client
// choose the address it is limited, banned or allowlisted by. Within the header, proxies append on the right
// (RFC 7239 §5.2 describes the same order for `Forwarded`), so the right-most address that is not a trusted proxy
// is the last one a trusted hop saw; everything left of it was written by the client and may be forged.
import type { IncomingHttpHeaders } from 'node:http';
import { CidrSet, formatIp, parseIp, type IpAddress } from '../../../shared/cidr.ts';

/** The address used when the socket has none (already closed): counted, never matched by a CIDR. */
export const UNKNOWN_CLIENT = 'unknown';

export interface ClientIpSource {
  socket: { remoteAddress?: string | undefined } | null | undefined;
  headers: IncomingHttpHeaders;
}

export interface ClientIpOptions {
  /** Addresses or CIDR blocks of the reverse proxies / load balancers in front of this listener. Default: none. */
  trustedProxies?: readonly string[];
}

export type ClientIpResolver = (req: ClientIpSource) => string;

function headerValues(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(','));
}

/** `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443` or `2001:db8::1` → the address; undefined when not one. */
function parseForwarded(entry: string): IpAddress | undefined {
  const s = entry.trim();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracket) return parseIp(bracket[1]!);
  const v4port = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(s);
  return parseIp(v4port ? v4port[1]! : s);
}

/**
 * Returns a resolver: the socket address unless it lies inside a trusted-proxy block; then the right-most address
 * of `X-Forwarded-For` that is not a trusted proxy, else `X-Real-IP`, else the socket address. The answer is in
 * canonical form (IPv4-mapped IPv6 as IPv4, RFC 5952 for IPv6).
 */
export function createClientIpResolver(opts: ClientIpOptions = {}): ClientIpResolver {
  const trusted = new CidrSet(opts.trustedProxies ?? []);
  // What the socket address says, by its text: parsed, formatted and matched once per address rather than on every
  // request of a keep-alive client (BigInt arithmetic, which showed in profiles). Bounded; the proxies are fixed.
  const peers = new Map<string, { peer: IpAddress; text: string; trusted: boolean }>();
  const peerOf = (remote: string) => {
    let p = peers.get(remote);
    if (!p) {
      const peer = parseIp(remote);
      if (!peer) return undefined;
      p = { peer, text: formatIp(peer), trusted: trusted.size > 0 && trusted.has(peer) };
      if (peers.size >= 10_000) peers.clear();
      peers.set(remote, p);
    }
    return p;
  };
  return (req) => {
    const p = peerOf(req.socket?.remoteAddress ?? '');
    if (!p) return UNKNOWN_CLIENT;
    if (!p.trusted) return p.text;
    const peer = p.peer;
    const hops = headerValues(req.headers['x-forwarded-for']);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseForwarded(hops[i]!);
      // A malformed entry ends the walk: nothing left of it can be attributed to a trusted hop.
      if (!hop) break;
      if (!trusted.has(hop)) return formatIp(hop);
      // Every hop trusted so far: the left-most one is as close to the client as the chain goes.
      if (i === 0) return formatIp(hop);
    }
    const realIp = headerValues(req.headers['x-real-ip']);
    const real = realIp.length === 1 ? parseForwarded(realIp[0]!) : undefined;
    return formatIp(real ?? peer);
  };
}
