// A redis-server of the test's own on a free loopback port, so a test can kill it and start it again on the same port
// without disturbing the machine's Redis. Nothing is persisted (`--save ""`, no AOF): a restart starts empty, like a
// Redis lost and replaced.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
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

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface OwnRedis {
  port: number;
  url: string;
  /** Starts redis-server (again) on the port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** SIGKILL, as a crash or a lost host would: no goodbye to the clients. */
  kill(): Promise<void>;
}

export async function ownRedis(): Promise<OwnRedis> {
  const port = await freeLoopbackPort();
  let proc: ChildProcess | undefined;
  const self: OwnRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    start() {
      return new Promise((resolve, reject) => {
        const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
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
