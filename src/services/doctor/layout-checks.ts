// Listener-layout checks (DESIGN.md §5): no plaintext listener except the redirect (metrics and health may be plain
// on loopback), admin and metrics not on public addresses nor open to every source, and admin on a listener of its own.
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
