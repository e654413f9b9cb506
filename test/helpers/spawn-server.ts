// Starts `fapiao serve` as a real process on free ports and finds its URL from the `listening` log line.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from 'undici';

export interface Spawned {
  proc: ChildProcess;
  url: string;
  /** URL of every listener by name, from the `listening` lines. */
  urls: Map<string, string>;
  demoKey: string | undefined;
  agent: Agent;
  output: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const BIN = new URL('../../bin/fapiao.js', import.meta.url).pathname;

export function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { FAPIAO_RUN: 'src', ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `nodeArgs` go before the script, e.g. `--cpu-prof` (which NODE_OPTIONS does not accept). */
export function spawnServer(dataDir: string, env: Record<string, string> = {}, timeoutMs = 30_000, nodeArgs: string[] = []): Promise<Spawned> {
  const proc = spawn(process.execPath, [...nodeArgs, BIN, 'serve'], {
    env: {
      // The suite tests the sources (through tsx) even where a build exists; test/e2e/dist-start.test.ts runs dist.
      FAPIAO_RUN: 'src', ...process.env, FAPIAO_DATA_DIR: dataDir, FAPIAO_SIGNER_THREADS: '1',
      FAPIAO_LISTEN_API: '127.0.0.1:0', FAPIAO_LISTEN_PARTNER: '127.0.0.1:0', FAPIAO_LISTEN_ADMIN: '127.0.0.1:0', FAPIAO_LISTEN_METRICS: '127.0.0.1:0', FAPIAO_LISTEN_REDIRECT: '127.0.0.1:0',
      FAPIAO_LISTEN_PUSH: '127.0.0.1:0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let demoKey: string | undefined;
  const urls = new Map<string, string>();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start:\n${output.join('\n')}`));
    }, timeoutMs);
    proc.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output.join('\n')}`));
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      output.push(line);
      const m = /^demo API key (\S+)/.exec(line);
      if (m) demoKey = m[1];
      if (!line.startsWith('{')) return;
      const rec = JSON.parse(line) as { message?: string; listener?: string; url?: string };
      if (rec.message === 'listening' && rec.listener && rec.url) urls.set(rec.listener, rec.url);
      if (rec.message === 'ready') {
        const url = urls.get('api');
        if (!url) return;
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        const agent = new Agent({ connect: { ca: readFileSync(join(dataDir, 'tls', 'ca.pem')), servername: 'localhost' } });
        resolve({
          proc, url, urls, demoKey, agent, output,
          stop: (signal = 'SIGTERM') =>
            new Promise((res) => {
              if (proc.exitCode !== null) return res(proc.exitCode);
              proc.once('exit', (code) => res(code));
              proc.kill(signal);
            }),
        });
      }
    });
  });
}
