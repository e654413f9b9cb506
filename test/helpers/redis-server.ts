// A redis-server of the test's own on a free loopback port, so a test can kill it and start it again on the same port
// without disturbing the machine's Redis. Nothing is persisted (`--save ""`, no AOF): a restart starts empty, like a
// Redis lost and replaced.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Why the suite is skipped, or false when redis-server can be run. */
export function redisServerSkipReason(): string | false {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const reason = 'redis-server is not installed (Debian: apt-get install redis-server): Redis outage suite skipped';
    if (process.env.CI) throw new Error(`${reason} (CI must not skip)`);
    return reason;
  }
  return false;
}

/** Ports this process handed out: the system may offer a port again once it is closed, to a second caller here. */
const handedOut = new Set<number>();

export async function freeLoopbackPort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const addr = s.address();
        s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export interface OwnRedis {
  port: number;
  url: string;
  /** Starts redis-server (again) on the port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGKILL, as a crash or a lost host would: no goodbye to the clients. */
  kill(): Promise<void>;
}

/** `args` are added to redis-server's, e.g. `['--replicaof', '127.0.0.1', port]` for a replica. */
export async function ownRedis(args: string[] = []): Promise<OwnRedis> {
  const port = await freeLoopbackPort();
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-redis-'));
  // Kept across kill() and start() (a restart on the same port); gone with the test process.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  let proc: ChildProcess | undefined;
  const self: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    start() {
      return new Promise((resolve, reject) => {
        // Its own directory: a replica writes the master's snapshot there during a sync (not in the working directory).
        const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        proc = p;
        const output: string[] = [];
        const timer = setTimeout(() => {
          p.kill('SIGKILL');
          reject(new Error(`redis-server did not start:\n${output.join('\n')}`));
        }, 15_000);
        p.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`redis-server exited with ${code}:\n${output.join('\n')}`));
        });
        createInterface({ input: p.stdout }).on('line', (line) => {
          output.push(line);
          if (line.includes('Ready to accept connections')) {
            clearTimeout(timer);
            p.removeAllListeners('exit');
            resolve();
          }
        });
        p.stderr.on('data', (d: Buffer) => output.push(d.toString()));
      });
    },
    kill() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
      return new Promise((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      });
    },
  };
  return self;
}

export interface OwnSentinel {
  port: number;
  masterName: string;
  /** The `redis-sentinel://` URL naming this Sentinel and its master. */
  url: string;
  kill(): Promise<void>;
}

/**
 * A Redis Sentinel of the test's own (`redis-server <file> --sentinel`, the file in a temporary directory: Sentinel
 * rewrites it) watching the Redis at 127.0.0.1:`masterPort`; resolves once it names that master.
 */
export async function ownSentinel(masterPort: number, masterName = 'fapiao'): Promise<OwnSentinel> {
  const port = await freeLoopbackPort();
  const dir = mkdtempSync(join(tmpdir(), 'fapiao-sentinel-'));
  const file = join(dir, 'sentinel.conf');
  writeFileSync(file, [
    `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
    `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 1`,
    `sentinel down-after-milliseconds ${masterName} 1000`,
    `sentinel failover-timeout ${masterName} 5000`, '',
  ].join('\n'));
  const p = spawn('redis-server', [file, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  p.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  p.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  const kill = () => new Promise<void>((resolve) => {
    rmSync(dir, { recursive: true, force: true });
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
  for (let i = 0; ; i++) {
    if (p.exitCode !== null) throw new Error(`redis-sentinel exited with ${p.exitCode}:\n${output.join('')}`);
    if (output.join('').includes(`+monitor master ${masterName}`)) break;
    if (i > 150) {
      await kill();
      throw new Error(`redis-sentinel did not start:\n${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, masterName, url: `redis-sentinel://127.0.0.1:${port}/${masterName}`, kill };
}
