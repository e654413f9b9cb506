// FAPIAO_REDIS_URL as ioredis options: `redis://` or `rediss://` (one server), or
// `redis-sentinel://[[user]:password@]host:port[,host:port…]/master` (the Sentinels to ask, and the name of the master
// they watch). With Sentinel, ioredis asks the Sentinels for the master's address, connects there, and on a failover
// (the master lost, a replica promoted) asks again and reconnects to the new master. The user and password, if any,
// are those of the Redis servers; the Sentinels are asked without.
const SENTINEL_URL = /^redis-sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/@]+)\/([^/?#]+)\/?$/;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/;

export interface SentinelTarget {
  sentinels: { host: string; port: number }[];
  name: string;
  username?: string;
  password?: string;
}

/** The Sentinels and master of a `redis-sentinel://` URL; undefined for any other scheme; throws when malformed. */
export function parseSentinelUrl(url: string): SentinelTarget | undefined {
  if (!url.startsWith('redis-sentinel://')) return undefined;
  const m = SENTINEL_URL.exec(url);
  if (!m) throw new RangeError('expected redis-sentinel://[[user]:password@]host:port[,host:port…]/master');
  const [, user, password, hosts, name] = m as unknown as [string, string | undefined, string | undefined, string, string];
  const sentinels = hosts.split(',').map((hp) => {
    const h = HOST_PORT.exec(hp);
    const port = h ? Number(h[2]) : NaN;
    if (!h || port < 1 || port > 65_535) throw new RangeError(`redis-sentinel URL: "${hp}" is not host:port`);
    return { host: h[1]!.replace(/^\[(.*)\]$/, '$1'), port };
  });
  return {
    sentinels, name: decodeURIComponent(name),
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
  };
}
