// CPU profile of the issue path: `node --import tsx bench/profile-issue.ts [seconds] [--no-profile]` starts `fapiao
// serve` from dist/ (run `npm run build` first) under `node --cpu-prof`, drives POST /v1/invoices with wrk (64
// connections) and stops the server; the profiles (main thread and each signer worker) are left in the printed
// directory, for Chrome DevTools or `node bench/profile-summary.mjs <file>`. It also prints the server's CPU time per
// issued invoice, all threads and the main thread alone (/proc/<pid>/stat and /proc/<pid>/task/<pid>/stat, over the
// wrk run); `--no-profile` runs without the profiler, whose sampling costs CPU of its own.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer } from '../test/helpers/spawn-server.ts';
import { sampleInvoice } from '../test/helpers/test-app.ts';
import { processCpuMs, threadCpuMs } from './ceilings.ts';

const args = process.argv.slice(2);
const profile = !args.includes('--no-profile');
const seconds = Number(args.find((a) => /^[0-9.]+$/.test(a)) ?? 10);
const dataDir = mkdtempSync(join(tmpdir(), 'fapiao-prof-'));
const profDir = mkdtempSync(join(tmpdir(), 'fapiao-cpuprof-'));
const server = await spawnServer(dataDir, {
  FAPIAO_RUN: 'dist', NODE_OPTIONS: '', FAPIAO_SIGNER_THREADS: '2', FAPIAO_TENANT_RATE_PER_MINUTE: '100000000',
}, 120_000, profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []);
try {
  const lua = join(profDir, 'issue.lua');
  const q = (s: string) => JSON.stringify(s);
  writeFileSync(lua, `wrk.method = "POST"\nwrk.body = ${q(JSON.stringify(sampleInvoice()))}\nwrk.headers["Authorization"] = ${q(`Bearer ${server.demoKey}`)}\nwrk.headers["Content-Type"] = "application/json"\nlocal n = 0\nrequest = function()\n  n = n + 1\n  wrk.headers["Idempotency-Key"] = "p-" .. os.time() .. "-" .. n\n  return wrk.format()\nend\n`);
  const pid = server.proc.pid!;
  const cpu0 = processCpuMs(pid);
  const main0 = threadCpuMs(pid);
  // Not execFileSync: this process must keep reading the server's output, or a full pipe blocks the server's logger.
  const { stdout: out } = await promisify(execFile)('wrk', ['-t1', '-c64', `-d${seconds}s`, '--latency', '-s', lua, `${server.url}/v1/invoices`], { encoding: 'utf8' });
  const cpu1 = processCpuMs(pid);
  const main1 = threadCpuMs(pid);
  console.log(out);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const failed = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const issued = requests - failed;
  if (issued > 0 && cpu0 !== undefined && cpu1 !== undefined && main0 !== undefined && main1 !== undefined) {
    const ms = (x: number) => Math.round((x / issued) * 1000) / 1000;
    console.log(`issued ${issued} (${Math.round(issued / seconds)}/s); server CPU per invoice: ${ms(cpu1 - cpu0)} ms all threads, ` +
      `${ms(main1 - main0)} ms main thread${profile ? ' (under the profiler)' : ''}`);
  }
} finally {
  await server.stop('SIGTERM');
  await server.agent.close();
  rmSync(dataDir, { recursive: true, force: true });
}
console.log(`profiles in ${profDir}:\n${readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).join('\n')}`);
