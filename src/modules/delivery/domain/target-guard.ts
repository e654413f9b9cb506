// The SSRF guard of webhook targets (issue 12): an endpoint URL is the tenant's to choose, so without a guard a
// tenant could make the server POST into its own network or a cloud metadata service. Every address a target's host
// resolves to is checked at connection time (not only when the URL is saved: DNS may change), and the connection
// goes to the checked address, so a second resolution cannot swap it (DNS rebinding).
import { CidrSet, parseIp, type IpAddress } from '../../../shared/cidr.ts';

/** Address blocks refused unless the configuration allows them, each with the reason reported. */
const REFUSED: readonly (readonly [string, readonly string[]])[] = [
  ['loopback', ['127.0.0.0/8', '::1/128']],
  ['unspecified', ['0.0.0.0/8', '::/128']],
  // Cloud metadata services: AWS/GCP/Azure/OpenStack, Alibaba Cloud, Tencent Cloud (metadata.tencentyun.com), AWS IPv6.
  ['metadata', ['169.254.169.254/32', '100.100.100.200/32', '169.254.0.23/32', 'fd00:ec2::254/128']],
  ['link-local', ['169.254.0.0/16', 'fe80::/10']],
  ['private', ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7', '198.18.0.0/15']],
  ['reserved', ['192.0.0.0/24', '192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '240.0.0.0/4', '224.0.0.0/4', 'ff00::/8', '2001:db8::/32', '64:ff9b::/96']],
];

const SETS = REFUSED.map(([reason, blocks]) => [reason, new CidrSet(blocks)] as const);

export type TargetRefusal = 'loopback' | 'unspecified' | 'metadata' | 'link-local' | 'private' | 'reserved' | 'not-an-address';

/** Why a connection to `address` is refused, or undefined when it is allowed. `allowed` overrides the refusal. */
export function refusedTarget(address: string, allowed: CidrSet): TargetRefusal | undefined {
  const ip: IpAddress | undefined = parseIp(address);
  if (!ip) return 'not-an-address';
  if (allowed.has(ip)) return undefined;
  for (const [reason, set] of SETS) if (set.has(ip)) return reason as TargetRefusal;
  return undefined;
}
