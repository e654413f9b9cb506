// Listener-layout checks (docs/design.md §5): no plaintext listener except the redirect (metrics and health may be plain
// on loopback), admin and metrics not on public addresses nor open to every source, and admin on a listener of its own;
// and, for every listener, whether it is public (reachable beyond loopback) or loopback only.
import type { ListenerConfig, RouteGroup } from '../../config/config.ts';
import { allowsEveryone, classifyHost, where } from './addresses.ts';
import type { Finding } from './findings.ts';

const PUBLIC_GROUPS: readonly RouteGroup[] = ['issue', 'query', 'public', 'redirect', 'push'];

export function plaintextFindings(l: ListenerConfig): Finding[] {
  if (l.tls) return [];
  const groups = l.groups;
  if (groups.every((g) => g === 'redirect')) return [];
  const local = classifyHost(l.host) === 'loopback';
  if (groups.every((g) => g === 'metrics' || g === 'health')) {
    return local
      ? [{ id: 'plaintext-metrics', severity: 'low', listener: l.name, message: `serves ${groups.join(', ')} over plain HTTP on loopback ${where(l)}: fine for a local scraper` }]
      : [{ id: 'plaintext-metrics', severity: 'high', listener: l.name, message: `serves ${groups.join(', ')} over plain HTTP on ${where(l)}, off loopback: enable tls or bind to 127.0.0.1` }];
  }
  return [
    {
      id: 'plaintext',
      severity: 'high',
      listener: l.name,
      message: `serves ${groups.join(', ')} over plain HTTP on ${where(l)}: only the redirect may be plaintext; set tls to true`,
    },
  ];
}

export function exposureFindings(l: ListenerConfig): Finding[] {
  const kind = l.groups.includes('admin') ? 'admin' : l.groups.includes('metrics') ? 'metrics' : undefined;
  if (!kind) return [];
  const out: Finding[] = [];
  const cls = classifyHost(l.host);
  if (cls === 'wildcard' || cls === 'public') {
    const on = cls === 'wildcard' ? `${where(l)} (every interface)` : `the public address ${where(l)}`;
    out.push({ id: `${kind}-exposed`, severity: 'high', listener: l.name, message: `serves ${kind} on ${on}: bind it to 127.0.0.1 or a private address` });
  } else if (cls === 'private') {
    out.push({ id: `${kind}-exposed`, severity: 'medium', listener: l.name, message: `serves ${kind} on the private address ${where(l)}: keep its allowlist to the hosts that need it` });
  }
  if (allowsEveryone(l.allow)) {
    out.push({ id: `${kind}-allowlist`, severity: 'high', listener: l.name, message: `serves ${kind} to any source address: set allow to the addresses that need it` });
  }
  if (kind === 'admin') {
    const mixed = l.groups.filter((g) => PUBLIC_GROUPS.includes(g));
    if (mixed.length > 0) {
      out.push({ id: 'admin-mixed', severity: 'high', listener: l.name, message: `serves admin alongside ${mixed.join(', ')}: give admin a listener of its own` });
    }
  }
  return out;
}

/** True when hosts other than this one can connect: bound to anything but a loopback address. */
export function isPublic(l: ListenerConfig): boolean {
  return classifyHost(l.host) !== 'loopback';
}

/**
 * Where each listener can be reached from. Listeners bind loopback by default (config/listeners.ts), so a listener
 * that is public was made so by the configuration; this says which, and a loopback one says how to open it.
 */
export function reachFindings(l: ListenerConfig): Finding[] {
  if (!isPublic(l)) {
    // Admin and metrics belong on loopback (exposureFindings): no hint how to open them.
    const hint = l.groups.some((g) => PUBLIC_GROUPS.includes(g))
      ? `; to serve them set listeners.${l.name}.host or FAPIAO_LISTEN_${l.name.toUpperCase().replaceAll('-', '_')} (e.g. 0.0.0.0:${l.port})`
      : '';
    return [{ id: 'listener-loopback', severity: 'info', listener: l.name, message: `loopback only (${where(l)}): other hosts cannot connect${hint}` }];
  }
  const cls = classifyHost(l.host);
  const on = cls === 'wildcard' ? `${where(l)} (every interface)` : cls === 'private' ? `the private address ${where(l)}` : `${where(l)}`;
  const from = allowsEveryone(l.allow) ? 'from any address' : `from ${l.allow.join(', ')}`;
  return [{ id: 'listener-public', severity: 'info', listener: l.name, message: `public: reachable beyond loopback on ${on}, ${from}` }];
}
