// Debian's HAProxy run by a test: `haproxy -c` checks a configuration, then `haproxy -db` runs it in the foreground
// until the test stops it. The configurations under deploy/haproxy/ take their addresses from environment variables
// (HAProxy expands "${NAME}" in double-quoted words), so the test runs the shipped file itself, not a copy of it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Why a suite needing HAProxy is skipped, or false; under CI=true a missing HAProxy throws instead. */
export function haproxySkipReason(what: string): string | false {
  const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const reason = `haproxy is not installed (Debian: apt-get install haproxy): ${what} skipped`;
    if (process.env.CI) throw new Error(`${reason} (CI must not skip)`);
    return reason;
  }
  return false;
}

/** `haproxy -c -f file` with `env`: the exit status and what it printed. */
export function checkHaproxyConfig(file: string, env: Record<string, string>): { status: number | null; output: string } {
  const r = spawnSync('haproxy', ['-c', '-f', file], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export interface RunningHaproxy {
  proc: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

/** Starts HAProxy on `file`; resolves once `port` (one of its frontends) accepts TCP connections. */
export async function startHaproxy(file: string, env: Record<string, string>, port: number): Promise<RunningHaproxy> {
  const proc = spawn('haproxy', ['-db', '-f', file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  proc.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  proc.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  const self: RunningHaproxy = {
    proc, output,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`haproxy exited with ${proc.exitCode}:\n${output.join('')}`);
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (open) return self;
    if (i > 100) {
      await self.stop();
      throw new Error(`haproxy did not listen on ${port}:\n${output.join('')}`);
    }
    await sleep(100);
  }
}
