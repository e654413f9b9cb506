// Per-listener source-address allowlist (docs/design.md §5: admin and metrics answer loopback only by default). Checked
// twice: on the TCP connection, before any TLS or HTTP work, and per request (inject() has no connection).
import { BlockList, isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../shared/errors.ts';

/** undefined when everyone may connect. */
export function createAllowlist(entries: readonly string[]): ((address: string | undefined) => boolean) | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const e of entries) {
    const [addr = '', bits] = e.split('/');
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return (address) => {
    if (!address) return false;
    // IPv4 clients of a dual-stack socket appear as ::ffff:a.b.c.d
    const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
    return list.check(plain, isIP(plain) === 6 ? 'ipv6' : 'ipv4');
  };
}

export function registerIpAllowlist(app: FastifyInstance, entries: readonly string[]): void {
  const allowed = createAllowlist(entries);
  if (!allowed) return;
  app.server.on('connection', (socket: { remoteAddress?: string; destroy(): void }) => {
    if (!allowed(socket.remoteAddress)) socket.destroy();
  });
  app.addHook('onRequest', async (req) => {
    if (!allowed(req.socket.remoteAddress ?? req.ip)) throw new AppError('ADDRESS_NOT_ALLOWED');
  });
}
